"""Through a real uvicorn server on a loopback port: every request its own instance, each torn
down exactly once, none shared."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import fastapi_app
import httpx
import pytest
import uvicorn

pytestmark = pytest.mark.slow


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1 from a thread; stops on exit, bounded in time."""

    def __init__(self, app):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=10)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self.url

    def __exit__(self, *exc_info):
        self.server.should_exit = True
        self.thread.join(30)
        self.socket.close()
        assert not self.thread.is_alive(), "uvicorn did not stop"


def test_concurrent_requests_through_uvicorn(twin):
    app = fastapi_app.build(twin)
    count = 300
    paths = [f"/fast/concurrent/{i}" if i % 3 else "/fast/sync" for i in range(count)]

    async def run(url):
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            return await asyncio.gather(*(client.get(path) for path in paths))

    with ServerThread(app) as url:
        responses = asyncio.run(run(url))
    assert [r.status_code for r in responses] == [200] * count
    numbers = [r.json().get("number") or r.json()["sessions"][0] for r in responses]
    assert len(set(numbers)) == count  # every request its own session
    sessions = app.state.log.by_kind("session")
    assert len(sessions) == count
    assert all(s.closes == 1 and s.events == ["commit"] for s in sessions)


def test_failures_through_uvicorn(twin):
    app = fastapi_app.build(twin)
    with ServerThread(app) as url:
        with httpx.Client(base_url=url, timeout=30) as client:
            statuses = [
                client.get("/fast/http/404").status_code,
                client.get("/fast/status/503").status_code,
                client.get("/fast/raise", headers={"Connection": "close"}).status_code,
            ]
    assert statuses == [404, 503, 500]
    assert [s.events for s in app.state.log.by_kind("session")] == [
        ["rollback ErrorResponse"],
        ["rollback ErrorResponse"],
        ["rollback LookupError"],
    ]


# dependency-injector's giphynavigator example (examples/miniapps/fastapi), ported to di-scopes:
# the HTTP client session is a scoped async resource, the API client a Factory over it, and the
# search service a Factory over the API client alone, the shape that once answered every request
# after the first with 500 ('_asyncio.Future' object has no attribute 'search').


class GiphyClient:
    def __init__(self, session, api_key, timeout):
        self.session, self.api_key, self.timeout = session, api_key, timeout

    async def search(self, query, limit):
        await asyncio.sleep(0)  # the HTTP call
        return {"data": [{"url": f"https://giphy.example/{query}/{n}"} for n in range(limit)]}


class SearchService:
    def __init__(self, giphy_client):
        self._giphy_client = giphy_client

    async def search(self, query, limit):
        if not query:
            return []
        result = await self._giphy_client.search(query, limit)
        return [{"url": gif["url"]} for gif in result["data"]]


def giphynavigator(twin):
    from dependency_injector import containers, providers, wiring
    from fastapi import Depends, FastAPI

    from di_scopes import asgi
    from di_scopes import fastapi as di_fastapi

    sessions = []

    async def client_session():
        session = {"closed": False, "number": len(sessions) + 1}
        sessions.append(session)
        try:
            yield session
        finally:
            session["closed"] = True

    class Container(containers.DeclarativeContainer):
        config = providers.Configuration()
        http_session = twin.ContextLocalResource(client_session)
        giphy_client = providers.Factory(
            GiphyClient, session=http_session, api_key=config.giphy.api_key, timeout=config.giphy.request_timeout
        )
        search_service = providers.Factory(SearchService, giphy_client=giphy_client)

    app = FastAPI()
    app.add_middleware(asgi.ScopeMiddleware)

    @app.get("/")
    @di_fastapi.inject
    async def index(
        query: str = "Dependency Injector",
        limit: int = 3,
        search_service: SearchService = Depends(wiring.Provide[Container.search_service]),
    ):
        gifs = await search_service.search(query, limit)
        return {"query": query, "limit": limit, "gifs": gifs}

    container = Container()
    container.config.from_dict({"giphy": {"api_key": "test", "request_timeout": 10}})
    container.wire(modules=[__name__])
    return app, container, sessions


def test_dependency_injectors_giphynavigator_example_through_uvicorn(twin):
    app, container, sessions = giphynavigator(twin)
    count = 200
    paths = [f"/?query=q{n}&limit={n % 4}" for n in range(count)]

    async def run(url):
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            return await asyncio.gather(*(client.get(path) for path in paths))

    try:
        with ServerThread(app) as url:
            responses = asyncio.run(run(url))
    finally:
        container.unwire()
    assert [r.status_code for r in responses] == [200] * count
    for n, response in enumerate(responses):
        assert response.json()["gifs"] == [{"url": f"https://giphy.example/q{n}/{i}"} for i in range(n % 4)]
    assert len(sessions) == count and all(session["closed"] for session in sessions)
    assert container.search_service.is_async_mode_enabled() and container.giphy_client.is_async_mode_enabled()


def test_an_application_scope_spans_the_lifespan_and_requests_nest_in_it(twin):
    """ScopeMiddleware(app_scope="app"): the application's lifespan runs in a scope of its own,
    which its startup code resolves in and every request's scope nests in; torn down at shutdown,
    after the requests."""
    import contextlib

    from dependency_injector import containers, wiring
    from fastapi import Depends, FastAPI

    import di_scopes
    from di_scopes import asgi
    from di_scopes import fastapi as di_fastapi

    log = []

    def open_pool():
        log.append("pool open")
        yield {"pool": len([entry for entry in log if entry == "pool open"])}
        log.append("pool closed")

    def open_session(pool):
        number = len([entry for entry in log if entry.startswith("session")]) + 1
        log.append(f"session {number}")
        yield {"session": number, "pool": pool}

    class Container(containers.DeclarativeContainer):
        pool = twin.ContextLocalResource(open_pool).in_scope("app")
        session = twin.ContextLocalResource(open_session, pool)
        application = twin.ScopeValue(di_scopes.APP)

    container = Container()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        started = container.pool()  # the startup code resolves in the application's scope
        log.append(f"startup with pool {started['pool']}")
        yield
        log.append("shutdown")

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(asgi.ScopeMiddleware, app_scope="app")

    @app.get("/")
    @di_fastapi.inject
    async def endpoint(
        session=Depends(wiring.Provide[Container.session]), application=Depends(wiring.Provide[Container.application])
    ):
        return {"session": session["session"], "pool": session["pool"]["pool"], "lifespan": application["type"]}

    container.wire(modules=[__name__])
    server = ServerThread(app)
    server.server.config.lifespan = "on"
    try:
        with server as url:
            with httpx.Client(base_url=url, timeout=30) as client:
                bodies = [client.get("/").json() for _ in range(3)]
    finally:
        container.unwire()
    assert bodies == [{"session": n, "pool": 1, "lifespan": "lifespan"} for n in (1, 2, 3)]
    assert log == ["pool open", "startup with pool 1", "session 1", "session 2", "session 3", "shutdown", "pool closed"]
