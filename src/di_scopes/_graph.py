"""The fast path's injection, in pure Python: the twin of the last section of ``_scope_c.pyx``.

``di_scopes.fastapi.inject`` gives exactly what dependency-injector's ``@inject`` gives, with
less work for ``Factory`` graphs over asynchronous providers. Once an injection of a ``Factory``
is a future or a coroutine, dependency-injector combines the injections with ``asyncio.gather``,
done-callbacks and ``ensure_future``: several event-loop turns per ``Factory``, even when every
future is already done, as a scope's instances are. ``provide`` builds such a graph itself: a
done future's result is taken at once, and only what is still pending is awaited, together.

Everything else is dependency-injector's own: the injections are read from the providers at each
call; a provider that is overridden, is not a plain ``Factory``, or is latched to sync mode is
simply called; and each ``Factory`` built here is left in the async mode a call of it would have
left it in (a ``Factory`` is asynchronous when an injection's provider is, even if the instance
that provider gave was built here at once).
"""

from __future__ import annotations

import asyncio
from asyncio import Future
from inspect import isawaitable
from types import GeneratorType
from typing import Any, Dict, List, Optional, Set, Tuple

from dependency_injector import providers, wiring

from ._common import DoneFuture

__all__ = ["await_pending", "inject_into", "inject_sync", "provide"]

_Factory = providers.Factory
_is_provider = providers.is_provider
_is_delegated = providers.is_delegated
# What dependency-injector's @inject injects over when the caller passed it: its markers.
_MARKERS: Tuple[type, ...] = tuple(getattr(wiring, name) for name in ("Provide", "Provider", "Closing"))


def provide(provider: Any) -> Any:
    """``provider()``, with a ``Factory`` graph that has asynchronous injections built here.

    Returns the value, or an awaitable for it when something it needs is still pending (a
    ``DoneFuture`` or a ``Future`` that is done counts as a value: the caller may take its result).
    """
    if _builds(provider):
        return _build(provider)
    return provider()


def _builds(provider: Any) -> bool:
    """Whether the fast path builds ``provider`` itself: a plain ``Factory``, not overridden,
    not latched to sync mode (then dependency-injector's call is as fast)."""
    return (
        provider.__class__ is _Factory
        and not provider.is_async_mode_disabled()
        and provider.last_overriding is None
    )


# What a pending injection is: (the list or dict holding it, its index or name, whether it is
# the fast path's own build, which may be awaited in the caller's task).
_Slot = Tuple[Any, Any, bool]

# Classes whose instances are never futures or coroutines: dependency-injector's test below
# is a hasattr and two isinstance checks against ABCs; most injected values are of a few classes.
_plain_classes: Set[type] = set()


def _is_future_or_coroutine(value: Any) -> bool:
    # dependency-injector's own test for an injection that must be awaited
    cls = value.__class__
    if cls is DoneFuture or cls is Future:
        return True
    if cls in _plain_classes:
        return False
    if asyncio.isfuture(value) or asyncio.iscoroutine(value):
        return True
    if not hasattr(cls, "_asyncio_future_blocking") and len(_plain_classes) < 256:
        _plain_classes.add(cls)
    return False


# Whether instances of a class are awaitable: inspect.isawaitable's answer, which for anything
# but a generator depends on the class alone; most injected values are of a few classes.
_awaitable_classes: Dict[type, bool] = {}


def _is_awaitable(value: Any) -> bool:
    cls = value.__class__
    known = _awaitable_classes.get(cls)
    if known is None:
        known = isawaitable(value)
        if cls is not GeneratorType and len(_awaitable_classes) < 256:
            _awaitable_classes[cls] = known
    return known


_NOT_DONE = object()


def _done_value(value: Any) -> Any:
    """The result of a future that finished with one, else _NOT_DONE (to be awaited: a failed
    future raises there, after every other injection was resolved, as in dependency-injector)."""
    if value.__class__ is DoneFuture:
        return value._value
    if value.__class__ is Future and value.done() and not value.cancelled() and value.exception() is None:
        return value.result()
    return _NOT_DONE


def _build(factory: Any) -> Any:
    state = _State()
    args = factory.args
    if args:
        args = list(args)
        for index, value in enumerate(args):
            if _is_provider(value) and not _is_delegated(value):
                args[index] = state.take(value, args, index)
    kwargs = factory.kwargs
    for name, value in kwargs.items():
        if _is_provider(value) and not _is_delegated(value):
            kwargs[name] = state.take(value, kwargs, name)
    attributes = factory.attributes
    for name, value in attributes.items():
        if _is_provider(value) and not _is_delegated(value):
            attributes[name] = state.take(value, attributes, name)
    provides = factory.provides
    if state.pending is not None:
        _latch(factory, True)
        return _build_when_ready(provides, args, kwargs, attributes, state.pending)
    instance = provides(*args, **kwargs)
    if _is_future_or_coroutine(instance):  # an async factory function
        _latch(factory, True)
        return _with_attributes(instance, attributes) if attributes else instance
    for name, value in attributes.items():
        setattr(instance, name, value)
    _latch(factory, state.asynchronous)
    return instance


