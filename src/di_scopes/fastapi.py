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

FastAPI then sees only ``user_id``: the injected parameters are resolved by dependency-injector's
wiring inside the endpoint call, so they cost neither a thread-pool hop nor FastAPI's
per-parameter work, and never appear in the OpenAPI schema. Wire the container as usual
(``container.wire(modules=[...])`` or ``wiring_config``); overrides made on the wired container
instance (``container.session.override(...)``) are honoured. FastAPI's ``app.dependency_overrides``
does not see these parameters: override the providers instead.

Each call of an endpoint decorated with ``inject`` runs in an exclusive scope named
``"endpoint"`` (``ENDPOINT_SCOPE``): a resource bound to it with ``.in_scope("endpoint")`` is
torn down when the endpoint returns, before the response is sent, like FastAPI's
``Depends(scope="function")``; everything else lives in the request scope of
``di_scopes.asgi.ScopeMiddleware`` until the response has been sent.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, TypeVar, cast

from dependency_injector import wiring

import di_scopes

__all__ = ["ENDPOINT_SCOPE", "inject"]

ENDPOINT_SCOPE = "endpoint"

_F = TypeVar("_F", bound=Callable[..., Any])


def inject(fn: _F) -> _F:
    """Resolve ``fn``'s ``Provide[...]`` parameters inside the call; hide them from FastAPI.

    Accepts ``Depends(Provide[...])``, ``Provide[...]`` and ``Provider[...]`` markers, as
    defaults or in ``Annotated[...]``, like dependency-injector's ``@inject``.
    """
    patched = wiring.inject(fn)  # dependency-injector's wiring binds and resolves the markers
    if patched is fn:  # nothing to inject (dependency-injector has warned)
        return fn
    injected = set(wiring._fetch_reference_injections(fn)[0])
    signature = inspect.signature(fn)
    visible = signature.replace(
        parameters=[p for name, p in signature.parameters.items() if name not in injected]
    )
    make_scope = di_scopes._twin.scope

    if inspect.iscoroutinefunction(fn):

        async def endpoint(*args: Any, **kwargs: Any) -> Any:
            async with make_scope(ENDPOINT_SCOPE, exclusive=True):
                return await patched(*args, **kwargs)

    elif inspect.isasyncgenfunction(fn):

        async def endpoint(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            async with make_scope(ENDPOINT_SCOPE, exclusive=True):
                async for item in patched(*args, **kwargs):
                    yield item

    elif inspect.isgeneratorfunction(fn):

        def endpoint(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            with make_scope(ENDPOINT_SCOPE, exclusive=True):
                yield from patched(*args, **kwargs)

    else:

        def endpoint(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            with make_scope(ENDPOINT_SCOPE, exclusive=True):
                return patched(*args, **kwargs)

    functools.update_wrapper(endpoint, fn)
    endpoint.__signature__ = visible  # type: ignore[attr-defined]
    annotations = getattr(fn, "__annotations__", {})
    endpoint.__annotations__ = {k: v for k, v in annotations.items() if k not in injected}
    return cast(_F, endpoint)
