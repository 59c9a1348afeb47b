"""Request scopes for dependency-injector: one instance per scope, torn down when the scope ends.

``ContextLocalSingleton`` and ``ContextLocalResource`` are drop-in replacements for
dependency-injector's providers of the same names. Their instances live in the current
``scope()``: shared by everything resolved in it, threads and tasks of that scope included, and
torn down in reverse creation order, with the scope's exception thrown in, when it ends.

``IMPLEMENTATION`` tells which twin is in use: ``"cython"`` (compiled) or ``"python"``. Setting
``DI_SCOPES_NO_EXTENSIONS=1`` before the import selects the pure-Python twin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._errors import ClientDisconnected, ErrorResponse, NonCopyableArgumentError, ScopeError
from ._integration_core import APP, REQUEST, TASK
from ._shared import DEFAULT_SCOPE_NAME
from ._validate import validate

__all__ = [
    "APP",
    "ClientDisconnected",
    "ContextLocalResource",
    "ContextLocalSingleton",
    "DEFAULT_SCOPE_NAME",
    "DoneFuture",
    "ErrorResponse",
    "IMPLEMENTATION",
    "NonCopyableArgumentError",
    "REQUEST",
    "Scope",
    "ScopeError",
    "ScopeValue",
    "TASK",
    "current_scope",
    "scope",
    "validate",
]

__version__ = "0.1.0"

IMPLEMENTATION: str

if TYPE_CHECKING:
    from ._scope_py import (
        ContextLocalResource,
        ContextLocalSingleton,
        DoneFuture,
        Scope,
        ScopeValue,
        current_scope,
        scope,
    )

    IMPLEMENTATION = "python"
else:
    from ._select import active as _active

    _twin = _active()
    IMPLEMENTATION = "cython" if _twin.__name__.endswith("_scope_c") else "python"
    ContextLocalResource = _twin.ContextLocalResource
    ContextLocalSingleton = _twin.ContextLocalSingleton
    DoneFuture = _twin.DoneFuture
    Scope = _twin.Scope
    ScopeValue = _twin.ScopeValue
    current_scope = _twin.current_scope
    scope = _twin.scope
    del _twin, _active
