"""Flask (WSGI) with ScopeMiddleware: a scope per request, ended when the response is closed."""

import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide, inject
from fastapi_app import Log, Repository, tracked_resource
from flask import Flask, Response, abort, jsonify, stream_with_context

from di_scopes import wsgi


def build(twin, **options):
    log = Log()

    class Container(containers.DeclarativeContainer):
        session = twin.ContextLocalResource(tracked_resource(log, "session"))
        repository = providers.Factory(Repository, session=session)

    app = Flask(__name__)

    @app.get("/ok")
    @inject
    def ok(session=Provide[Container.session], repository=Provide[Container.repository]):
        return jsonify(same=repository.session is session, number=session.number)

    @app.get("/raise")
    @inject
    def fail(session=Provide[Container.session]):
        raise LookupError("view failed")

    @app.get("/abort/<int:code>")
    @inject
    def aborted(code, session=Provide[Container.session]):
        abort(code)

    @app.get("/stream")
    @inject
    def stream(session=Provide[Container.session]):
        container = app.extensions["container"]

        def body():
            for index in range(3):
                # the body is produced after the view returned, still in the request's scope
                log.seen.setdefault("stream", []).append((session.closed, container.session() is session))
                yield f"{index}\n"

        return Response(stream_with_context(body()))

    app.wsgi_app = wsgi.ScopeMiddleware(app.wsgi_app, **options)
    container = Container()
    container.wire(modules=[__name__])
    app.extensions["container"] = container
    app.extensions["log"] = log
    return app


def get(app, path):
    with app.test_client().get(path) as response:  # closing the response ends the scope
        return response.status_code, response.get_data(as_text=True), response.get_json(silent=True)


@pytest.fixture
def app(twin):
    return build(twin)


def sessions(app):
    return app.extensions["log"].by_kind("session")


def test_one_session_per_request_committed(app):
    first, second = get(app, "/ok"), get(app, "/ok")
    assert first[2]["same"] and second[2]["same"]
    assert first[2]["number"] != second[2]["number"]
    assert [(s.events, s.closes) for s in sessions(app)] == [(["commit"], 1)] * 2


def test_view_exception_rolls_back(app):
    assert get(app, "/raise")[0] == 500  # Flask turned it into a 500 response
    assert sessions(app)[0].events == ["rollback ErrorResponse"]


def test_propagated_exception_is_thrown_in(twin):
    app = build(twin)
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(LookupError):
        get(app, "/raise")
    assert sessions(app)[0].events == ["rollback LookupError"]
    assert sessions(app)[0].closes == 1


def test_aborted_request_rolls_back(app):
    assert get(app, "/abort/404")[0] == 404
    assert sessions(app)[0].events == ["rollback ErrorResponse"]


def test_failure_status_can_be_turned_off(twin):
    app = build(twin, failure_status=None)
    assert get(app, "/abort/409")[0] == 409
    assert sessions(app)[0].events == ["commit"]


def test_streamed_body_runs_in_the_request_scope(app):
    status, text, _ = get(app, "/stream")
    assert (status, text) == (200, "0\n1\n2\n")
    assert app.extensions["log"].seen["stream"] == [(False, True)] * 3
    assert sessions(app)[0].closes == 1


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
            statuses = [client.get(path).status_code for path in ("/ok", "/abort/403", "/stream")]
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
    assert statuses == [200, 403, 200]
    assert [(s.events, s.closes) for s in sessions(app)] == [
        (["commit"], 1),
        (["rollback ErrorResponse"], 1),
        (["commit"], 1),
    ]
