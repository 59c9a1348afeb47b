"""The integrations' shared core.

Every integration (ASGI, WSGI, Flask, Django, aiohttp, Celery, the pytest plugin) opens and ends
its scopes through these functions, so the failure policy is the same everywhere:
``enter_scope``, ``end_scope`` / ``aend_scope`` (with ``ending`` deciding what the scope's
resources see), ``note_error``, and the keys under which a scope holds the framework's objects.
``di_scopes.integration`` is its public face.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from . import _select
from ._errors import ClientDisconnected, ErrorResponse, ScopeError, no_current_scope_message
from ._shared import DEFAULT_SCOPE_NAME, check_scope_name, opened_scope_names


def check_failure_status(failure_status: object) -> None:
    if failure_status is not None and not (
        isinstance(failure_status, int) and not isinstance(failure_status, bool) and 100 <= failure_status <= 599
    ):
        raise ValueError(f"failure_status must be an HTTP status (100-599) or None, got {failure_status!r}")


class ScopeMiddlewareBase:
    """Settings that the ASGI and WSGI middlewares share; see their documentation."""

    def __init__(self, app: Any, *, name: str = DEFAULT_SCOPE_NAME, failure_status: int | None = 400) -> None:
        check_failure_status(failure_status)
        self.app = app
        self.failure_status = failure_status
        self.name, self._scope = integration_scope(name)  # the twin in use when the application is built


REQUEST = "request"  # the key under which the web integrations store their request object
TASK = "task"  # the key under which the Celery integration stores the running task
APP = "app"  # the key under which an application's scope holds the application (ASGI: its lifespan scope)


def integration_scope(name: object) -> tuple[str, Callable[..., Any]]:
    """Check ``name``, record it as opened, and return it with the scope factory of the twin in
    use now (the twin selected when the application is built)."""
    checked = check_scope_name(name)
    opened_scope_names.add(checked)
    return checked, _select.active().scope


_NO_KEY = object()


def enter_scope(make_scope: Callable[..., Any], name: str, key: Any = _NO_KEY, value: Any = None) -> Any:
    """Make a scope named ``name``, put ``value`` into it under ``key`` (see ``Scope.set_value``),
    and enter it."""
    entered = make_scope(name)
    if key is not _NO_KEY:
        entered.set_value(key, value)
    entered.__enter__()
    return entered


_NOTED = object()  # the scope-value key under which note_error() keeps the request's exception


_noting = False  # whether note_error() was ever called: the ends look for a noted error only then


def note_error(error: BaseException, scope: Any = None) -> None:
    """Note ``error`` as what ended the request of ``scope`` (by default the current scope), for
    frameworks that turn an exception into a response before an integration's hook sees it: the
    scope then ends with it thrown in, whatever the response's status."""
    global _noting
    if not isinstance(error, BaseException):
        raise TypeError(f"note_error() takes the exception that ended the request; got {error!r}")
    if scope is None:
        scope = _select.active().current_scope()
        if scope is None:
            raise ScopeError(no_current_scope_message())
    scope.set_value(_NOTED, error)
    _noting = True


def _noted(entered: Any, error: BaseException | None) -> BaseException | None:
    if error is None and _noting:
        noted: BaseException | None = entered.get_value(_NOTED)
        return noted
    return error


def ending(error: BaseException | None, status: int | None, failure_status: int | None) -> BaseException | None:
    """The failure policy: what a scope ends with.

    The exception that ended the unit of work, if any; else ``ErrorResponse(status)`` when the
    response status is at or above ``failure_status``; else None (success).
    """
    if error is not None:
        return error
    if failure_status is None or status is None or status < failure_status:
        return None
    return ErrorResponse(status)


def _note_count(exc: BaseException) -> int:
    return len(getattr(exc, "__notes__", ()))


def end_scope(
    entered: Any,
    error: BaseException | None = None,
    status: int | None = None,
    failure_status: int | None = None,
    *,
    raises: bool = False,
) -> None:
    """End ``entered`` (synchronously) by the failure policy of ``ending()``.

    Teardown errors are attached to the ending exception as notes. ``ErrorResponse`` carrying
    such notes is raised, so the server logs them; so is ``error`` when ``raises`` is true (the
    framework handled ``error`` and will not raise it itself). Without an ending exception, a
    teardown error propagates (a failed commit is never silent).
    """
    error = _noted(entered, error)
    exc = ending(error, status, failure_status)
    if exc is None:
        entered.__exit__(None, None, None)
        return
    notes = _note_count(exc)
    entered.__exit__(type(exc), exc, exc.__traceback__)
    if (raises or exc is not error) and _note_count(exc) > notes:
        raise exc


def aend_scope(
    entered: Any,
    error: BaseException | None = None,
    status: int | None = None,
    failure_status: int | None = None,
    *,
    raises: bool = False,
) -> Awaitable[None]:
    """``end_scope`` for asynchronous scopes: await the result. Not a coroutine on success, so a
    scope with nothing to await costs no coroutine."""
    if _noting:
        error = _noted(entered, error)
    if error is None and (failure_status is None or status is None or status < failure_status):
        return entered.__aexit__(None, None, None)  # type: ignore[no-any-return]  # ending() inlined
    exc = ending(error, status, failure_status)
    return _aend_failed(entered, exc, raises or exc is not error)  # type: ignore[arg-type]


async def _aend_failed(entered: Any, exc: BaseException, raises: bool) -> None:
    notes = _note_count(exc)
    await entered.__aexit__(type(exc), exc, exc.__traceback__)
    if raises and _note_count(exc) > notes:
        raise exc


class EndingBody:
    """A response body that ends its request's scope once: when it has been produced to the end
    (servers and test clients that never call ``close()`` included), when producing it fails, or
    when it is closed before its end, with ``ClientDisconnected``: the client went away.

    ``end(error)`` ends the scope (``error`` is None for a body produced to the end). With a
    ``context``, the body is produced, closed and ended in it (the WSGI middleware's request
    context); without one, in the caller's (Flask's and Django's own request handling)."""

    __slots__ = ("_body", "_end", "_run", "_iterator", "_ended")

    def __init__(
        self,
        body: Iterable[Any],
        end: Callable[[BaseException | None], None],
        context: contextvars.Context | None = None,
    ) -> None:
        self._body = body
        self._end = end
        self._run: Callable[..., Any] = _call if context is None else context.run
        self._iterator: Iterator[Any] | None = None
        self._ended = False

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        try:
            if self._iterator is None:
                self._iterator = self._run(iter, self._body)
            return self._run(next, self._iterator)
        except StopIteration:
            self._finish(None)
            raise
        except BaseException as error:
            self._finish(error)
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                self._run(close)
        except BaseException as error:
            self._finish(error)
            raise
        # Closed before its end (after it, the scope has ended already): the client went away.
        self._finish(ClientDisconnected("the response body was closed before its end"))

    def _finish(self, error: BaseException | None) -> None:
        if not self._ended:
            self._ended = True
            self._run(self._end, error)


def _call(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)


def end_body(entered: Any, error: BaseException | None, status: int | None, failure_status: int | None) -> None:
    """End the scope of a request whose body has ended (``EndingBody``): by the response's status
    when it was produced to the end, else by the error; a disconnect is raised, for the server to
    see (the framework does not raise it itself)."""
    end_scope(entered, error, status, failure_status, raises=isinstance(error, ClientDisconnected))
