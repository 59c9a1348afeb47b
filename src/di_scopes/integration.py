"""Writing an integration for a framework di-scopes has no module for: the shared core.

Every integration di-scopes ships (ASGI, WSGI, Flask, Django, aiohttp, Celery, the pytest plugin)
opens and ends its scopes through these functions, so the failure policy is the same everywhere.
An integration for another framework is its request hooks calling them::

    from di_scopes import integration

    @app.on_request                                   # Sanic
    async def open_scope(request):
        request.ctx.scope = integration.enter(request)

    @app.on_response
    async def end_scope(request, response):
        await integration.aend(request.ctx.scope, status=response.status)

    @app.signal("http.lifecycle.exception")
    async def note(request, exception):
        integration.note_error(exception, request.ctx.scope)

``enter`` makes a fresh scope, puts the framework's request into it under ``di_scopes.REQUEST``
(for ``di_scopes.ScopeValue(di_scopes.REQUEST)``) and enters it in the current context: code that
runs in that context (the handler, in most frameworks) resolves in it. ``end`` and ``aend`` end it
by the failure policy: the exception that ended the request, if any (or one noted with
``note_error``, for frameworks that turn exceptions into responses before a hook can see them);
else ``di_scopes.ErrorResponse(status)`` when the response status is at or above
``failure_status``; else success. A response that was not sent to the end is ended with
``di_scopes.ClientDisconnected``. Use ``aend`` where the scope may hold asynchronous resources.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from ._errors import ClientDisconnected, ErrorResponse
from ._integration_core import (
    REQUEST,
    aend_scope,
    check_failure_status,
    end_scope,
    enter_scope,
    integration_scope,
    note_error,
)
from ._shared import DEFAULT_SCOPE_NAME

__all__ = ["ClientDisconnected", "ErrorResponse", "aend", "end", "enter", "note_error"]

_NO_VALUE = object()


def enter(value: Any = _NO_VALUE, *, name: str = DEFAULT_SCOPE_NAME, key: Any = REQUEST) -> Any:
    """Make a fresh scope called ``name``, put ``value`` into it under ``key`` (when given), and
    enter it in the current context; return it, for ``end``/``aend``."""
    name, make_scope = integration_scope(name)
    if value is _NO_VALUE:
        entered = make_scope(name)
        entered.__enter__()
        return entered
    return enter_scope(make_scope, name, key, value)


def end(
    scope: Any, error: BaseException | None = None, *, status: int | None = None, failure_status: int | None = 400
) -> None:
    """End ``scope`` (synchronously) by the failure policy; see the module documentation.

    A teardown error (a failed commit) is raised: without an ending exception on its own, else
    attached to the ending exception, which is then raised if the framework had handled it."""
    check_failure_status(failure_status)
    end_scope(scope, error, status, failure_status, raises=True)


def aend(
    scope: Any, error: BaseException | None = None, *, status: int | None = None, failure_status: int | None = 400
) -> Awaitable[None]:
    """``end`` for scopes that may hold asynchronous resources: await it."""
    check_failure_status(failure_status)
    return aend_scope(scope, error, status, failure_status, raises=True)
