"""A client that goes away mid-body, on real servers: the request's session rolls back, with
``di_scopes.ClientDisconnected`` thrown in, under every integration (uvicorn for ASGI, wsgiref for
WSGI, Flask and Django, aiohttp's own server). A body produced to the end commits even where the
server never closes it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from dependency_injector import containers
from fastapi_app import Log, tracked_resource

CHUNKS = 300  # each a millisecond or more apart: the server writes long after the client left


def read_first_chunk_and_leave(port: int, path: str) -> bytes:
    """Send a GET, read until the body starts, then close the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        received = b""
        while b"\r\n\r\n" not in received or received.endswith(b"\r\n\r\n"):
            data = connection.recv(4096)
            if not data:
                break
            received += data
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    return received


def wait_for(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def ended(log):
    return [(list(s.events), s.closes) for s in log.by_kind("session")]


def sessions_container(twin, log):
    class Container(containers.DeclarativeContainer):
        session = twin.ContextLocalResource(tracked_resource(log, "session"))

    return Container()


# ASGI: FastAPI under uvicorn ---------------------------------------------------------------------


@pytest.mark.slow
def test_a_client_gone_mid_stream_rolls_back_under_uvicorn(twin):
    from dependency_injector import wiring
    from fastapi import Depends, FastAPI
    from fastapi.responses import StreamingResponse
    from test_uvicorn import ServerThread

    import di_scopes.fastapi
    from di_scopes.asgi import ScopeMiddleware

    log = Log()
    container = sessions_container(twin, log)
    app = FastAPI()
    app.add_middleware(ScopeMiddleware)

    @app.get("/stream")
    @di_scopes.fastapi.inject
    async def stream(session=Depends(wiring.Provide["session"])):
        async def body():
            for index in range(CHUNKS):
                await asyncio.sleep(0.005)
                yield f"{index} {session.number}\n"

        return StreamingResponse(body())

    @app.get("/short")
    @di_scopes.fastapi.inject
    async def short(session=Depends(wiring.Provide["session"])):
        async def body():
            for index in range(3):
                yield f"{index}\n"

        return StreamingResponse(body())

    container.wire(modules=[__name__])
    try:
        with ServerThread(app) as url:
            port = int(url.rsplit(":", 1)[1])
            assert b"200 OK" in read_first_chunk_and_leave(port, "/stream")
            wait_for(lambda: len(ended(log)) == 1 and ended(log)[0][1] == 1)
            import httpx

            assert httpx.get(f"{url}/short", timeout=10).text == "0\n1\n2\n"
            wait_for(lambda: len(ended(log)) == 2 and ended(log)[1][1] == 1)
    finally:
        container.unwire()
    assert ended(log) == [(["rollback ClientDisconnected"], 1), (["commit"], 1)]


def test_an_asgi_app_that_sends_no_response_rolls_back(twin):
    from di_scopes.asgi import ScopeMiddleware

    log = Log()
    container = sessions_container(twin, log)

    async def silent(scope, receive, send):
        container.session()  # then returns without a response

    async def main():
        sent = []

        async def receive():
            return {"type": "http.request", "body": b""}

        async def send(message):
            sent.append(message)

        await ScopeMiddleware(silent)({"type": "http", "path": "/"}, receive, send)
        return sent

    assert asyncio.run(main()) == []
    assert ended(log) == [(["rollback ClientDisconnected"], 1)]


# WSGI: a plain application, Flask and Django under wsgiref ---------------------------------------


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class WSGIServerThread:
    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, server_class=WSGIServer, handler_class=QuietHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self.server.server_port

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.thread.join(10)
        self.server.server_close()
        assert not self.thread.is_alive()


def slow_body(session):
    for index in range(CHUNKS):
        time.sleep(0.002)
        yield f"{index} {session.number}\n".encode()


def plain_wsgi_app(twin):
    from di_scopes.wsgi import ScopeMiddleware

    log = Log()
    container = sessions_container(twin, log)

    def app(environ, start_response):
        session = container.session()
        start_response("200 OK", [("Content-Type", "text/plain")])
        if environ["PATH_INFO"] == "/stream":
            return slow_body(session)
        return [b"whole\n"]

    return ScopeMiddleware(app), log


def flask_app(twin):
    from flask import Flask

    from di_scopes.flask import init_app

    log = Log()
    container = sessions_container(twin, log)
    app = Flask(__name__)
    init_app(app)

    @app.get("/stream")
    def stream():
        return slow_body(container.session())

    @app.get("/whole")
    def whole():
        container.session()
        return "whole\n"

    return app, log


def django_app(twin):
    import django_app as application

    application.configure()
    log = application.build(twin)
    return application.wsgi_application(), log


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["wsgi", "flask", "django"])
def test_a_client_gone_mid_stream_rolls_back_under_a_wsgi_server(twin, framework):
    app, log = {"wsgi": plain_wsgi_app, "flask": flask_app, "django": django_app}[framework](twin)
    with WSGIServerThread(app) as port:
        assert b"200 OK" in read_first_chunk_and_leave(port, "/slow-stream" if framework == "django" else "/stream")
        wait_for(lambda: ended(log) and ended(log)[0][1] == 1)
    assert ended(log) == [(["rollback ClientDisconnected"], 1)]


def test_a_wsgi_body_produced_to_the_end_commits_without_close(twin):
    """Werkzeug's test client reads the body but never closes it: the scope ends at its end."""
    from werkzeug.test import Client

    app, log = plain_wsgi_app(twin)
    client = Client(app)
    for path in ("/whole", "/stream"):
        response = client.get(path)
        assert response.status_code == 200 and response.get_data()  # read, never closed
    assert ended(log) == [(["commit"], 1), (["commit"], 1)]


# aiohttp on its own server ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_client_gone_mid_stream_rolls_back_under_aiohttp(twin):
    from aiohttp import web

    from di_scopes.aiohttp import setup

    log = Log()
    container = sessions_container(twin, log)

    async def stream(request):
        session = container.session()
        response = web.StreamResponse()
        await response.prepare(request)
        for index in range(CHUNKS):
            await asyncio.sleep(0.005)
            await response.write(f"{index} {session.number}\n".encode())
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/stream", stream)
    setup(app)

    async def main():
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            head = await asyncio.to_thread(read_first_chunk_and_leave, port, "/stream")
            assert b"200 OK" in head
            deadline = time.monotonic() + 20
            while not (ended(log) and ended(log)[0][1] == 1):
                assert time.monotonic() < deadline, "timed out"
                await asyncio.sleep(0.02)
        finally:
            await runner.cleanup()

    asyncio.run(main())
    assert ended(log) == [(["rollback ClientDisconnected"], 1)]
