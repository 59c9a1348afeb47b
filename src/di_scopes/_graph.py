"""Resolving dependency-injector ``Factory`` graphs over asynchronous providers, for the fast path.

Once an injection of a ``Factory`` is a future or a coroutine, dependency-injector combines the
injections with ``asyncio.gather``, done-callbacks and ``ensure_future``: several event-loop
turns per ``Factory``, even when every future is already done, as a scope's instances are.
``provide`` builds such a graph itself: a done future's result is taken at once, and only what
is still pending is awaited, together. Everything else is dependency-injector's own: the
injections are read from the providers at each call, a provider that is overridden, is not a
plain ``Factory``, or is latched to sync mode is simply called, and each ``Factory`` latches its
async mode as a call of it would have.
"""

from __future__ import annotations

import asyncio
from asyncio import Future
from inspect import isawaitable
from types import GeneratorType
from typing import Any, Dict, List, Optional, Set, Tuple

from dependency_injector import providers

from ._common import DoneFuture

__all__ = ["inject_into", "provide"]

_Factory = providers.Factory
_is_provider = providers.is_provider
_is_delegated = providers.is_delegated


def provide(provider: Any) -> Any:
    """``provider()``, with a ``Factory`` graph that has asynchronous injections built here.

    Returns the value, or an awaitable for it when something it needs is still pending (a
    ``DoneFuture`` or a ``Future`` that is done counts as a value: the caller may take its result).
    """
    if (
        provider.__class__ is not _Factory
        or provider.is_async_mode_disabled()
        or provider.last_overriding is not None
    ):
        return provider()
    return _build(provider)


# What a pending injection is: (the list or dict holding it, its index or name).
_Slot = Tuple[Any, Any]

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


def _build(factory: Any) -> Any:
    state = _State()
    args = factory.args
    if args:
        args = list(args)
        for index, value in enumerate(args):
            if _is_provider(value) and not _is_delegated(value):
                args[index] = state.take(provide(value), args, index)
    kwargs = factory.kwargs
    for name, value in kwargs.items():
        if _is_provider(value) and not _is_delegated(value):
            kwargs[name] = state.take(provide(value), kwargs, name)
    attributes = factory.attributes
    for name, value in attributes.items():
        if _is_provider(value) and not _is_delegated(value):
            attributes[name] = state.take(provide(value), attributes, name)
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
    _latch(factory, state.awaited)
    return instance


class _State:
    """What resolving one Factory's injections found."""

    __slots__ = ("awaited", "pending")

    def __init__(self) -> None:
        self.awaited = False  # dependency-injector's Factory would have returned a future
        self.pending: Optional[List[_Slot]] = None

    def take(self, value: Any, values: Any, key: Any) -> Any:
        """The injection's value: a done future's result; a pending one is noted for awaiting."""
        if _is_future_or_coroutine(value):
            self.awaited = True
            if value.__class__ is DoneFuture:
                return value._value
            if value.__class__ is Future and value.done():
                return value.result()
            if self.pending is None:
                self.pending = []
            self.pending.append((values, key))
        return value


def _latch(factory: Any, asynchronous: bool) -> None:
    if factory.is_async_mode_undefined():
        if asynchronous:
            factory.enable_async_mode()
        else:
            factory.disable_async_mode()


async def _build_when_ready(
    provides: Any, args: List[Any], kwargs: Dict[str, Any], attributes: Dict[str, Any], pending: List[_Slot]
) -> Any:
    if len(pending) == 1:
        values, key = pending[0]
        values[key] = await values[key]
    else:
        results = await asyncio.gather(*(values[key] for values, key in pending))
        for (values, key), result in zip(pending, results):
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


def inject_into(injections: Dict[str, Any], kwargs: Dict[str, Any]) -> Optional[List[str]]:
    """Resolve the fast path's injections (name -> provider) into ``kwargs``, skipping names
    the caller passed; a done future's result is taken at once. Returns the names whose values
    must still be awaited (what ``inspect.isawaitable`` accepts, as dependency-injector's
    ``@inject`` awaits), or None."""
    pending = None
    for name, provider in injections.items():
        if name in kwargs:
            continue
        value = provide(provider)
        if value.__class__ is DoneFuture:
            value = value._value
        elif value.__class__ is Future and value.done():
            value = value.result()
        elif _is_awaitable(value):
            if pending is None:
                pending = []
            pending.append(name)
        kwargs[name] = value
    return pending
