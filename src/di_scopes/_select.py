"""Which twin is active: chosen once, at import, and asked for with ``active()``.

The compiled twin (``_scope_c``) is used where it was built and matches the installed
dependency-injector; the pure-Python twin (``_scope_py``) otherwise, or when
``DI_SCOPES_NO_EXTENSIONS`` is set. The integrations and ``validate()`` ask ``active()`` for the
twin whose scopes they open, rather than importing the package from below; the tests replace
``_active`` to run an integration on either twin.
"""

from __future__ import annotations

import os
import platform
import warnings
from types import ModuleType

__all__ = ["active", "extensions_disabled"]


def extensions_disabled() -> bool:
    """Whether ``DI_SCOPES_NO_EXTENSIONS`` asks for the pure-Python twin."""
    return os.environ.get("DI_SCOPES_NO_EXTENSIONS", "") not in ("", "0")


def _mismatch_warning(error: ValueError) -> str:
    from importlib.metadata import version

    return (
        f"di_scopes: the compiled twin was built for another layout of dependency-injector's "
        f"providers than dependency-injector {version('dependency-injector')}'s ({error}). "
        "di-scopes runs on its pure-Python twin instead: the same behaviour, at about four times "
        "the instructions per request. Rebuild di-scopes against this dependency-injector "
        "(pip install --force-reinstall --no-cache-dir --no-binary di-scopes di-scopes), or install "
        "a dependency-injector release that a di-scopes wheel supports (pip install -U di-scopes "
        "'dependency-injector>=4.45,<4.50')."
    )


def _choose() -> ModuleType:
    if not extensions_disabled() and platform.python_implementation() == "CPython":
        try:
            from . import _scope_c

            return _scope_c
        except ImportError:  # not built: a pure install, or a build without a compiler
            pass
        except ValueError as error:  # built against a dependency-injector with another layout
            warnings.warn(_mismatch_warning(error), RuntimeWarning, stacklevel=2)
    from . import _scope_py

    return _scope_py


_active: ModuleType = _choose()


def active() -> ModuleType:
    """The module of the twin in use: ``di_scopes._scope_c`` or ``di_scopes._scope_py``."""
    return _active
