"""A FastAPI application for the integration tests, built on one twin.

Every resource is a ``Tracked`` object that records what happened to it, so a test can check
which requests shared an instance and how each instance ended.
"""

# No "from __future__ import annotations": dependency-injector reads Annotated markers from
# evaluated annotations.

import asyncio
import itertools
import threading
from typing import Annotated, Any

from dependency_injector import containers, providers, wiring
from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, WebSocket
from fastapi.responses import JSONResponse, StreamingResponse

from di_scopes import asgi
from di_scopes import fastapi as di_fastapi


class Tracked:
    """A stand-in for a database session: knows whether it committed, rolled back, closed."""

    numbers = itertools.count(1)

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.number = next(self.numbers)
        self.events: list[str] = []
        self.closes = 0
        self.thread = threading.get_ident()

    @property
    def closed(self) -> bool:
        return self.closes > 0


class Log:
    """Everything the application created and saw, for the test to inspect."""

    def __init__(self) -> None:
        self.instances: list[Tracked] = []
        self.seen: dict[str, Any] = {}

    def by_kind(self, kind: str) -> list[Tracked]:
        return [t for t in self.instances if t.kind == kind]


def tracked_resource(log: Log, kind: str):
    def resource():
        instance = Tracked(kind)
        log.instances.append(instance)
        try:
            yield instance
            instance.events.append("commit")
        except BaseException as error:
            instance.events.append(f"rollback {type(error).__name__}")
            raise
        finally:
            instance.closes += 1

    resource.__qualname__ = f"{kind}_resource"
    return resource


class Repository:
    def __init__(self, session: Tracked) -> None:
        self.session = session


def build(twin, *, failure_status=400):
    """The application, its container and its log, on ``twin``."""
    log = Log()

    class Container(containers.DeclarativeContainer):
        session = twin.ContextLocalResource(tracked_resource(log, "session"))
        repository = providers.Factory(Repository, session=session)
        per_endpoint = twin.ContextLocalResource(tracked_resource(log, "endpoint")).in_scope("endpoint")
        connection = twin.ContextLocalResource(tracked_resource(log, "connection")).in_scope("request")
        per_message = twin.ContextLocalResource(tracked_resource(log, "message"))

    app = FastAPI()
    app.add_middleware(asgi.ScopeMiddleware, failure_status=failure_status)

    def numbers(*sessions: Tracked) -> list[int]:
        return [s.number for s in sessions]

    # The fast path ---------------------------------------------------------------------------

    @app.get("/fast/async")
    @di_fastapi.inject
    async def fast_async(
        a: Tracked = Depends(wiring.Provide[Container.session]),
        b: Annotated[Tracked, Depends(wiring.Provide[Container.session])] = None,
        repository: Repository = wiring.Provide[Container.repository],
        q: int = 0,
    ):
        return {"sessions": numbers(a, b, repository.session), "q": q}

    @app.get("/fast/sync")
    @di_fastapi.inject
    def fast_sync(
        a: Tracked = Depends(wiring.Provide[Container.session]),
        repository: Repository = Depends(wiring.Provide[Container.repository]),
    ):
        return {"sessions": numbers(a, repository.session), "thread": a.thread}

    @app.get("/fast/raise")
    @di_fastapi.inject
    async def fast_raise(session: Tracked = Depends(wiring.Provide[Container.session])):
        raise LookupError("endpoint failed")

    @app.get("/fast/sync-raise")
    @di_fastapi.inject
    def fast_sync_raise(session: Tracked = Depends(wiring.Provide[Container.session])):
        raise LookupError("endpoint failed")

    @app.get("/fast/http/{code}")
    @di_fastapi.inject
    async def fast_http(code: int, session: Tracked = Depends(wiring.Provide[Container.session])):
        raise HTTPException(status_code=code, detail="nope")

    @app.get("/fast/status/{code}")
    @di_fastapi.inject
    async def fast_status(code: int, session: Tracked = Depends(wiring.Provide[Container.session])):
        return JSONResponse({"number": session.number}, status_code=code)

    @app.get("/fast/stream")
    @di_fastapi.inject
    async def fast_stream(
        session: Tracked = Depends(wiring.Provide[Container.session]),
        endpoint: Tracked = Depends(wiring.Provide[Container.per_endpoint]),
    ):
        async def body():
            for index in range(3):
                await asyncio.sleep(0)
                log.seen.setdefault("stream", []).append((session.closed, endpoint.closed))
                yield f"{index}\n"

        return StreamingResponse(body())

    @app.get("/fast/background")
    @di_fastapi.inject
    async def fast_background(
        tasks: BackgroundTasks,
        session: Tracked = Depends(wiring.Provide[Container.session]),
    ):
        def job():
            log.seen["background"] = session.closed

        tasks.add_task(job)
        return {"number": session.number}

    @app.get("/fast/concurrent/{index}")
    @di_fastapi.inject
    async def fast_concurrent(index: int, session: Tracked = Depends(wiring.Provide[Container.session])):
        await asyncio.sleep(0.001)
        return {"index": index, "number": session.number}

    @app.get("/fast/slow")
    @di_fastapi.inject
    async def fast_slow(session: Tracked = Depends(wiring.Provide[Container.session])):
        log.seen["slow started"].set()
        await asyncio.sleep(60)  # the request is cancelled meanwhile

    log.seen["slow started"] = asyncio.Event()

    # dependency-injector's own style ----------------------------------------------------------

    @wiring.inject
    def sync_sub_dependency(session: Tracked = Depends(wiring.Provide[Container.session])) -> Tracked:
        return session

    @wiring.inject
    async def async_sub_dependency(session: Tracked = Depends(wiring.Provide[Container.session])) -> Tracked:
        return session

    @app.get("/di/async")
    @wiring.inject
    async def di_async(
        b: Annotated[Tracked, Depends(wiring.Provide[Container.session])],
        a: Tracked = Depends(wiring.Provide[Container.session]),
        c: Tracked = Depends(sync_sub_dependency),
        d: Tracked = Depends(async_sub_dependency),
        repository: Repository = Depends(wiring.Provide[Container.repository]),
    ):
        return {"sessions": numbers(a, b, c, d, repository.session)}

    @app.get("/di/sync")
    @wiring.inject
    def di_sync(
        a: Tracked = Depends(wiring.Provide[Container.session]),
        c: Tracked = Depends(sync_sub_dependency),
        repository: Repository = Depends(wiring.Provide[Container.repository]),
    ):
        return {"sessions": numbers(a, c, repository.session)}

    @app.get("/di/raise")
    @wiring.inject
    def di_raise(a: Tracked = Depends(wiring.Provide[Container.session])):
        raise LookupError("endpoint failed")

    # Websockets: one scope per connection, one nested scope per message ----------------------

    @app.websocket("/ws")
    @di_fastapi.inject
    async def websocket(
        websocket: WebSocket,
        connection: Tracked = Depends(wiring.Provide[Container.connection]),
    ):
        await websocket.accept()
        async for text in websocket.iter_text():
            async with twin.scope("message"):
                message = container.per_message()
                await websocket.send_json({"connection": connection.number, "message": message.number, "text": text})

    container = Container()
    container.wire(modules=[__name__])
    app.state.container = container
    app.state.log = log
    return app
