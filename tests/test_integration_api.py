"""di_scopes.integration, the shared core as a public API: integrations for frameworks di-scopes
has no module for, written in a few lines, on Sanic's own server and on Litestar."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest
import servers
from dependency_injector import containers

import di_scopes
from di_scopes import integration

HERE = Path(__file__).parent


@pytest.mark.slow
def test_sanic_on_its_own_server(twin_name):
    pytest.importorskip("sanic")
    port = servers.free_port()
    command = [sys.executable, str(HERE / "sanic_app.py"), str(port)]
    with servers.http_server("sanic", command, port, "/log", servers.twin_environment(twin_name), timeout=60) as url:
        with httpx.Client(base_url=url, timeout=30) as client:
            ok = client.get("/ok")
            statuses = [client.get(path).status_code for path in ("/raise", "/missing", "/status/409", "/status/201")]
            log = client.get("/log").json()
    assert ok.json() == {"session": 1, "path": "/ok", "again": 1}
    assert statuses == [500, 404, 409, 201]
    assert log == [
        "open 1",
        "commit 1",
        "open 2",
        "rollback 2 LookupError",
        "open 3",
        "rollback 3 NotFound",
        "open 4",
        "rollback 4 ErrorResponse",
        "open 5",
        "commit 5",
    ]


def test_litestar_with_the_asgi_middleware_and_its_hooks(twin):
    pytest.importorskip("litestar")
    from litestar import Litestar, Request, get
    from litestar.exceptions import NotFoundException
    from litestar.testing import TestClient

    from di_scopes.asgi import ScopeMiddleware

    log = []

    def open_session():
        number = len([entry for entry in log if entry.startswith("open")]) + 1
        log.append(f"open {number}")
        try:
            yield number
            log.append(f"commit {number}")
        except BaseException as error:
            log.append(f"rollback {number} {type(error).__name__}")
            raise

    class Container(containers.DeclarativeContainer):
        session = twin.ContextLocalResource(open_session)
        request = twin.ScopeValue(di_scopes.REQUEST)

    container = Container()

    # The integration: the ASGI middleware, and two of Litestar's hooks.
    async def put_request(request: Request) -> None:
        twin.current_scope().set_value(di_scopes.REQUEST, request)

    async def note(exception: Exception, scope: dict) -> None:
        integration.note_error(exception)

    @get("/ok")
    async def ok() -> dict:
        return {"session": container.session(), "request": type(container.request()).__name__}

    @get("/raise")
    async def fail() -> None:
        container.session()
        raise LookupError("handler failed")

    @get("/missing")
    async def missing() -> None:
        container.session()
        raise NotFoundException("no such thing")

    app = Litestar(
        route_handlers=[ok, fail, missing],
        middleware=[ScopeMiddleware],
        before_request=put_request,
        after_exception=[note],
    )
    with TestClient(app) as client:
        assert client.get("/ok").json() == {"session": 1, "request": "Request"}
        assert [client.get(path).status_code for path in ("/raise", "/missing")] == [500, 404]
    assert log == ["open 1", "commit 1", "open 2", "rollback 2 LookupError", "open 3", "rollback 3 NotFoundException"]


def test_enter_and_end_by_the_failure_policy(twin):
    log = []

    def resource():
        try:
            yield "session"
            log.append("commit")
        except BaseException as error:
            log.append(f"rollback {type(error).__name__}")
            raise

    session = twin.ContextLocalResource(resource)
    value = twin.ScopeValue(di_scopes.REQUEST)

    scope = integration.enter({"path": "/"})
    assert twin.current_scope() is scope and value() == {"path": "/"} and session() == "session"
    integration.end(scope, status=200)
    scope = integration.enter(name="job")
    session()
    integration.end(scope, status=503)
    scope = integration.enter()
    session()
    integration.note_error(KeyError("noted"))
    integration.end(scope, status=200)
    assert log == ["commit", "rollback ErrorResponse", "rollback KeyError"]
    assert twin.current_scope() is None

    async def main():
        scope = integration.enter()
        session()
        await integration.aend(scope, LookupError("failed"))

    asyncio.run(main())
    assert log[-1] == "rollback LookupError"
    with pytest.raises(di_scopes.ScopeError, match="no current scope"):
        integration.note_error(KeyError("nowhere"))
    scope = integration.enter()
    with pytest.raises(ValueError, match="failure_status"):
        integration.end(scope, failure_status=1000)
    integration.end(scope)
    assert twin.current_scope() is None
