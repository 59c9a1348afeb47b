"""Through a real uvicorn server on a loopback port: every request its own instance, each torn
down exactly once, none shared."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import uvicorn

import fastapi_app


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1 from a thread; stops on exit, bounded in time."""

    def __init__(self, app):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d" % self.socket.getsockname()[1]
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
