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
from collections.abc import Callable, Iterable
from typing import Any

from ._integration_core import REQUEST, EndingBody, ScopeMiddlewareBase, end_body, end_scope, enter_scope
from ._shared import DEFAULT_SCOPE_NAME

__all__ = ["ScopeMiddleware"]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


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
        failure_status: int | None = 400,
    ) -> None:
        super().__init__(app, name=name, failure_status=failure_status)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        context = contextvars.copy_context()
        statuses: list[int] = []

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
        failure_status = self.failure_status

        def end(error: BaseException | None) -> None:
            end_body(request_scope, error, statuses[-1] if statuses else None, failure_status)

        return EndingBody(body, end, context)
