"""FastAPI with ScopeMiddleware: one session per request, for both injection styles."""

import asyncio
import inspect
import json
import re
import threading
from typing import Annotated

import fastapi_app
import httpx
import pytest
from dependency_injector import providers, wiring
from fastapi import Depends


def _reads_annotated_markers():
    def probe(session: Annotated[int, Depends(wiring.Provide["session"])]): ...

    return "session" in wiring._fetch_reference_injections(probe)[0]


ANNOTATED_MARKERS = pytest.mark.skipif(
    not _reads_annotated_markers(),
    reason="this dependency-injector release reads markers only from defaults, not Annotated",
)


def get(app, *paths):
    """Send the requests concurrently through the ASGI app; return the responses."""

    async def run():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(client.get(path) for path in paths))

    responses = asyncio.run(run())
    return responses[0] if len(paths) == 1 else responses


@pytest.fixture
def app(twin):
    return fastapi_app.build(twin)


def only_session(app):
    sessions = app.state.log.by_kind("session")
    assert len(sessions) == 1
    return sessions[0]


@ANNOTATED_MARKERS
def test_fast_async_endpoint_shares_one_session_and_commits(app):
    response = get(app, "/fast/async?q=3")
    assert response.status_code == 200
    session = only_session(app)
    assert response.json() == {"sessions": [session.number] * 3, "q": 3}
    assert session.events == ["commit"] and session.closes == 1


def test_fast_sync_endpoint_shares_one_session_created_in_a_worker_thread(app):
    response = get(app, "/fast/sync")
    session = only_session(app)
    assert response.json()["sessions"] == [session.number] * 2
    assert response.json()["thread"] != threading.get_ident()
    assert session.events == ["commit"] and session.closes == 1


def test_each_request_gets_its_own_session(app):
    first, second = get(app, "/fast/sync", "/fast/sync")
    assert first.json()["sessions"][0] != second.json()["sessions"][0]
    assert [s.closes for s in app.state.log.by_kind("session")] == [1, 1]


@pytest.mark.parametrize("path", ["/fast/raise", "/fast/sync-raise", "/di/raise"])
def test_raised_exception_rolls_back(app, path):
    response = get(app, path)
    assert response.status_code == 500
    session = only_session(app)
    assert session.events == ["rollback LookupError"] and session.closes == 1


@pytest.mark.parametrize("code", [404, 409, 422])
def test_http_exception_rolls_back(app, code):
    response = get(app, f"/fast/http/{code}")
    assert response.status_code == code
    assert only_session(app).events == ["rollback ErrorResponse"]


def test_returned_error_status_rolls_back_and_success_status_commits(app):
    failed, created = get(app, "/fast/status/503", "/fast/status/201")
    assert (failed.status_code, created.status_code) == (503, 201)
    events = {s.number: s.events for s in app.state.log.by_kind("session")}
    assert events[failed.json()["number"]] == ["rollback ErrorResponse"]
    assert events[created.json()["number"]] == ["commit"]


def test_failure_status_can_be_turned_off(twin):
    app = fastapi_app.build(twin, failure_status=None)
    assert get(app, "/fast/http/404").status_code == 404
    assert only_session(app).events == ["commit"]


def test_failure_status_is_checked():
    from di_scopes.asgi import ScopeMiddleware

    with pytest.raises(ValueError, match="failure_status"):
        ScopeMiddleware(None, failure_status=1000)


def test_session_lives_through_the_streamed_body_endpoint_resource_does_not(app):
    response = get(app, "/fast/stream")
    assert response.text == "0\n1\n2\n"
    # while the body streamed: the request's session open, the endpoint's resource closed
    assert app.state.log.seen["stream"] == [(False, True)] * 3
    session = only_session(app)
    (endpoint,) = app.state.log.by_kind("endpoint")
    assert session.events == endpoint.events == ["commit"]
    assert session.closes == endpoint.closes == 1


def test_session_lives_through_background_tasks(app):
    response = get(app, "/fast/background")
    assert response.status_code == 200
    assert app.state.log.seen["background"] is False  # open while the job ran
    assert only_session(app).closes == 1


@ANNOTATED_MARKERS
def test_dependency_injector_style_async_endpoint(app):
    response = get(app, "/di/async")
    session = only_session(app)
    assert response.json() == {"sessions": [session.number] * 5}
    assert session.events == ["commit"] and session.closes == 1


def test_dependency_injector_style_sync_endpoint_and_sync_sub_dependency(app):
    response = get(app, "/di/sync")
    session = only_session(app)
    assert response.json() == {"sessions": [session.number] * 3}
    assert session.closes == 1


