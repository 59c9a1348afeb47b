"""A request scope for aiohttp: a middleware, one scope per request and per websocket connection.

    from di_scopes.aiohttp import setup

    app = web.Application()
    setup(app)          # or: web.Application(middlewares=[scope_middleware()])

The handler runs in the scope, so a streamed ``StreamResponse`` and a whole websocket connection
(the handler runs until it closes) share the scope's instances. The scope ends when the handler
returns:

- an exception raised by the handler is thrown into the scope's resources. aiohttp's HTTP
  exceptions (``web.HTTPNotFound``, ``web.HTTPFound``...) are responses too: one whose status is
  below ``failure_status`` (a redirect) counts as success;
- a response status at or above ``failure_status`` (default 400) ends the scope with
  ``di_scopes.ErrorResponse``; ``None`` turns the check off;
- a streamed body that the client stopped reading (aiohttp raises ``ConnectionResetError`` from
  ``write()``) ends the scope with ``di_scopes.ClientDisconnected``, as under every other
  integration;
- a cancelled handler (the client went away) still tears everything down, shielded from further
  cancellation.

The ``web.Request`` is the scope's ``di_scopes.REQUEST`` value, for
``di_scopes.ScopeValue(di_scopes.REQUEST)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from ._errors import ClientDisconnected
from ._integration_core import APP as _APP
from ._integration_core import REQUEST, aend_scope, check_failure_status, enter_scope, integration_scope
from ._shared import DEFAULT_SCOPE_NAME

APP_SCOPE = "app"
APP = _APP  # the key of the application in its app_scope (di_scopes.APP)

__all__ = ["APP", "APP_SCOPE", "app_scope", "scope_middleware", "setup"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def scope_middleware(*, name: str = DEFAULT_SCOPE_NAME, failure_status: int | None = 400) -> Any:
    """An aiohttp middleware that runs every request in its own scope called ``name``."""
    check_failure_status(failure_status)
    name, make_scope = integration_scope(name)

    @web.middleware
    async def di_scopes_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        entered = enter_scope(make_scope, name, REQUEST, request)
        try:
            response = await handler(request)
        except web.HTTPException as error:
            if failure_status is None or error.status < failure_status:
                await aend_scope(entered)
            else:
                await aend_scope(entered, error)
            raise
        except ConnectionResetError as error:
            # The client went away while the handler wrote a streamed body: the same ending as
            # under every other integration.
            gone = ClientDisconnected(f"the client went away: {error}")
            gone.__cause__ = error
            await aend_scope(entered, gone)
            raise
        except BaseException as error:
            await aend_scope(entered, error)
            raise
        await aend_scope(entered, None, response.status, failure_status)
        return response

    return di_scopes_middleware


def app_scope(name: str = APP_SCOPE) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context (``app.cleanup_ctx.append(app_scope())``): a scope named ``name`` that
    lasts from the application's startup to its cleanup, around every request's scope.

    Providers bound with ``.in_scope(name)`` (a connection pool, a client) live in it, shared by
    all requests, and are torn down at cleanup, with the exception thrown in if startup or
    shutdown failed. The ``web.Application`` is its ``di_scopes.APP`` value. (The requests see it
    because aiohttp starts serving in the context where the startup ran.)
    """
    name, make_scope = integration_scope(name)

    async def scope_for_the_app(app: web.Application) -> AsyncIterator[None]:
        entered = enter_scope(make_scope, name, APP, app)
        try:
            yield
        except BaseException as error:
            await aend_scope(entered, error)
            raise
        await aend_scope(entered)

    return scope_for_the_app


def setup(
    app: web.Application,
    *,
    name: str = DEFAULT_SCOPE_NAME,
    failure_status: int | None = 400,
    app_scope_name: str | None = None,
) -> None:
    """Add ``scope_middleware`` to ``app``, first, so the other middlewares run in the scope; with
    ``app_scope_name``, also an ``app_scope`` of that name to its cleanup contexts."""
    app.middlewares.insert(0, scope_middleware(name=name, failure_status=failure_status))
    if app_scope_name is not None:
        app.cleanup_ctx.append(app_scope(app_scope_name))
