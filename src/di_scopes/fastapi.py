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

import functools
import inspect
from typing import Any, Callable, Dict, List, Optional, TypeVar, cast

from dependency_injector import wiring

import di_scopes

from ._common import bound_scope_names, opened_scope_names

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
    defaults or in ``Annotated[...]``, like dependency-injector's ``@inject``. An endpoint with a
    ``Closing[...]`` marker goes through dependency-injector's own resolver, which shuts down
    dependency-injector's resources; the scoped resources that ``Closing`` names, and those they
    depend on, are torn down when the call returns, with its exception thrown in if it raised
    (the next resolve in the scope creates a new instance).
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
    # The injections into ``kwargs`` (dependency-injector's Factory graphs built without its
    # gather); returns the names still to await. The providers are the ones wiring bound:
    # container.wire() and unwire() change them.
    inject_into = twin.inject_into
    injections = binding.injections
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

    async def awaiting(pending: List[str], args: Any, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        for name in pending:
            kwargs[name] = await kwargs[name]
        return kwargs

    if inspect.iscoroutinefunction(fn):

        async def finish(pending: List[str], args: Any, kwargs: Dict[str, Any]) -> Any:
            return await fn(*args, **await awaiting(pending, args, kwargs))

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
            """The endpoint's awaitable: no coroutine of our own unless an injection is async."""
            if via_wiring:
                return run_closing(args, kwargs)
            pending = inject_into(injections, kwargs)
            if pending:
                return finish(pending, args, kwargs)
            return fn(*args, **kwargs)

        async def endpoint(*args: Any, **kwargs: Any) -> Any:
            if ENDPOINT_SCOPE in bound_scope_names:
                async with make_scope(ENDPOINT_SCOPE, exclusive=True):
                    return await run(args, kwargs)
            return await run(args, kwargs)

    elif inspect.isasyncgenfunction(fn):

        async def items(args: Any, kwargs: Dict[str, Any]) -> Any:
            if via_wiring:
                resources = closing()
                try:
                    async for item in patched(*args, **kwargs):
                        yield item
                except BaseException as error:
                    await _close_async(resources, error)
                    raise
                await _close_async(resources, None)
                return
            pending = inject_into(injections, kwargs)
            if pending:
                await awaiting(pending, args, kwargs)
            async for item in fn(*args, **kwargs):
                yield item

        async def endpoint(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            if ENDPOINT_SCOPE in bound_scope_names:
                async with make_scope(ENDPOINT_SCOPE, exclusive=True):
                    async for item in items(args, kwargs):
                        yield item
            else:
                async for item in items(args, kwargs):
                    yield item

    else:

        def call(args: Any, kwargs: Dict[str, Any]) -> Any:
            if via_wiring:
                if inspect.isgeneratorfunction(fn):
                    return patched(*args, **kwargs)
                resources = closing()
                try:
                    result = patched(*args, **kwargs)
                except BaseException as error:
                    _close_sync(resources, error)
                    raise
                _close_sync(resources, None)
                return result
            inject_into(injections, kwargs)
            return fn(*args, **kwargs)

        if inspect.isgeneratorfunction(fn):

            def endpoint(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                if ENDPOINT_SCOPE in bound_scope_names:
                    with make_scope(ENDPOINT_SCOPE, exclusive=True):
                        yield from call(args, kwargs)
                else:
                    yield from call(args, kwargs)

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


def _close_sync(resources: List[Any], error: Optional[BaseException]) -> None:
    """Tear down each resource's instance in the current scope now, with ``error`` thrown in."""
    for resource in resources:
        resource._shutdown(error)


async def _close_async(resources: List[Any], error: Optional[BaseException]) -> None:
    for resource in resources:
        outcome = resource._shutdown(error)
        if inspect.isawaitable(outcome):
            await outcome
