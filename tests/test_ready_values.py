"""Awaiting what is already finished: a scope's ``__aenter__`` result and an async provider's
``DoneFuture``. Awaiting one hands its value over in a ``StopIteration`` (from CPython 3.12 on,
for any awaitable that is not a coroutine); the compiled twin reuses one ``StopIteration`` for
it while nobody else holds it. Whoever catches one keeps its value, and handing a value over
does not keep it alive."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest


class Thing:
    def __init__(self, name: str) -> None:
        self.name = name


async def thing(name: str):
    yield Thing(name)


def test_a_caught_stop_iteration_keeps_its_value(impl):
    first, second = impl.ContextLocalResource(thing, "first"), impl.ContextLocalResource(thing, "second")

    async def main() -> None:
        async with impl.scope() as scope:
            one, two = await first(), await second()
            caught = []
            for finished in (first(), second()):
                with pytest.raises(StopIteration) as info:
                    next(finished.__await__())
                caught.append(info.value)
            for _ in range(3):  # values handed over after them
                assert await first() is one
                assert await second() is two
                async with impl.scope() as inner:
                    assert inner is not scope
            assert [stop.value for stop in caught] == [one, two]

    asyncio.run(main())


def test_a_stop_iteration_caught_while_another_is_handed_over_keeps_its_value(impl):
    provider = impl.ContextLocalResource(thing, "kept")

    async def main() -> None:
        async with impl.scope():
            value = await provider()
            finished = provider()
            try:
                next(finished.__await__())
            except StopIteration as stop:
                caught = stop
            del finished  # the object that handed the value over is gone
            async with impl.scope() as other:  # hands ``other`` over
                assert caught.value is value
            assert await provider() is value
            assert caught.value is value and other is not None

    asyncio.run(main())


def test_an_instance_handed_over_is_not_kept_alive_by_it(impl):
    provider = impl.ContextLocalResource(thing, "short-lived")

    async def main() -> weakref.ref:
        async with impl.scope():
            value = await provider()
            assert await provider() is value
        return weakref.ref(value)

    ref = asyncio.run(main())
    gc.collect()
    assert ref() is None


def test_values_set_in_a_scope_are_not_kept_alive_by_entering_it(impl):
    async def main() -> weakref.ref:
        scope = impl.Scope("job")
        scope.set_value("thing", Thing("value"))
        async with scope as entered:
            assert entered is scope
            ref = weakref.ref(scope.get_value("thing"))
        return ref

    ref = asyncio.run(main())
    gc.collect()
    assert ref() is None


def test_a_caught_stop_iteration_keeps_its_value_once_the_awaitable_is_gone(impl):
    async def main() -> None:
        scope = impl.Scope("job")
        entering = scope.__aenter__()
        try:
            next(entering.__await__())
        except StopIteration as stop:
            caught = stop
        del entering  # the finished awaitable that handed ``scope`` over
        assert caught.value is scope
        async with impl.scope() as other:  # another hand-over
            assert caught.value is scope and other is not scope
        await scope.__aexit__(None, None, None)
        assert caught.value is scope

    asyncio.run(main())
