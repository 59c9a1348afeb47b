"""A request scope on Flask's own request lifecycle.

    from di_scopes.flask import init_app

    app = Flask(__name__)
    init_app(app)

Each request runs in a scope named ``name`` (default ``"request"``), opened before the first
``before_request`` function and ended by a ``teardown_request`` function, so it ends when Flask
ends the request: with a plain ``app.test_client().get(...)`` it has ended when the call returns.

- An exception that Flask turned into a 500 is thrown into the scope's resources: the one Flask
  hands its teardown functions, e.g. ``RuntimeError``, not a status stand-in.
- A response status at or above ``failure_status`` (``abort(409)``, an error handler's status)
  ends the scope with ``di_scopes.ErrorResponse``; ``None`` turns the check off.
- A body streamed from a generator keeps the scope and its instances until it has been
  produced; ``flask.stream_with_context`` keeps Flask's request context as well. Closed before
  its end (the client went away), it ends the scope with ``di_scopes.ClientDisconnected``. Any
  other response ends the scope in Flask's teardown.
- ``async def`` views resolve the request's instances too (Flask runs them in a copy of the
  request's context). Their resources must be synchronous: each async view runs in an event
  loop of its own, which is gone by the time the request ends.

Flask's ``request`` object is the scope's ``di_scopes.REQUEST`` value, for
``di_scopes.ScopeValue(di_scopes.REQUEST)``. A teardown error (a failed commit) propagates out of
Flask's teardown, so the server answers 500 and logs it.
"""

from __future__ import annotations

from types import GeneratorType
from typing import Any, cast

from flask import Flask, Response, request

from ._integration_core import (
    REQUEST,
    EndingBody,
    check_failure_status,
    end_body,
    end_scope,
    enter_scope,
    integration_scope,
)
from ._shared import DEFAULT_SCOPE_NAME

__all__ = ["init_app"]


def init_app(app: Flask, *, name: str = DEFAULT_SCOPE_NAME, failure_status: int | None = 400) -> None:
    """Run every request of ``app`` in its own scope called ``name``; see the module documentation."""
    check_failure_status(failure_status)
    name, make_scope = integration_scope(name)
    key = f"di_scopes.scope.{name}"  # where the request's environ keeps its _Run
    extensions = app.extensions.setdefault("di_scopes", {})
    if name in extensions:
        raise RuntimeError(f"di_scopes.flask.init_app() was already called for scope {name!r} on {app!r}")
    extensions[name] = failure_status

    def open_scope() -> None:
        environ = request.environ
        if key not in environ:
            entered = enter_scope(make_scope, name, REQUEST, cast(Any, request)._get_current_object())
            environ[key] = _Run(entered, failure_status)

    def note_status(response: Response) -> Response:
        run = request.environ.get(key)
        if run is not None:
            run.status = response.status_code
            if isinstance(response.response, GeneratorType):
                # A body that a view's generator produces. Flask tears the request down before it
                # runs (and again at the end of a stream_with_context body): its end ends the scope.
                run.streaming = True
                response.response = EndingBody(response.response, run.end_streamed)
        return response

    def end(exc: BaseException | None) -> None:
        run = request.environ.pop(key, None)
        if run is not None and (exc is not None or not run.streaming):
            run.end(exc, raises=True)

    # First, so that other before_request functions (and their injections) run in the scope.
    app.before_request_funcs.setdefault(None, []).insert(0, open_scope)
    app.after_request(note_status)
    app.teardown_request(end)


class _Run:
    """One request's scope and what decides how it ends."""

    __slots__ = ("scope", "failure_status", "status", "streaming", "ended")

    def __init__(self, scope: Any, failure_status: int | None) -> None:
        self.scope = scope
        self.failure_status = failure_status
        self.status: int | None = None
        self.streaming = False
        self.ended = False

    def end(self, exc: BaseException | None, *, raises: bool = False) -> None:
        if not self.ended:
            self.ended = True
            end_scope(self.scope, exc, self.status, self.failure_status, raises=raises)

    def end_streamed(self, error: BaseException | None) -> None:
        """The end of a streamed body (``EndingBody``)."""
        if not self.ended:
            self.ended = True
            end_body(self.scope, error, self.status, self.failure_status)