class _State:
    """What resolving one Factory's injections found."""

    __slots__ = ("asynchronous", "pending")

    def __init__(self) -> None:
        self.asynchronous = False  # dependency-injector's Factory would have returned a future
        self.pending: Optional[List[_Slot]] = None

    def take(self, provider: Any, values: Any, key: Any) -> Any:
        """The injection's value: a done future's result; a pending one is noted for awaiting."""
        built = _builds(provider)
        value = _build(provider) if built else provider()
        if provider.is_async_mode_enabled():
            # Its call would have handed out a future, even where the instance was built here.
            self.asynchronous = True
        if not _is_future_or_coroutine(value):  # built here: the instance; else as dependency-injector sees it
            return value
        self.asynchronous = True
        done = _done_value(value)
        if done is not _NOT_DONE:
            return done
        if self.pending is None:
            self.pending = []
        self.pending.append((values, key, built))
        return value


def _latch(factory: Any, asynchronous: bool) -> None:
    if factory.is_async_mode_undefined():
        if asynchronous:
            factory.enable_async_mode()
        else:
            factory.disable_async_mode()


async def await_pending(values: Any, pending: List[_Slot]) -> Any:
    """Await the pending values in ``values`` (a list or dict) and put their results in place.

    Several are awaited together, with ``asyncio.gather``, as dependency-injector does. A lone
    future, or the fast path's own build, is awaited in the caller's task: a task of its own
    would give the same result a few event-loop turns later.
    """
    if len(pending) == 1:
        _, key, built = pending[0]
        value = values[key]
        if built or asyncio.isfuture(value):
            values[key] = await value
            return values
    results = await asyncio.gather(*[values[key] for _, key, _ in pending])
    for (_, key, _), result in zip(pending, results):
        values[key] = result
    return values


async def _build_when_ready(
    provides: Any, args: List[Any], kwargs: Dict[str, Any], attributes: Dict[str, Any], pending: List[_Slot]
) -> Any:
    if len(pending) == 1:
        values, key, built = pending[0]
        value = values[key]
        if built or asyncio.isfuture(value):
            values[key] = await value
        else:
            values[key] = (await asyncio.gather(value))[0]
    else:
        results = await asyncio.gather(*[values[key] for values, key, _ in pending])
        for (values, key, _), result in zip(pending, results):
            values[key] = result
    instance = provides(*args, **kwargs)
    if _is_future_or_coroutine(instance):
        instance = await instance
    for name, value in attributes.items():
        setattr(instance, name, value)
    return instance


async def _with_attributes(instance: Any, attributes: Dict[str, Any]) -> Any:
    instance = await instance
    for name, value in attributes.items():
        setattr(instance, name, value)
    return instance


def inject_into(injections: Dict[str, Any], kwargs: Dict[str, Any]) -> Optional[List[_Slot]]:
    """Resolve an async function's injections (name -> provider) into ``kwargs``, as
    dependency-injector's ``@inject`` does, building ``Factory`` graphs here.

    A name is injected unless the caller passed it (a marker passed counts as not passed). Every
    provider is called first; then what ``@inject`` would await must still be awaited, except a
    done future, whose result is taken at once. Returns the pending names, as
    ``await_pending(kwargs, pending)`` takes them, or None.
    """
    pending: Optional[List[_Slot]] = None
    for name, provider in injections.items():
        if name in kwargs and not isinstance(kwargs[name], _MARKERS):
            continue
        if _builds(provider):
            value = _build(provider)
            built = True
            awaited = _is_future_or_coroutine(value)  # still pending; else the instance itself
        else:
            value = provider()
            built = False
            awaited = provider.is_async_mode_enabled() or _is_awaitable(value)
        if awaited:
            done = _done_value(value)
            if done is _NOT_DONE:
                if pending is None:
                    pending = []
                pending.append((kwargs, name, built))
            else:
                value = done
        kwargs[name] = value
    return pending


def inject_sync(injections: Dict[str, Any], kwargs: Dict[str, Any]) -> None:
    """Resolve a sync function's injections into ``kwargs``, as dependency-injector's
    ``@inject`` does: each provider called, its value passed as it is."""
    for name, provider in injections.items():
        if name in kwargs and not isinstance(kwargs[name], _MARKERS):
            continue
        kwargs[name] = provider()
