"""di_scopes.django.ScopeMiddleware under Django's test clients and real servers, both twins."""

import asyncio
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django_app
import httpx
import pytest
import servers

import di_scopes

django_app.configure()

from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.test import AsyncClient, Client  # noqa: E402


@pytest.fixture
def log(twin):
    return django_app.build(twin)


def ended(log):
    return [(list(s.events), s.closes) for s in log.by_kind("session")]


def test_sync_request_commits_and_shares_one_session(log):
    client = Client()
    first, second = client.get("/ok", HTTP_X_USER="ada").json(), client.get("/ok").json()
    assert first["same"] and first["number"] != second["number"]
    assert (first["user"], second["user"]) == ("ada", "anonymous")  # the HttpRequest, injected
    assert ended(log) == [(["commit"], 1)] * 2
    assert di_scopes.current_scope() is None


def test_async_view_under_the_sync_handler(log):
    response = Client().get("/async")  # Django runs it in an event loop of its own
    assert response.json()["same"]
    assert ended(log) == [(["commit"], 1)]


@pytest.mark.parametrize(
    "path, status, outcome",
    [
        ("/raise", 500, "rollback RuntimeError"),
        ("/missing", 404, "rollback Http404"),
        ("/status/409", 409, "rollback ErrorResponse"),
        ("/status/302", 302, "commit"),
    ],
)
def test_failures_roll_back(log, path, status, outcome):
    client = Client(raise_request_exception=False)
    assert client.get(path).status_code == status
    assert ended(log) == [([outcome], 1)]


def test_sync_stream_keeps_the_scope_until_closed(log):
    response = Client().get("/stream")
    assert ended(log) == [([], 0)]
    assert b"".join(response.streaming_content) == b"0\n1\n2\n"
    assert log.seen["stream"] == [(False, True)] * 3
    assert ended(log) == [(["commit"], 1)]


def test_sync_stream_closed_early_rolls_back(log):
    response = Client().get("/stream")
    response.close()  # what Django's handler does when the client went away
    assert ended(log) == [(["rollback ClientDisconnected"], 1)]


def test_async_client(log):
    async def main():
        client = AsyncClient(raise_request_exception=False)
        ok = await client.get("/async")
        fail = await client.get("/raise")
        conflict = await client.get("/status/409")
        stream = await client.get("/async-stream")
        body = b"".join([chunk async for chunk in stream.streaming_content])
        return ok.json(), fail.status_code, conflict.status_code, body

    ok, fail, conflict, body = asyncio.run(main())
    assert ok["same"] and (fail, conflict, body) == (500, 409, b"0\n1\n2\n")
    assert log.seen["stream"] == [(False, True)] * 3
    assert ended(log) == [
        (["commit"], 1),
        (["rollback RuntimeError"], 1),
        (["rollback ErrorResponse"], 1),
        (["commit"], 1),
    ]


def test_async_stream_closed_early_rolls_back(log):
    async def main():
        response = await AsyncClient().get("/async-stream")
        chunks = response.streaming_content.__aiter__()
        first = await chunks.__anext__()
        open_meanwhile = ended(log)
        await chunks.aclose()  # the client went away: Django closes the response
        for _ in range(10):
            await asyncio.sleep(0)
        return first, open_meanwhile

    first, open_meanwhile = asyncio.run(main())
    assert (first, open_meanwhile) == (b"0\n", [([], 0)])
    assert ended(log) == [(["rollback ClientDisconnected"], 1)]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def fetch_all(url):
    with httpx.Client(base_url=url, timeout=30) as client:
        return [(r.status_code, r.text) for r in (client.get(p) for p in ("/ok", "/status/409", "/raise", "/stream"))]


@pytest.mark.slow
def test_real_wsgi_server(log):
    server = make_server("127.0.0.1", 0, WSGIHandler(), server_class=WSGIServer, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        results = fetch_all(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
    assert [status for status, _ in results] == [200, 409, 500, 200]
    assert results[3][1] == "0\n1\n2\n"
    assert ended(log) == [
        (["commit"], 1),
        (["rollback ErrorResponse"], 1),
        (["rollback RuntimeError"], 1),
        (["commit"], 1),
    ]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_real_asgi_server(log):
    import uvicorn

    port = servers.free_port()
    server = uvicorn.Server(
        uvicorn.Config(ASGIHandler(), host="127.0.0.1", port=port, lifespan="off", log_level="critical")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        results = fetch_all(f"http://127.0.0.1:{port}")
        with httpx.Client(timeout=30) as client:
            streamed = client.get(f"http://127.0.0.1:{port}/async-stream").text
    finally:
        server.should_exit = True
        thread.join(10)
    assert [status for status, _ in results] == [200, 409, 500, 200]
    assert streamed == "0\n1\n2\n"
    assert ended(log) == [
        (["commit"], 1),
        (["rollback ErrorResponse"], 1),
        (["rollback RuntimeError"], 1),
        (["commit"], 1),
        (["commit"], 1),
    ]
