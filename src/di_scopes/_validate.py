"""``validate(container)``: find, at startup, the mistakes that scopes cannot report at resolve time."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from dependency_injector import providers

from . import _select
from ._errors import ScopeError, describe, problems_message
from ._shared import opened_scope_names
from .sqlalchemy import scoped_session_message

__all__ = ["validate"]

# Providers whose instance outlives any scope. dependency-injector's own ContextLocal* providers
# are left out: they follow the contextvars context, not a scope.
_LONG_LIVED: tuple[type, ...] = (
    providers.Singleton,
    providers.ThreadSafeSingleton,
    providers.ThreadLocalSingleton,
    providers.Resource,
)
_SCOPE_FREE: tuple[type, ...] = tuple(
    cls
    for cls in (getattr(providers, "ContextLocalSingleton", None), getattr(providers, "ContextLocalResource", None))
    if cls is not None
)


def _scoped_types() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """The scoped provider types and the ScopeValue types of the twins imported so far: the active
    one, and the other if something imported it (a test, or code that picked a twin itself)."""
    twins: list[Any] = [_select.active()]
    for name in ("di_scopes._scope_c", "di_scopes._scope_py"):
        twin = sys.modules.get(name)
        if twin is not None and twin not in twins and hasattr(twin, "ScopeValue"):
            twins.append(twin)
    return tuple(t._ScopedProvider for t in twins), tuple(t.ScopeValue for t in twins)


def _names(container: Any, prefix: str = "", names: dict[int, str] | None = None) -> dict[int, str]:
    """id(provider) -> its attribute path in ``container`` (``sub.session`` for nested containers)."""
    if names is None:
        names = {}
    for name, provider in container.providers.items():
        names.setdefault(id(provider), prefix + name)
        if isinstance(provider, providers.Container):
            _names(provider.container, f"{prefix}{name}.", names)
    return names


def validate(container: Any, *, scopes: Iterable[str] | None = None) -> None:
    """Check ``container`` (a container class or instance) for scope mistakes; raise
    ``ScopeError`` naming every one found. Cheap enough to call at startup.

    - A captive dependency: a ``Singleton``, ``ThreadSafeSingleton``, ``ThreadLocalSingleton`` or
      ``Resource`` that depends on a scoped provider (``ContextLocalSingleton``,
      ``ContextLocalResource``, ``ScopeValue``), directly or through ``Factory``, ``Callable``,
      ``.provided`` and other providers. It would keep the first scope's instance for every later
      scope. Injecting ``.provider`` (a ``Delegate``) is fine: it is resolved when called.
    - A provider bound with ``.in_scope(name)`` to a name that nothing opens: no integration
      built so far, no function decorated with ``di_scopes.scope(name)``, and none of ``scopes``
      (the names your code opens with ``with di_scopes.scope(name):``). Checked only when one of
      those sources names a scope, since a ``with`` block cannot be seen from here.
    - dependency-injector's own ``providers.ContextLocalResource``, left by an import not
      changed: scopes do not tear it down, so its instances leak until garbage collection.
    """
    scoped_types, value_types = _scoped_types()
    every_scoped = scoped_types + value_types
    names = _names(container)
    everything: list[Any] = list(container.traverse())
    problems: list[str] = []

    def called(provider: Any) -> str:
        name = names.get(id(provider))
        return describe_named(provider, name)

    for provider in everything:
        if isinstance(provider, _LONG_LIVED) and not isinstance(provider, _SCOPE_FREE):
            for path in _captive_paths(provider, every_scoped):
                target = path[-1]
                route = " -> ".join(names.get(id(p)) or describe(p) for p in path)
                holder = names.get(id(provider)) or describe(provider)
                problems.append(
                    f"captive dependency: {called(provider)} depends on {called(target)} "
                    f"(path: {route}). {holder} outlives the scope, so it would keep the first "
                    f"scope's instance for every later scope. Make {holder} a providers.Factory or "
                    "a di_scopes.ContextLocalSingleton, or inject `.provider` and call it per use."
                )

    for provider in everything:
        if isinstance(provider, scoped_types):
            helper: Any = getattr(provider, "provides", None)
            for given in _scoped_session_factories(provider):
                problems.append(f"{called(provider)}: " + scoped_session_message(helper.__name__, given))

    di_resource = getattr(providers, "ContextLocalResource", None)
    for provider in everything:
        if di_resource is not None and isinstance(provider, di_resource):
            problems.append(
                f"{called(provider)} is dependency-injector's own providers.ContextLocalResource: "
                "di-scopes' scopes do not tear it down, so every request's instance stays open "
                "until the garbage collector finds it (only a Closing[...] marker or .shutdown() "
                "in the context that created it closes it). Use di_scopes.ContextLocalResource "
                "(change the import)."
            )

    known: set[str] = set(opened_scope_names)
    if scopes is not None:
        known.update(scopes)
    if known:
        for provider in everything:
            if isinstance(provider, scoped_types):
                bound = getattr(provider, "scope_name", None)
                if bound is not None and bound not in known:
                    opened = ", ".join(repr(n) for n in sorted(known))
                    problems.append(
                        f"{called(provider)} is bound with .in_scope({bound!r}), but nothing opens a "
                        f"scope of that name (opened: {opened}). Fix the name, or, if code opens it "
                        f"with `with di_scopes.scope({bound!r}):`, pass scopes=[{bound!r}] to validate()."
                    )

    if problems:
        raise ScopeError(problems_message(problems))


def _scoped_session_factories(provider: Any) -> list[Any]:
    """What a resource of di_scopes.sqlalchemy's transaction or async_transaction is given that
    is (or gives) a scoped_session, which they refuse."""
    from . import sqlalchemy as sqlalchemy_helpers

    if provider.provides not in (sqlalchemy_helpers.transaction, sqlalchemy_helpers.async_transaction):
        return []
    found = []
    for value in (*provider.args, *provider.kwargs.values()):
        if isinstance(value, providers.Object):
            value = value.provides
        elif providers.is_provider(value):
            value = getattr(value, "provides", None)
        if sqlalchemy_helpers.is_scoped_session(value):
            found.append(value)
    return found


def describe_named(provider: Any, name: str | None) -> str:
    if name is None:
        return describe(provider)
    return f"{type(provider).__name__} `{name}` ({describe(provider)})"


def _captive_paths(start: Any, scoped: tuple[type, ...]) -> list[list[Any]]:
    """The paths from ``start`` to each scoped provider it resolves when it is created, through
    providers that do not cache (another long-lived provider on the way is reported itself)."""
    found: list[list[Any]] = []
    seen: set[int] = {id(start)}
    stack: list[tuple[Any, list[Any]]] = [(start, [start])]
    while stack:
        provider, path = stack.pop()
        for child in provider.related:
            if id(child) in seen or isinstance(child, providers.Delegate):
                continue
            seen.add(id(child))
            if isinstance(child, scoped):
                found.append(path + [child])
            elif not (isinstance(child, _LONG_LIVED) and not isinstance(child, _SCOPE_FREE)):
                stack.append((child, path + [child]))
    found.sort(key=len)
    return found
