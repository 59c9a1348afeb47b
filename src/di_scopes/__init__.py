"""Request scopes for dependency-injector: one instance per scope, torn down when the scope ends.

``ContextLocalSingleton`` and ``ContextLocalResource`` are drop-in replacements for
dependency-injector's providers of the same names. Their instances live in the current
``scope()``: shared by everything resolved in it, threads and tasks of that scope included, and
torn down in reverse creation order, with the scope's exception thrown in, when it ends.

``IMPLEMENTATION`` tells which twin is in use: ``"cython"`` (compiled) or ``"python"``. Setting
``DI_SCOPES_NO_EXTENSIONS=1`` before the import selects the pure-Python twin.
"""

from __future__ import annotations

import os
import platform
import warnings
from typing import TYPE_CHECKING

from ._common import APP, DEFAULT_SCOPE_NAME, REQUEST, TASK, ClientDisconnected, ErrorResponse, ScopeError
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


def _extensions_disabled() -> bool:
    return os.environ.get("DI_SCOPES_NO_EXTENSIONS", "") not in ("", "0")


if TYPE_CHECKING:
    from . import _scope_py as _twin
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
    _twin = None
    if not _extensions_disabled() and platform.python_implementation() == "CPython":
        try:
            from . import _scope_c as _twin
        except ImportError:  # not built: a pure install, or a build without a compiler
            pass
        except ValueError as error:  # built against a dependency-injector with another layout
            warnings.warn(
                f"di_scopes: the compiled twin does not match the installed dependency-injector "
                f"({error}); using the pure-Python twin. Reinstall di-scopes to rebuild it.",
                RuntimeWarning,
                stacklevel=2,
            )
    if _twin is None:
        from . import _scope_py as _twin
    IMPLEMENTATION = "cython" if _twin.__name__.endswith("_scope_c") else "python"
    ContextLocalResource = _twin.ContextLocalResource
    ContextLocalSingleton = _twin.ContextLocalSingleton
    DoneFuture = _twin.DoneFuture
    Scope = _twin.Scope
    ScopeValue = _twin.ScopeValue
    current_scope = _twin.current_scope
    scope = _twin.scope
