"""A request scope for any WSGI application: Flask, Django, and the rest.

``ScopeMiddleware`` runs every request in its own scope, which ends when the whole body has been
produced (or, if the server closes the response iterable before that, the client went away):

    app = Flask(__name__)
    app.wsgi_app = ScopeMiddleware(app.wsgi_app)

An exception that propagates out of the application, or out of the response body while it is
produced, is thrown into the scope's resources (rollback); so is ``di_scopes.ClientDisconnected``
when the server closes the body before its end. A response whose status is at or above
``failure_status`` (default 400) ends the scope with ``di_scopes.ErrorResponse``, because
frameworks turn most errors into responses before they reach a middleware.

The request's WSGI environ is the scope's ``di_scopes.REQUEST`` value, for
``di_scopes.ScopeValue(di_scopes.REQUEST)``.

Each request runs in a copy of the caller's ``contextvars`` context, which also holds the scope
while the body is produced, so a streamed body resolves the request's instances.
"""

from __future__ import annotations

import contextvars
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional

from ._common import DEFAULT_SCOPE_NAME, REQUEST, ClientDisconnected, ScopeMiddlewareBase, end_scope, enter_scope

__all__ = ["ScopeMiddleware"]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[Dict[str, Any], StartResponse], Iterable[bytes]]


class ScopeMiddleware(ScopeMiddlewareBase):
    """Run every WSGI request in its own scope; see the module documentation.

    ``name`` is the scope's name; ``failure_status``: a response status at or above it counts as
    a failure and the resources see ``di_scopes.ErrorResponse``; ``None`` turns the check off.
    """

    app: WSGIApp

    def __init__(
        self,
        app: WSGIApp,
        *,
        name: str = DEFAULT_SCOPE_NAME,
        failure_status: Optional[int] = 400,
    ) -> None:
        super().__init__(app, name=name, failure_status=failure_status)

    def __call__(self, environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        context = contextvars.copy_context()
        statuses: List[int] = []

        def start_and_watch(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(int(status.split(None, 1)[0]))
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        request_scope = context.run(enter_scope, self._scope, self.name, REQUEST, environ)
        try:
            body = context.run(self.app, environ, start_and_watch)
        except BaseException as error:
            context.run(end_scope, request_scope, error)
            raise
        return _ScopedBody(body, context, request_scope, statuses, self.failure_status)


class _ScopedBody:
    """The application's response iterable, produced in the request's context. The scope ends
    when the body has been produced to the end (servers and test clients that never call
    ``close()`` included), or when it fails, or when it is closed before its end: the client
    went away (``ClientDisconnected``)."""

    def __init__(
        self,
        body: Iterable[bytes],
        context: contextvars.Context,
        request_scope: Any,
        statuses: List[int],
        failure_status: Optional[int],
    ) -> None:
        self._body = body
        self._context = context
        self._scope = request_scope
        self._statuses = statuses
        self._failure_status = failure_status
        self._ended = False

    def __iter__(self) -> Iterator[bytes]:
        iterator = self._context.run(iter, self._body)
        while True:
            try:
                chunk = self._context.run(next, iterator, _DONE)
            except BaseException as error:
                self._end(error)
                raise
            if chunk is _DONE:
                self._end(None)
                return
            yield chunk  # type: ignore[misc]

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                self._context.run(close)
        except BaseException as error:
            self._end(error)
            raise
        self._end(ClientDisconnected("the response body was closed before its end"))

    def _end(self, error: Optional[BaseException]) -> None:
        if self._ended:  # ends once
            return
        self._ended = True
        if error is None:
            status = self._statuses[-1] if self._statuses else None
            self._context.run(end_scope, self._scope, None, status, self._failure_status)
        else:
            self._context.run(end_scope, self._scope, error, raises=isinstance(error, ClientDisconnected))


_DONE = object()
