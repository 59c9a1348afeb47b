"""di_scopes.flask.init_app: a scope on Flask's own request lifecycle, on both twins."""

import asyncio
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import flask
import httpx
import pytest
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide, inject
from fastapi_app import Log, Repository, tracked_resource
from flask import Flask, Response, abort, jsonify, stream_with_context

import di_scopes
from di_scopes import flask as di_flask

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup


class CurrentUser:
    def __init__(self, request):
        self.name = request.headers.get("X-User", "anonymous")


def build(twin, **options):
    log = Log()

    class Container(containers.DeclarativeContainer):
        session = twin.ContextLocalResource(tracked_resource(log, "session"))
        repository = providers.Factory(Repository, session=session)
        user = providers.Factory(CurrentUser, request=twin.ScopeValue(di_scopes.REQUEST))

    app = Flask(__name__)
    di_flask.init_app(app, **options)

    @app.before_request
    @inject
    def before(session=Provide[Container.session]):
        log.seen.setdefault("before", []).append(session.number)

    @app.get("/ok")
    @inject
    def ok(session=Provide[Container.session], repository=Provide[Container.repository]):
        log.seen["during"] = session.closed
        return jsonify(same=repository.session is session, number=session.number)

    @app.get("/async")
    @inject
    async def async_view(session=Provide[Container.session], repository=Provide[Container.repository]):
        await asyncio.sleep(0)
        return jsonify(same=repository.session is session, number=session.number)

    @app.get("/user")
    @inject
    def user(user=Provide[Container.user]):
        return jsonify(name=user.name, same=container.user().name == user.name)

    @app.get("/raise")
    @inject
    def fail(session=Provide[Container.session]):
        raise RuntimeError("view failed")

    @app.get("/abort/<int:code>")
    @inject
    def aborted(code, session=Provide[Container.session]):
        abort(code)

    @app.get("/stream")
    @inject
    def stream(session=Provide[Container.session]):
        def body():
            for index in range(3):
                log.seen.setdefault("stream", []).append((session.closed, container.session() is session))
                yield f"{index}\n"

        return Response(stream_with_context(body()))

    @app.get("/plain-stream")
    @inject
    def plain_stream(session=Provide[Container.session]):
        def body():  # without stream_with_context: no Flask context, the scope is still there
            for index in range(2):
                log.seen.setdefault("plain", []).append((session.closed, container.session() is session))
                yield f"{index}\n"

        return Response(body())

    @app.get("/stream-raise")
    @inject
    def stream_raise(session=Provide[Container.session]):
        def body():
            yield "0\n"
            raise LookupError("stream failed")

        return Response(stream_with_context(body()))

    container = Container()
    container.wire(modules=[__name__])
    app.extensions["container"] = container
    app.extensions["log"] = log
    return app


@pytest.fixture
def app(twin):
    return build(twin)


def sessions(app):
    return app.extensions["log"].by_kind("session")


def ended(app):
    return [(list(s.events), s.closes) for s in sessions(app)]


def test_plain_test_client_call_ends_the_scope_committed(app):
    client = app.test_client()
    first, second = client.get("/ok"), client.get("/ok")
    # ended when get() returned, without closing the response
    assert ended(app) == [(["commit"], 1)] * 2
    assert first.get_json()["same"] and first.get_json()["number"] != second.get_json()["number"]
    log = app.extensions["log"]
    assert log.seen["during"] is False
    assert log.seen["before"] == [s.number for s in sessions(app)]  # before_request ran in the scope
    assert di_scopes.current_scope() is None


def test_scope_ends_with_the_call_inside_a_client_block_too(app):
    with app.test_client() as client:  # Flask preserves the last request's context in the block
        client.get("/ok")
        client.get("/ok")
        assert flask.request.path == "/ok"
        assert ended(app) == [(["commit"], 1)] * 2
        assert di_scopes.current_scope() is None


def test_async_view(app):
    response = app.test_client().get("/async")
    assert response.get_json()["same"]
    assert ended(app) == [(["commit"], 1)]


