"""Running a generator's steps in a context of its own, with a scope entered there.

A generator runs each step in the context of whoever advances it, so a scope entered inside one
(the "endpoint" scope of ``di_scopes.fastapi.inject``, the scope of a generator decorated with
``di_scopes.scope``) would be the reader's current scope between items. ``Steps`` gives the
generator a context of its own instead, a copy of the caller's, and ends the scope when the
generator ends. Also here: tearing down the scoped resources that ``Closing[...]`` markers name.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

from ._errors import ScopeError

__all__ = ["InContext", "Steps", "close_async", "close_sync", "left_open_async", "left_open_sync"]


class Steps:
    """Runs a generator endpoint's steps in a context of its own, a copy of the caller's: the
    "endpoint" scope is entered there (when one is opened), never in the reader's context, which
    may stop reading at any step, or read from another task or thread.

    The generator ends its scope when it ends. A reader that stops early may leave it open until
    it is garbage-collected; so from its first item on, the scope it runs in (the innermost that
    is not exclusive: the request's) records it, and closes it when that scope ends, before
    tearing down what the generator's first step resolved there.
    """

    __slots__ = ("context", "scope", "resources", "generator", "left", "done")

    def __init__(self, scope: Any) -> None:
        self.context = contextvars.copy_context()
        self.scope = scope
        self.resources: list[Any] | None = None  # the scoped resources of Closing markers
        self.generator: Any = None
        self.left: list[Steps] | None = None  # the enclosing scope's record, once registered
        self.done = False
        if scope is not None:
            self.context.run(scope.__enter__)

    def run(self, awaitable: Any) -> Any:
        """``awaitable``, with each of its steps run in the context."""
        return InContext(self.context, awaitable)

    def _record(self, left: list[Steps] | None) -> None:
        self.left = left if left is not None else []
        self.left.append(self)

    async def register(self, left_open: Any) -> None:
        try:
            left = await left_open()
        except ScopeError:  # no scope to record it: it ends when it ends
            left = None
        self._record(left)

    def register_sync(self, left_open: Any) -> None:
        try:
            left = left_open()
        except ScopeError:
            left = None
        self._record(left)

    def _begin_finish(self) -> bool:
        if self.done:
            return False
        self.done = True
        if self.left is not None and self in self.left:
            self.left.remove(self)
        return True

    async def aiterate(self, start: Callable[[], Any], left_open: Any) -> AsyncGenerator[Any, None]:
        """An async generator that runs, in the context, the async generator that ``start()``
        gives (or, if that is awaitable, what it gives once awaited), and ends the scope when it
        ends (with what it raised, or ``GeneratorExit`` if closed early). From its first item on,
        the enclosing scope records it (``left_open``, unless None)."""
        try:
            generator = self.context.run(start)
            if inspect.isawaitable(generator):
                generator = await self.run(generator)
            self.generator = generator
            while True:
                try:
                    item = await self.run(generator.__anext__())
                except StopAsyncIteration:
                    break
                if self.left is None and left_open is not None:
                    await self.run(self.register(left_open))
                yield item
        except BaseException as error:
            await self.finish(error)
            raise
        await self.finish(None)

    def iterate(self, left_open: Any) -> Any:
        """A generator that runs the generator's steps in the context, and ends the scope when
        it ends (with what it raised, or ``GeneratorExit`` if closed early)."""
        run = self.context.run
        generator = self.generator
        try:
            method, argument = generator.send, None
            while True:
                try:
                    item = run(method, argument)
                except StopIteration as stop:
                    result = stop.value
                    break
                if self.left is None and left_open is not None:
                    run(self.register_sync, left_open)
                try:
                    argument = yield item
                    method = generator.send
                except GeneratorExit:
                    raise
                except BaseException as thrown:  # throw(): passed on, as to any generator
                    method, argument = generator.throw, thrown
        except BaseException as error:
            self.finish_sync(error)
            raise
        self.finish_sync(None)
        return result

    def finish_sync(self, error: BaseException | None) -> None:
        if not self._begin_finish():
            return
        run = self.context.run
        try:
            if self.generator is not None:
                run(self.generator.close)
            if self.resources is not None:
                run(close_sync, self.resources, error)
        finally:
            if self.scope is not None:
                if error is None:
                    run(self.scope.__exit__, None, None, None)
                else:
                    run(self.scope.__exit__, type(error), error, error.__traceback__)

    async def finish(self, error: BaseException | None) -> None:
        if not self._begin_finish():
            return
        try:
            if self.generator is not None:
                await self.run(self.generator.aclose())
            if self.resources is not None:
                await self.run(close_async(self.resources, error))
        finally:
            if self.scope is not None:
                await self.run(_aexit(self.scope, error))


async def _aexit(scope: Any, error: BaseException | None) -> None:
    if error is None:
        await scope.__aexit__(None, None, None)
    else:
        await scope.__aexit__(type(error), error, error.__traceback__)


def left_open_sync() -> Generator[list[Steps], None, None]:
    """The generator endpoints a scope has seen start and not end; it closes them when it ends."""
    left: list[Steps] = []
    try:
        yield left
    finally:
        while left:
            left[-1].finish_sync(GeneratorExit())


async def left_open_async() -> AsyncGenerator[list[Steps], None]:
    left: list[Steps] = []
    try:
        yield left
    finally:
        while left:
            await left[-1].finish(GeneratorExit())


class InContext:
    """Awaitable that drives ``awaitable`` (a coroutine, or an async generator's step) with each
    of its steps run in ``context``."""

    __slots__ = ("context", "awaitable")

    def __init__(self, context: contextvars.Context, awaitable: Any) -> None:
        self.context = context
        self.awaitable = awaitable

    def __await__(self) -> Generator[Any, Any, Any]:
        run = self.context.run
        iterator = self.awaitable.__await__()
        method, argument = iterator.send, None
        while True:
            try:
                yielded = run(method, argument)
            except StopIteration as stop:
                return stop.value
            try:
                argument = yield yielded
                method = iterator.send
            except BaseException as thrown:  # a cancellation, say: passed on
                method, argument = iterator.throw, thrown


def close_sync(resources: list[Any], error: BaseException | None) -> None:
    """Tear down each resource's instance in the current scope now, with ``error`` thrown in.
    An asynchronous one cannot be torn down from sync code: the scope's end tears it down."""
    for resource in resources:
        if not resource.is_async_mode_enabled():
            resource._shutdown(error)


async def close_async(resources: list[Any], error: BaseException | None) -> None:
    for resource in resources:
        outcome = resource._shutdown(error)
        if inspect.isawaitable(outcome):
            await outcome
