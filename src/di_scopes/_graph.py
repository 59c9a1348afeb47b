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
from typing import Any, Dict, List, Optional, Tuple

from dependency_injector import providers

__all__ = ["provide"]

_Factory = providers.Factory
_is_provider = providers.is_provider
_is_delegated = providers.is_delegated


def provide(provider: Any) -> Any:
    """``provider()``, with a ``Factory`` graph that has asynchronous injections built here.

    Returns the value, or an awaitable for it when something it needs is still pending (a
    ``Future`` that is done counts as a value: the caller may take its result).
    """
    if (
        provider.__class__ is not _Factory
        or provider.is_async_mode_disabled()
        or provider.last_overriding is not None
    ):
        return provider()
    return _build(provider)


def _is_future_or_coroutine(value: Any) -> bool:
    # dependency-injector's own test for an injection that must be awaited
    return value.__class__ is Future or asyncio.isfuture(value) or asyncio.iscoroutine(value)


# What a pending injection is: (the list or dict holding it, its index or name).
_Slot = Tuple[Any, Any]


def _build(factory: Any) -> Any:
    awaited = False  # dependency-injector's Factory would have returned a future
    pending: Optional[List[_Slot]] = None
    args = list(factory.args)
    kwargs = factory.kwargs
    attributes = factory.attributes
    for values, keys in ((args, range(len(args))), (kwargs, list(kwargs)), (attributes, list(attributes))):
        for key in keys:
            value = values[key]
            if not _is_provider(value) or _is_delegated(value):
                continue
            value = values[key] = provide(value)
            if _is_future_or_coroutine(value):
                awaited = True
                if value.__class__ is Future and value.done():
                    values[key] = value.result()
                else:
                    if pending is None:
                        pending = []
                    pending.append((values, key))
    if pending is not None:
        _latch(factory, True)
        return _build_when_ready(factory, args, kwargs, attributes, pending)
    instance = factory.provides(*args, **kwargs)
    if _is_future_or_coroutine(instance):  # an async factory function
        _latch(factory, True)
        return _with_attributes(instance, attributes) if attributes else instance
    for name, value in attributes.items():
        setattr(instance, name, value)
    _latch(factory, awaited)
    return instance


def _latch(factory: Any, asynchronous: bool) -> None:
    if factory.is_async_mode_undefined():
        if asynchronous:
            factory.enable_async_mode()
        else:
            factory.disable_async_mode()


async def _build_when_ready(
    factory: Any, args: List[Any], kwargs: Dict[str, Any], attributes: Dict[str, Any], pending: List[_Slot]
) -> Any:
    if len(pending) == 1:
        values, key = pending[0]
        values[key] = await values[key]
    else:
        results = await asyncio.gather(*(values[key] for values, key in pending))
        for (values, key), result in zip(pending, results):
            values[key] = result
    instance = factory.provides(*args, **kwargs)
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