def test_view_exception_is_thrown_in(app):
    assert app.test_client().get("/raise").status_code == 500
    assert ended(app) == [(["rollback RuntimeError"], 1)]


def test_propagated_exception_is_thrown_in(twin):
    app = build(twin)
    app.testing = True
    with pytest.raises(RuntimeError, match="view failed"):
        app.test_client().get("/raise")
    assert ended(app) == [(["rollback RuntimeError"], 1)]


@pytest.mark.parametrize("code", [400, 404, 409])
def test_abort_rolls_back(app, code):
    assert app.test_client().get(f"/abort/{code}").status_code == code
    assert ended(app) == [(["rollback ErrorResponse"], 1)]


def test_failure_status_threshold(twin):
    lenient = build(twin, failure_status=None)
    assert lenient.test_client().get("/abort/409").status_code == 409
    assert ended(lenient) == [(["commit"], 1)]
    strict = build(twin, failure_status=500)
    strict.test_client().get("/abort/404")
    assert ended(strict) == [(["commit"], 1)]


def test_stream_keeps_the_scope_and_instances_until_it_ends(app):
    response = app.test_client().get("/stream")
    assert ended(app) == [([], 0)]  # the stream has not run yet: still open
    assert response.get_data(as_text=True) == "0\n1\n2\n"
    assert app.extensions["log"].seen["stream"] == [(False, True)] * 3
    assert ended(app) == [(["commit"], 1)]


def test_plain_generator_stream_keeps_the_scope(app):
    response = app.test_client().get("/plain-stream")
    assert response.get_data(as_text=True) == "0\n1\n"
    assert app.extensions["log"].seen["plain"] == [(False, True)] * 2
    assert ended(app) == [(["commit"], 1)]


def test_closing_an_unfinished_stream_rolls_back(app):
    """Closed before its end, as a WSGI server closes it when the client went away."""
    response = app.test_client().get("/stream")
    response.close()
    assert ended(app) == [(["rollback ClientDisconnected"], 1)]
    assert di_scopes.current_scope() is None


def test_stream_exception_is_thrown_in(app):
    response = app.test_client().get("/stream-raise")
    with pytest.raises(LookupError):
        response.get_data()
    assert ended(app) == [(["rollback LookupError"], 1)]


def test_request_is_the_scope_value(app):
    response = app.test_client().get("/user", headers={"X-User": "ada"})
    assert response.get_json() == {"name": "ada", "same": True}


def test_failed_commit_is_not_silent(twin):
    app = Flask(__name__)
    di_flask.init_app(app)

    def failing_commit():
        yield "session"
        raise OSError("commit failed")

    session = twin.ContextLocalResource(failing_commit)

    @app.get("/")
    def view():
        return session()

    app.testing = True
    with pytest.raises(ExceptionGroup) as raised:  # the server answers 500 and logs it
        app.test_client().get("/")
    assert [str(error) for error in raised.value.exceptions] == ["commit failed"]


def test_bad_arguments(app):
    with pytest.raises(RuntimeError, match="already called for scope 'request'"):
        di_flask.init_app(app)
    with pytest.raises(ValueError, match="failure_status"):
        di_flask.init_app(Flask(__name__), failure_status=99)
    with pytest.raises(TypeError, match="scope name"):
        di_flask.init_app(Flask(__name__), name="")


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.slow
def test_real_wsgi_server(app):
    server = make_server("127.0.0.1", 0, app, server_class=WSGIServer, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        with httpx.Client(base_url=url, timeout=30) as client:
            statuses = [client.get(path).status_code for path in ("/ok", "/abort/409", "/stream", "/raise", "/async")]
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
    assert statuses == [200, 409, 200, 500, 200]
    assert ended(app) == [
        (["commit"], 1),
        (["rollback ErrorResponse"], 1),
        (["commit"], 1),
        (["rollback RuntimeError"], 1),
        (["commit"], 1),
    ]