def test_fast_path_keeps_the_openapi_schema_clean(app):
    schema = get(app, "/openapi.json").json()

    def parameters(path):
        return [p["name"] for p in schema["paths"][path]["get"].get("parameters", [])]

    assert parameters("/fast/async") == ["q"]
    assert parameters("/fast/sync") == []
    assert parameters("/fast/http/{code}") == ["code"]


def test_overrides_on_the_wired_container_are_honoured(app):
    container = app.state.container
    fake = fastapi_app.Tracked("fake")
    with container.session.override(providers.Object(fake)):
        response = get(app, "/fast/sync")
    assert response.json()["sessions"] == [fake.number] * 2
    assert app.state.log.by_kind("session") == []


def websocket_session(app, texts):
    """Drive one websocket connection through the ASGI app; return the JSON messages sent."""

    async def run():
        incoming = asyncio.Queue()
        sent = []
        await incoming.put({"type": "websocket.connect"})
        for text in texts:
            await incoming.put({"type": "websocket.receive", "text": text})

        async def receive():
            if incoming.empty():
                return {"type": "websocket.disconnect", "code": 1000}
            return await incoming.get()

        async def send(message):
            sent.append(message)

        scope = {
            "type": "websocket",
            "path": "/ws",
            "raw_path": b"/ws",
            "query_string": b"",
            "headers": [],
            "scheme": "ws",
            "server": ("test", 80),
            "client": ("c", 1),
            "root_path": "",
            "subprotocols": [],
            "asgi": {"version": "3.0"},
        }
        await app(scope, receive, send)
        return sent

    sent = asyncio.run(run())
    assert sent[0]["type"] == "websocket.accept"
    return [json.loads(m["text"]) for m in sent if m["type"] == "websocket.send"]


def test_websocket_connection_scope_and_message_scopes(app):
    first, second = websocket_session(app, ["one", "two"])
    (connection,) = app.state.log.by_kind("connection")
    assert first["connection"] == second["connection"] == connection.number
    assert first["message"] != second["message"]
    assert [m.closes for m in app.state.log.by_kind("message")] == [1, 1]
    assert connection.closes == 1 and connection.events == ["commit"]


def test_many_concurrent_requests_each_get_their_own_session(app):
    count = 500
    responses = get(app, *[f"/fast/concurrent/{i}" for i in range(count)])
    assert all(r.status_code == 200 for r in responses)
    numbers = [r.json()["number"] for r in responses]
    assert len(set(numbers)) == count  # none shared
    sessions = app.state.log.by_kind("session")
    assert len(sessions) == count
    assert all(s.closes == 1 and s.events == ["commit"] for s in sessions)  # each torn down once


def test_cancelled_request_rolls_back_and_closes(app):
    """A request cancelled mid-endpoint (the server shutting down, a timeout middleware) still
    tears its session down, with the cancellation thrown in."""

    async def run():
        started = app.state.log.seen["slow started"] = asyncio.Event()
        request = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/fast/slow",
            "raw_path": b"/fast/slow",
            "query_string": b"",
            "root_path": "",
            "headers": [],
            "client": ("c", 1),
            "server": ("s", 80),
        }

        async def receive():
            await asyncio.sleep(60)

        async def send(message):
            pass

        task = asyncio.ensure_future(app(request, receive, send))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    session = only_session(app)
    assert session.events == ["rollback CancelledError"] and session.closes == 1


def test_inject_reads_the_wiring_record_of_the_installed_dependency_injector(twin):
    from di_scopes.fastapi import inject

    @inject
    def endpoint(q: int, session=wiring.Provide["session"], closing=wiring.Closing[wiring.Provide["session"]]):
        return q

    assert list(inspect.signature(endpoint).parameters) == ["q"]


@pytest.mark.parametrize("change", ["no get_callable", "no record", "other shape"])
def test_inject_names_the_release_when_the_wiring_record_changed(twin, monkeypatch, change):
    from importlib.metadata import version

    from di_scopes.fastapi import inject

    real = wiring._patched_registry

    class Changed:
        """The registry as a later dependency-injector might shape it."""

        def __getattr__(self, name):
            if name == "get_callable":
                if change == "no get_callable":
                    raise AttributeError(name)
                if change == "no record":
                    return lambda fn: None
                return lambda fn: type("Record", (), {"injections": {}})()
            return getattr(real, name)

    monkeypatch.setattr(wiring, "_patched_registry", Changed())

    def endpoint(session=wiring.Provide["session"]): ...

    message = (
        rf"dependency-injector {re.escape(version('dependency-injector'))} records the markers of "
        r".*endpoint.*dependency_injector\.wiring\.inject"
    )
    with pytest.raises(RuntimeError, match=message):
        inject(endpoint)
