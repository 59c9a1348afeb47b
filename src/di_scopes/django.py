"""A request scope for Django: a middleware, sync and async capable.

Put it first in ``MIDDLEWARE``, so that the other middlewares run in the scope::

    MIDDLEWARE = [
        "di_scopes.django.ScopeMiddleware",   # first, so the other middlewares run in the scope
        ...
    ]

Each request runs in a scope named ``scope_name`` (default ``"request"``):

- an exception raised by the view, which Django turns into a response, is seen through
  ``process_exception`` and thrown into the scope's resources (``Http404``, ``PermissionDenied``,
  ``RuntimeError``...); so is an exception that propagates out of the middlewares below;
- a response status at or above ``failure_status`` (default 400) ends the scope with
  ``di_scopes.ErrorResponse``; ``None`` turns the check off;
- a ``StreamingHttpResponse`` keeps the scope, and its instances, until its content has been
  produced; closed before its end (the client went away), it ends the scope with
  ``di_scopes.ClientDisconnected``;
- under ASGI the middleware runs asynchronously, so asynchronous resources are torn down on the
  event loop (a sync streaming body is produced in a thread: its scope's resources must be
  synchronous).

The ``HttpRequest`` is the scope's ``di_scopes.REQUEST`` value, for
``di_scopes.ScopeValue(di_scopes.REQUEST)``. Change the settings in a subclass::

    class ScopeMiddleware(di_scopes.django.ScopeMiddleware):
        failure_status = 500
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync, iscoroutinefunction, markcoroutinefunction

from ._errors import ClientDisconnected
from ._integration_core import (
    REQUEST,
    EndingBody,
    aend_scope,
    check_failure_status,
    end_body,
    end_scope,
    enter_scope,
    integration_scope,
)
from ._shared import DEFAULT_SCOPE_NAME

__all__ = ["ScopeMiddleware"]

_EXCEPTION = "_di_scopes_exception"  # the HttpRequest attribute process_exception sets


class ScopeMiddleware:
    """Run every request in its own scope; see the module documentation."""

    sync_capable = True
    async_capable = True

    #: The scope's name: providers bound with ``.in_scope(scope_name)`` live in it.
    scope_name: str = DEFAULT_SCOPE_NAME
    #: A response status at or above it ends the scope with ``ErrorResponse``; None: never.
    failure_status: int | None = 400

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        check_failure_status(self.failure_status)
        self.scope_name, self._scope = integration_scope(self.scope_name)
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self._async:
            return self._acall(request)
        entered = enter_scope(self._scope, self.scope_name, REQUEST, request)
        try:
            response = self.get_response(request)
        except BaseException as error:
            end_scope(entered, error)
            raise
        failure = request.__dict__.pop(_EXCEPTION, None)
        if failure is None and response.streaming:
            response.streaming_content = EndingBody(
                response.streaming_content,
                partial(end_body, entered, status=response.status_code, failure_status=self.failure_status),
            )
            return response
        end_scope(entered, failure, response.status_code, self.failure_status, raises=True)
        return response

    async def _acall(self, request: Any) -> Any:
        entered = enter_scope(self._scope, self.scope_name, REQUEST, request)
        try:
            response = await self.get_response(request)
        except BaseException as error:
            await aend_scope(entered, error)
            raise
        failure = request.__dict__.pop(_EXCEPTION, None)
        if failure is None and response.streaming:
            if response.is_async:
                response.streaming_content = _AsyncContent(response, entered, self.failure_status)
            else:
                response.streaming_content = EndingBody(
                    response.streaming_content,
                    partial(end_body, entered, status=response.status_code, failure_status=self.failure_status),
                )
            return response
        await aend_scope(entered, failure, response.status_code, self.failure_status, raises=True)
        return response

    def process_exception(self, request: Any, exception: BaseException) -> None:
        """Note the view's exception for the scope's end; Django goes on to handle it."""
        setattr(request, _EXCEPTION, exception)


class _AsyncContent:
    """An asynchronous streaming response's content that ends the scope, on the event loop, once
    produced, failed or closed: ``EndingBody`` for async iteration. (No ``__iter__``: Django
    tells the two kinds apart by it.)"""

    def __init__(self, response: Any, entered: Any, failure_status: int | None) -> None:
        self._status = response.status_code
        self._scope = entered
        self._failure_status = failure_status
        self._ended = False
        self._iterator: AsyncIterator[bytes] = response.streaming_content.__aiter__()
        self._closing: asyncio.Task[None] | None = None

    async def _aend(self, error: BaseException | None) -> None:
        if not self._ended:
            self._ended = True
            await aend_scope(
                self._scope, error, self._status, self._failure_status, raises=isinstance(error, ClientDisconnected)
            )

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._iterator.__anext__()
        except StopAsyncIteration:
            await self._aend(None)
            raise
        except BaseException as error:
            await self._aend(error)
            raise

    def close(self) -> None:
        """End the scope, if the content did not, on the event loop: Django's ASGI handler calls
        it in a worker thread (``sync_to_async``) once the content was sent or the client left;
        its async test client calls it on the event loop itself."""
        if self._ended:
            return
        # Closed before its end (after it, the scope has ended already): the client went away.
        error = ClientDisconnected("the streamed content was closed before its end")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            async_to_sync(self._aend)(error)
            return
        self._closing = loop.create_task(self._aend(error))
