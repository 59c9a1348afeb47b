"""Injection into FastAPI endpoints without FastAPI's dependency machinery.

dependency-injector's own style works unchanged with di-scopes' providers: ``@inject`` from
``dependency_injector.wiring`` and ``Depends(Provide[Container.session])`` parameters, in default
or ``Annotated`` form, for async and ``def`` endpoints and sub-dependencies. But FastAPI runs each
``Depends(Provide[...])`` through its thread pool, since the marker is a sync callable.

``inject`` from this module is the fast path, spelled the same way: change the import.

    from di_scopes.fastapi import inject

    @app.get("/users/{user_id}")
    @inject
    async def get_user(user_id: int, users: UserRepository = Depends(Provide[Container.users])):
        ...

FastAPI then sees only ``user_id``. The injected parameters are resolved inside the endpoint
call from the providers that dependency-injector's wiring bound to them, so they cost neither a
thread-pool hop nor FastAPI's per-parameter work, and never appear in the OpenAPI schema. Wire
the container as usual (``container.wire(modules=[...])`` or ``wiring_config``); overrides made on
the wired container instance (``container.session.override(...)``) are honoured. FastAPI's
``app.dependency_overrides`` does not see these parameters: override the providers instead.

Each call of an endpoint decorated with ``inject`` runs in an exclusive scope named
``"endpoint"`` (``ENDPOINT_SCOPE``): a resource bound to it with ``.in_scope("endpoint")`` is
torn down when the endpoint returns, before the response is sent, like FastAPI's
``Depends(scope="function")``; everything else lives in the request scope of
``di_scopes.asgi.ScopeMiddleware`` until the response has been sent. (Until some provider is
bound to ``"endpoint"`` the scope would stay empty, and is not opened.)
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from typing import Any, AsyncGenerator, Callable, Dict, Generator, List, Optional, TypeVar, cast

from dependency_injector import wiring

import di_scopes

from ._common import ScopeError, bound_scope_names, opened_scope_names

__all__ = ["ENDPOINT_SCOPE", "inject"]

ENDPOINT_SCOPE = "endpoint"

_F = TypeVar("_F", bound=Callable[..., Any])


# What this module reads of dependency-injector's wiring record of a decorated function. The
# record is private (wiring._patched_registry); it has had this shape from 4.45 to 4.49 at least.
_BINDING_FIELDS = ("injections", "reference_injections", "closing", "reference_closing")


def _binding(patched: Any, fn: Any) -> Any:
    """dependency-injector's record of ``fn``'s markers, or a clear error if its shape changed."""
    registry = getattr(wiring, "_patched_registry", None)
    get_callable = getattr(registry, "get_callable", None)
    binding = get_callable(patched) if callable(get_callable) else None
    if binding is None or not all(isinstance(getattr(binding, name, None), dict) for name in _BINDING_FIELDS):
        from importlib.metadata import version

        raise RuntimeError(
            f"di_scopes.fastapi.inject cannot read how dependency-injector "
            f"{version('dependency-injector')} records the markers of {fn.__qualname__}: it reads "
            "dependency-injector's wiring registry (wiring._patched_registry), which this release "
            "changed. Use dependency_injector.wiring.inject meanwhile (the same markers work; FastAPI "
            "then resolves them through its thread pool), or a di-scopes release that supports it."
        )
    return binding


def inject(fn: _F) -> _F:
    """Resolve ``fn``'s ``Provide[...]`` parameters inside the call; hide them from FastAPI.

    Accepts ``Depends(Provide[...])``, ``Provide[...]`` and ``Provider[...]`` markers, as
    defaults or in ``Annotated[...]``, like dependency-injector's ``@inject``, and injects what
    it would inject: the providers that wiring bound at the time of the call, resolved the same
    way, awaited together. An endpoint with a ``Closing[...]`` marker goes through
    dependency-injector's own resolver, which shuts down dependency-injector's resources; the
    scoped resources that ``Closing`` names, and those they depend on, are torn down when the
    call returns (a generator's, when it ends), with its exception thrown in if it raised (the
    next resolve in the scope creates a new instance); a sync function leaves asynchronous ones
    to the scope's end.

    A generator endpoint (sync or async) runs its steps in a context of its own, a copy of the
    caller's: its "endpoint" scope, and the context variables it sets, stay with its steps, and
    the scope ends when the generator does.
    """
    opened_scope_names.add(ENDPOINT_SCOPE)  # for validate()
    patched = wiring.inject(fn)  # dependency-injector's record of the markers, bound by wire()
    if patched is fn:  # nothing to inject (dependency-injector has warned)
        return fn
    binding = _binding(patched, fn)
    injected = set(binding.reference_injections)
    signature = inspect.signature(fn)
    visible = signature.replace(
        parameters=[p for name, p in signature.parameters.items() if name not in injected]
    )
    twin = di_scopes._twin
    make_scope = twin.scope
    # The providers are read from the wiring record at each call: wire() binds them, unwire()
    # replaces the record's dicts.
    inject_into = twin.inject_into
    inject_sync = twin.inject_sync
    await_pending = twin.await_pending
    # Closing[...] markers need dependency-injector's own resolver, which shuts them down.
    via_wiring = bool(binding.reference_closing)

    def closing() -> List[Any]:
        """The scoped resources that Closing markers name or depend on, dependents first; the
        providers are the ones wiring bound."""
        found: List[Any] = []
        for provider in binding.closing.values():
            for candidate in (provider, *provider.traverse()):
                if isinstance(candidate, twin.ContextLocalResource) and candidate not in found:
                    found.append(candidate)
        return found

    def endpoint_scope() -> Any:
        return make_scope(ENDPOINT_SCOPE, exclusive=True) if ENDPOINT_SCOPE in bound_scope_names else None

    if inspect.iscoroutinefunction(fn):

        async def finish(pending: Any, args: Any, kwargs: Dict[str, Any]) -> Any:
            return await fn(*args, **await await_pending(kwargs, pending))

        async def run_closing(args: Any, kwargs: Dict[str, Any]) -> Any:
            resources = closing()
            try:
                result = await patched(*args, **kwargs)
            except BaseException as error:
                await _close_async(resources, error)
                raise
            await _close_async(resources, None)
            return result

        def run(args: Any, kwargs: Dict[str, Any]) -> Any:
            """The endpoint's awaitable: no coroutine of our own unless an injection is pending."""
            if via_wiring:
                return run_closing(args, kwargs)
            pending = inject_into(binding.injections, kwargs)
            if pending:
                return finish(pending, args, kwargs)
            return fn(*args, **kwargs)

        async def endpoint(*args: Any, **kwargs: Any) -> Any:
            if ENDPOINT_SCOPE in bound_scope_names:
                async with make_scope(ENDPOINT_SCOPE, exclusive=True):
                    return await run(args, kwargs)
            return await run(args, kwargs)

    elif inspect.isasyncgenfunction(fn):
        left_open = twin.ContextLocalResource(_left_open_async)

        async def prepare(args: Any, kwargs: Dict[str, Any]) -> Any:
            """The endpoint's generator, its injections resolved."""
            pending = inject_into(binding.injections, kwargs)
            if pending:
                await await_pending(kwargs, pending)
            return fn(*args, **kwargs)

        async def endpoint(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            # As dependency-injector's does, the generator resolves its injections when it starts.
            steps = _Steps(endpoint_scope())
            try:
                if via_wiring:
                    steps.resources = steps.context.run(closing)
                    generator = steps.generator = steps.context.run(patched, *args, **kwargs)
                else:
                    generator = steps.generator = await steps.run(prepare(args, kwargs))
                method, argument = generator.asend, None
                while True:
                    try:
                        item = await steps.run(method(argument))
                    except StopAsyncIteration:
                        break
                    if steps.left is None:
                        await steps.run(steps.register(left_open))
                    try:
                        argument = yield item
                        method = generator.asend
                    except GeneratorExit:
                        raise
                    except BaseException as thrown:  # athrow(): passed on, as to any generator
                        method, argument = generator.athrow, thrown
            except BaseException as error:
                await steps.finish(error)
                raise
            await steps.finish(None)

    else:

        def call(args: Any, kwargs: Dict[str, Any]) -> Any:
            if via_wiring:
                resources = closing()
                try:
                    result = patched(*args, **kwargs)
                except BaseException as error:
                    _close_sync(resources, error)
                    raise
                _close_sync(resources, None)
                return result
            inject_sync(binding.injections, kwargs)
            return fn(*args, **kwargs)

        if inspect.isgeneratorfunction(fn):
            left_open = twin.ContextLocalResource(_left_open_sync)

            def endpoint(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                # As dependency-injector's does, it resolves the injections when called and
                # returns the generator (here, one that runs each step in the endpoint's context).
                steps = _Steps(endpoint_scope())
                run = steps.context.run
                try:
                    if via_wiring:
                        steps.resources = run(closing)
                        steps.generator = run(patched, *args, **kwargs)
                    else:
                        run(inject_sync, binding.injections, kwargs)
                        steps.generator = run(fn, *args, **kwargs)
                except BaseException as error:
                    steps.finish_sync(error)
                    raise
                return steps.iterate(left_open)

        else:

            def endpoint(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                if ENDPOINT_SCOPE in bound_scope_names:
                    with make_scope(ENDPOINT_SCOPE, exclusive=True):
                        return call(args, kwargs)
                return call(args, kwargs)

    functools.update_wrapper(endpoint, fn)
    endpoint.__signature__ = visible  # type: ignore[attr-defined]
    annotations = getattr(fn, "__annotations__", {})
    endpoint.__annotations__ = {k: v for k, v in annotations.items() if k not in injected}
    return cast(_F, endpoint)


class _Steps:
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
        self.resources: Optional[List[Any]] = None  # the scoped resources of Closing markers
        self.generator: Any = None
        self.left: Optional[List[_Steps]] = None  # the enclosing scope's record, once registered
        self.done = False
        if scope is not None:
            self.context.run(scope.__enter__)

    def run(self, awaitable: Any) -> Any:
        """``awaitable``, with each of its steps run in the context."""
        return _InContext(self.context, awaitable)

    def _record(self, left: Optional[List["_Steps"]]) -> None:
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
                if self.left is None:
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

    def finish_sync(self, error: Optional[BaseException]) -> None:
        if not self._begin_finish():
            return
        run = self.context.run
        try:
            if self.generator is not None:
                run(self.generator.close)
            if self.resources is not None:
                run(_close_sync, self.resources, error)
        finally:
            if self.scope is not None:
                if error is None:
                    run(self.scope.__exit__, None, None, None)
                else:
                    run(self.scope.__exit__, type(error), error, error.__traceback__)

    async def finish(self, error: Optional[BaseException]) -> None:
        if not self._begin_finish():
            return
        try:
            if self.generator is not None:
                await self.run(self.generator.aclose())
            if self.resources is not None:
                await self.run(_close_async(self.resources, error))
        finally:
            if self.scope is not None:
                await self.run(_aexit(self.scope, error))


async def _aexit(scope: Any, error: Optional[BaseException]) -> None:
    if error is None:
        await scope.__aexit__(None, None, None)
    else:
        await scope.__aexit__(type(error), error, error.__traceback__)


def _left_open_sync() -> Generator[List[_Steps], None, None]:
    """The generator endpoints a scope has seen start and not end; it closes them when it ends."""
    left: List[_Steps] = []
    try:
        yield left
    finally:
        while left:
            left[-1].finish_sync(GeneratorExit())


async def _left_open_async() -> AsyncGenerator[List[_Steps], None]:
    left: List[_Steps] = []
    try:
        yield left
    finally:
        while left:
            await left[-1].finish(GeneratorExit())


class _InContext:
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


def _close_sync(resources: List[Any], error: Optional[BaseException]) -> None:
    """Tear down each resource's instance in the current scope now, with ``error`` thrown in.
    An asynchronous one cannot be torn down from sync code: the scope's end tears it down."""
    for resource in resources:
        if not resource.is_async_mode_enabled():
            resource._shutdown(error)


async def _close_async(resources: List[Any], error: Optional[BaseException]) -> None:
    for resource in resources:
        outcome = resource._shutdown(error)
        if inspect.isawaitable(outcome):
            await outcome
