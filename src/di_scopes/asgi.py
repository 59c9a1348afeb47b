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

from typing import Any, Awaitable, Callable, MutableMapping, Optional

from ._common import DEFAULT_SCOPE_NAME, REQUEST, ClientDisconnected, ScopeMiddlewareBase, aend_scope, enter_scope

__all__ = ["ScopeMiddleware"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


class ScopeMiddleware(ScopeMiddlewareBase):
    """Run every HTTP request and websocket connection in its own scope.

    ``name`` is the scope's name (providers bound with ``.in_scope(name)`` land in it).
    ``failure_status``: a response status at or above it counts as a failure and the resources
    see ``di_scopes.ErrorResponse``; ``None`` turns the check off. Lifespan and other events pass
    through untouched.
    """

    app: ASGIApp

    def __init__(
        self,
        app: ASGIApp,
        *,
        name: str = DEFAULT_SCOPE_NAME,
        failure_status: Optional[int] = 400,
    ) -> None:
        super().__init__(app, name=name, failure_status=failure_status)

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return

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
