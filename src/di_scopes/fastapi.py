"""Injection into FastAPI endpoints without FastAPI's dependency machinery.

dependency-injector's own style works unchanged with di-scopes' providers: ``@inject`` from
``dependency_injector.wiring`` and ``Depends(Provide[Container.session])`` parameters, in default
or ``Annotated`` form, for async and ``def`` endpoints and sub-dependencies. But FastAPI runs each
``Depends(Provide[...])`` through its thread pool, since the marker is a sync callable.

``inject`` from this module is the fast path, spelled the same way: change the import. ::

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
``di_scopes.asgi.ScopeMiddleware`` until the response has been sent.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextlib import aclosing
from typing import Any, TypeVar, cast

from dependency_injector import wiring

from . import _select
from ._shared import opened_scope_names
from ._steps import Steps, close_async, close_sync, left_open_async, left_open_sync
from ._wiring import binding as record_of
from ._wiring import visible_signature

__all__ = ["ENDPOINT_SCOPE", "inject"]

ENDPOINT_SCOPE = "endpoint"

_F = TypeVar("_F", bound=Callable[..., Any])

_INSTEAD = (
    "Use dependency_injector.wiring.inject meanwhile (the same markers work; FastAPI then "
    "resolves them through its thread pool), or a di-scopes release that supports it."
)


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
    binding = record_of(patched, fn, "di_scopes.fastapi.inject", _INSTEAD)
    injected = set(binding.reference_injections)
    visible = visible_signature(fn, injected)
    twin = _select.active()
    # Each call's endpoint scope is a fresh copy of this one (its name and flag checked once).
    fresh_scope = twin.scope(ENDPOINT_SCOPE, exclusive=True)._fresh
    # The providers are read from the wiring record at each call: wire() binds them, unwire()
    # replaces the record's dicts.
    inject_into = twin.inject_into
    inject_sync = twin.inject_sync
    call_in_scope = twin.call_in_scope
    await_pending = twin.await_pending
    # Closing[...] markers need dependency-injector's own resolver, which shuts them down.
    via_wiring = bool(binding.reference_closing)

    def closing() -> list[Any]:
        """The scoped resources that Closing markers name or depend on, dependents first; the
        providers are the ones wiring bound."""
        found: list[Any] = []
        for provider in binding.closing.values():
            for candidate in (provider, *provider.traverse()):
                if isinstance(candidate, twin.ContextLocalResource) and candidate not in found:
                    found.append(candidate)
        return found

    if inspect.iscoroutinefunction(fn):

        async def run_closing(args: Any, kwargs: dict[str, Any]) -> Any:
            resources = closing()
            try:
                result = await patched(*args, **kwargs)
            except BaseException as error:
                await close_async(resources, error)
                raise
            await close_async(resources, None)
            return result

        async def endpoint(*args: Any, **kwargs: Any) -> Any:
            # What `async with` does, without awaiting the ready result of __aenter__ (which
            # raises a StopIteration to hand it over from CPython 3.12 on): entering a scope
            # never suspends, and __aexit__ never suppresses the exception.
            scope = fresh_scope()
            scope.__enter__()
            try:
                if via_wiring:
                    result = await run_closing(args, kwargs)
                else:
                    pending = inject_into(binding.injections, kwargs)
                    if pending:  # awaited here: no coroutine of our own otherwise
                        await await_pending(kwargs, pending)
                    result = await fn(*args, **kwargs)
            except BaseException as error:
                await scope.__aexit__(type(error), error, error.__traceback__)
                raise
            await scope.__aexit__(None, None, None)
            return result

    elif inspect.isasyncgenfunction(fn):
        left_open = twin.ContextLocalResource(left_open_async)

        async def prepare(args: Any, kwargs: dict[str, Any]) -> Any:
            """The endpoint's generator, its injections resolved."""
            pending = inject_into(binding.injections, kwargs)
            if pending:
                await await_pending(kwargs, pending)
            return fn(*args, **kwargs)

        async def endpoint(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            # As dependency-injector's does, the generator resolves its injections when it starts.
            steps = Steps(fresh_scope())

            def start() -> Any:
                if via_wiring:
                    steps.resources = closing()
                    return patched(*args, **kwargs)
                return prepare(args, kwargs)

            async with aclosing(steps.aiterate(start, left_open)) as items:
                async for item in items:
                    yield item

    else:

        def call_closing(args: Any, kwargs: dict[str, Any]) -> Any:
            resources = closing()
            try:
                result = patched(*args, **kwargs)
            except BaseException as error:
                close_sync(resources, error)
                raise
            close_sync(resources, None)
            return result

        if inspect.isgeneratorfunction(fn):
            left_open = twin.ContextLocalResource(left_open_sync)

            def endpoint(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                # As dependency-injector's does, it resolves the injections when called and
                # returns the generator (here, one that runs each step in the endpoint's context).
                steps = Steps(fresh_scope())
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
                if via_wiring:
                    with fresh_scope():
                        return call_closing(args, kwargs)
                return call_in_scope(fresh_scope(), binding.injections, fn, args, kwargs)

    functools.update_wrapper(endpoint, fn)
    endpoint.__signature__ = visible  # type: ignore[attr-defined]
    annotations = getattr(fn, "__annotations__", {})
    endpoint.__annotations__ = {k: v for k, v in annotations.items() if k not in injected}
    return cast(_F, endpoint)
