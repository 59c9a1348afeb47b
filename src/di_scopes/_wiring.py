"""What di-scopes reads of dependency-injector's wiring: the record of a decorated function.

``di_scopes.fastapi.inject`` and the scope decorator hand a function's ``Provide[...]`` markers
to dependency-injector's own ``@inject``, which records them (and, once ``wire()`` ran, the
providers bound to them) in its private ``wiring._patched_registry``. The record has had this shape
from 4.45 to 4.49 at least; should a release change it, these functions raise a ``RuntimeError``
that names the release and the way around, rather than misbehave.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

from dependency_injector import wiring

__all__ = ["binding", "inject_inside", "visible_signature"]

_BINDING_FIELDS = ("injections", "reference_injections", "closing", "reference_closing")


def _record(patched: Any) -> Any:
    registry = getattr(wiring, "_patched_registry", None)
    get_callable = getattr(registry, "get_callable", None)
    return get_callable(patched) if callable(get_callable) else None


def binding(patched: Any, fn: Any, who: str, instead: str) -> Any:
    """dependency-injector's record of ``fn``'s markers (``patched`` is what its ``@inject``
    made of ``fn``), or a clear error naming ``who`` reads it and what to use ``instead``."""
    record = _record(patched)
    if record is None or not all(isinstance(getattr(record, name, None), dict) for name in _BINDING_FIELDS):
        from importlib.metadata import version

        raise RuntimeError(
            f"{who} cannot read how dependency-injector {version('dependency-injector')} records "
            f"the markers of {fn.__qualname__}: it reads dependency-injector's wiring registry "
            f"(wiring._patched_registry), which this release changed. {instead}"
        )
    return record


def inject_inside(fn: Callable[..., Any], who: str, instead: str) -> tuple[Callable[..., Any] | None, Any]:
    """dependency-injector's ``@inject`` of ``fn`` and its record, or ``(None, None)`` when ``fn``
    has no markers. A function that ``@inject`` made already is taken as it is."""
    if _record(fn) is not None:  # decorated with dependency-injector's @inject already
        return fn, binding(fn, fn, who, instead)
    with warnings.catch_warnings():
        # "@inject is not required here": asking is how markers are found
        warnings.simplefilter("ignore", RuntimeWarning)
        patched = wiring.inject(fn)
    if patched is fn:
        return None, None
    return patched, binding(patched, fn, who, instead)


def visible_signature(fn: Callable[..., Any], hidden: set[str]) -> inspect.Signature:
    """``fn``'s signature without the parameters in ``hidden`` (the injected ones)."""
    signature = inspect.signature(fn)
    return signature.replace(parameters=[p for name, p in signature.parameters.items() if name not in hidden])
