"""A request scope for any ASGI application: FastAPI, Starlette, and the rest.

``ScopeMiddleware`` opens a scope for every HTTP request and every websocket connection and ends
it after the whole response has been sent and the response's background tasks have run:

    app = FastAPI()
    app.add_middleware(ScopeMiddleware)

How the scope ends decides what its resources see:

- an exception that propagates out of the application is thrown into them (rollback);
- a response whose status is at or above ``failure_status`` (default 400) ends the scope with
  ``di_scopes.ErrorResponse``, because errors that an exception handler turned into a response
  (``HTTPException``, custom handlers) never reach an outer middleware;
- a response that was not sent to the end (the client went away mid-body: Starlette then
  cancels a streaming body and returns normally; or no response at all) ends the scope with
  ``di_scopes.ClientDisconnected``;
- a cancelled request (client gone, server shutting down) still tears everything down, shielded
  from further cancellation, then the cancellation propagates;
- the connection's ASGI scope (the mapping) is the scope's ``di_scopes.REQUEST`` value, for
  ``di_scopes.ScopeValue(di_scopes.REQUEST)``;
- the synchronous teardown of a resource that was created in a worker thread (a sync database
  session used by a ``def`` endpoint) runs in a worker thread, off the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from . import _select
from ._errors import ClientDisconnected
from ._integration_core import APP, REQUEST, ScopeMiddlewareBase, aend_scope, enter_scope, integration_scope
from ._shared import DEFAULT_SCOPE_NAME

__all__ = ["ScopeMiddleware"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


class ScopeMiddleware(ScopeMiddlewareBase):
    """Run every HTTP request and websocket connection in its own scope.

    ``name`` is the scope's name (providers bound with ``.in_scope(name)`` land in it).
    ``failure_status``: a response status at or above it counts as a failure and the resources
    see ``di_scopes.ErrorResponse``; ``None`` turns the check off. ``app_scope``: the name of a
    scope that spans the application's lifespan, from before its startup to its shutdown, in
    which every request's scope nests (providers bound with ``.in_scope(app_scope)``, a connection
    pool, live there, shared by all requests); the ASGI lifespan scope is its
    ``di_scopes.APP`` value. Without it, lifespan and other events pass through untouched.
    """

    app: ASGIApp

    def __init__(
        self,
        app: ASGIApp,
        *,
        name: str = DEFAULT_SCOPE_NAME,
        failure_status: int | None = 400,
        app_scope: str | None = None,
    ) -> None:
        super().__init__(app, name=name, failure_status=failure_status)
        self.app_scope_name = None if app_scope is None else integration_scope(app_scope)[0]
        self._app_scope: Any = None  # the application's scope while it runs
        self._twin = _select.active()  # the one whose scope integration_scope gave

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            if kind == "lifespan" and self.app_scope_name is not None:
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if self._app_scope is not None:
            # Requests run in tasks of their own, which do not see the lifespan's context.
            token = self._twin._adopt(self._app_scope)
            try:
                await self._request(scope, receive, send, kind)
            finally:
                self._twin._unadopt(token)
            return
        await self._request(scope, receive, send, kind)

    async def _request(self, scope: MutableMapping[str, Any], receive: Receive, send: Send, kind: str) -> None:
        request_scope = enter_scope(self._scope, self.name, REQUEST, scope)  # does not await
        if kind != "http":
            try:
                await self.app(scope, receive, send)
            except BaseException as error:
                await aend_scope(request_scope, error)
                raise
            await aend_scope(request_scope)
            return
        watch = _ResponseWatch(send)
        try:
            await self.app(scope, receive, watch)
        except BaseException as error:
            await aend_scope(request_scope, error)
            raise
        if not watch.finished:  # the client went away mid-body, or no response was sent
            await aend_scope(request_scope, ClientDisconnected(), raises=True)
            return
        await aend_scope(request_scope, None, watch.status, self.failure_status)

    async def _lifespan(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        """Run the application's lifespan in the application's scope: entered before startup (so
        the application's own startup code resolves in it), ended before the shutdown is reported
        complete (with the exception if startup or shutdown failed)."""
        assert self.app_scope_name is not None
        app_scope = enter_scope(self._scope, self.app_scope_name, APP, scope)
        self._app_scope = app_scope
        ended = False

        async def end(error: BaseException | None) -> None:
            nonlocal ended
            if not ended:
                ended = True
                self._app_scope = None
                await aend_scope(app_scope, error)

        async def reporting(message: Message) -> None:
            kind = message["type"]
            if kind == "lifespan.shutdown.complete":
                await end(None)
            elif kind == "lifespan.startup.failed" or kind == "lifespan.shutdown.failed":
                await end(RuntimeError(f"{kind}: {message.get('message', '')}"))
            await send(message)

        try:
            await self.app(scope, receive, reporting)
        except BaseException as error:
            await end(error)
            raise
        await end(None)


class _ResponseWatch:
    """``send`` that notes the response status and whether the body was sent to the end. It
    returns ``send``'s own awaitable rather than wrapping it in a coroutine of its own: one frame
    less for every message."""

    __slots__ = ("send", "status", "finished")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 0
        self.finished = False

    def __call__(self, message: Message) -> Awaitable[None]:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
        elif kind == "http.response.body":
            if not message.get("more_body", False):
                self.finished = True
        elif kind == "http.response.pathsend" or kind == "http.response.zerocopysend":
            self.finished = True  # extensions that send a whole file
        return self.send(message)
