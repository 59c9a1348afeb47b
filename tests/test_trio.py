"""anyio's backends: FastAPI and Starlette run on anyio, so an application may run on trio.

Synchronous resources work fully on both backends, those made in worker threads included; an
asynchronous resource needs asyncio, and says so at its first resolve under trio. anyio's pytest
plugin runs each test here once per backend.
"""

from __future__ import annotations

import anyio
import pytest

from di_scopes import ScopeError

pytest.importorskip("trio")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param


def sync_session(log):
    def session():
        log.append("open")
        try:
            yield "session"
            log.append("commit")
        except BaseException as error:
            log.append(f"rollback {type(error).__name__}")
            raise
        finally:
            log.append("close")

    return session


@pytest.mark.anyio
async def test_a_sync_resource_made_in_a_worker_thread_is_torn_down(impl, anyio_backend):
    log = []
    session = impl.ContextLocalResource(sync_session(log))
    async with impl.scope():
        # as a def endpoint resolves it in the thread pool
        assert await anyio.to_thread.run_sync(session) == "session"
        assert session() == "session"
    assert log == ["open", "commit", "close"]


@pytest.mark.anyio
async def test_a_failure_rolls_a_thread_made_resource_back(impl, anyio_backend):
    log = []
    session = impl.ContextLocalResource(sync_session(log))
    with pytest.raises(LookupError):
        async with impl.scope():
            await anyio.to_thread.run_sync(session)
            raise LookupError("failed")
    assert log == ["open", "rollback LookupError", "close"]


@pytest.mark.anyio
async def test_an_async_resource_needs_asyncio(impl, anyio_backend):
    log = []

    async def async_session():
        log.append("open")
        yield "session"
        log.append("commit")

    session = impl.ContextLocalResource(async_session)
    async with impl.scope():
        if anyio_backend == "asyncio":
            assert await session() == "session"
        else:
            with pytest.raises(ScopeError) as raised:
                await session()
            message = str(raised.value)
            assert "resources need asyncio" in message and "runs on trio" in message
    assert log == (["open", "commit"] if anyio_backend == "asyncio" else [])


@pytest.mark.anyio
async def test_a_starlette_app_with_a_def_endpoint_on_either_backend(impl, anyio_backend, monkeypatch):
    import httpx
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from di_scopes import _select
    from di_scopes.asgi import ScopeMiddleware

    monkeypatch.setattr(_select, "_active", impl)
    log = []
    session = impl.ContextLocalResource(sync_session(log))

    def endpoint(request):  # Starlette runs it in the thread pool
        return PlainTextResponse(session())

    def failing(request):
        session()
        raise LookupError("failed")

    app = Starlette(routes=[Route("/", endpoint), Route("/fail", failing)])
    app.add_middleware(ScopeMiddleware)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/")).text == "session"
        assert (await client.get("/fail")).status_code == 500
    assert log == ["open", "commit", "close", "open", "rollback LookupError", "close"]
