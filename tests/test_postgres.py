"""Real transactions on a throwaway PostgreSQL server (see conftest.postgres_server_url)."""

import asyncio
import time

import bank
import psycopg
import pytest
import servers
from dependency_injector import containers, providers
from sqlalchemy import Column, Integer, String, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import declarative_base

from di_scopes.sqlalchemy import async_transaction

pytestmark = pytest.mark.slow


def query(url, sql):
    """Read the database through a connection of its own."""
    dbname = url.split("/")[3].split("?")[0]
    host = url.split("host=", 1)[1]
    with psycopg.connect(host=host, user="postgres", dbname=dbname) as connection:
        return connection.execute(sql).fetchall()


def test_bank_workload_under_uvicorn(twin_name, postgres_url):
    env = servers.twin_environment(twin_name, DATABASE_URL=postgres_url)
    with servers.uvicorn_server("examples.fastapi_sqlalchemy.app:app", env) as base:
        assert bank.workload(base) == bank.EXPECTED
        # a failing request leaves no rows behind, a succeeding one commits
        assert query(postgres_url, "SELECT owner, balance FROM accounts ORDER BY id") == [("ada", 70), ("bob", 80)]
        # concurrent transfers lock the same two rows: with one session per request they queue
        # up and all commit; none deadlocks or waits on its own request's other session
        statuses = bank.concurrent_transfers(base, 1, 2, 120)
    assert statuses == [200] * 120
    assert query(postgres_url, "SELECT owner, balance FROM accounts ORDER BY id") == [("ada", 70), ("bob", 80)]
    assert query(postgres_url, "SELECT count(*) FROM entries WHERE note LIKE 'to %'") == [(121,)]


Base = declarative_base()


class Item(Base):
    __tablename__ = "items"
    id = Column(Integer, primary_key=True)
    name = Column(String(50), unique=True, nullable=False)


def test_async_transaction_commits_rolls_back_and_isolates_tasks(twin, postgres_url):
    class Container(containers.DeclarativeContainer):
        engine = providers.Singleton(create_async_engine, postgres_url, pool_size=30)
        session_factory = providers.Singleton(async_sessionmaker, bind=engine)
        session = twin.ContextLocalResource(async_transaction, session_factory)

    container = Container()

    async def add(name, fail=False):
        async with twin.scope():
            session = await container.session()
            assert session is await container.session()
            session.add(Item(name=name))
            await session.flush()
            if fail:
                raise RuntimeError("after the insert")
            return id(session)

    async def main():
        async with container.engine().begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        assert isinstance(await add("kept"), int)
        with pytest.raises(RuntimeError):
            await add("rolled back", fail=True)
        sessions = await asyncio.gather(*(add(f"task {i}") for i in range(25)))
        assert len(set(sessions)) == 25
        async with twin.scope():  # a cancelled scope still rolls back and closes
            task = asyncio.ensure_future(add("cancelled"))
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with container.engine().connect() as connection:
            names = (await connection.execute(select(Item.name).order_by(Item.id))).scalars().all()
            idle = (
                await connection.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")
                )
            ).scalar()
        await container.engine().dispose()
        return names, idle

    names, idle = asyncio.run(main())
    assert sorted(names) == sorted(["kept"] + [f"task {i}" for i in range(25)])  # no "cancelled"
    assert idle == 0  # every session was closed, none left a transaction open


def test_disconnects_and_cancellations_under_uvicorn_roll_back_and_close_once(twin, postgres_url):
    """Soak: requests that commit, clients that leave in the middle of a streamed body, and
    requests cancelled (a timeout) while their session is still being set up, concurrently, on
    PostgreSQL under uvicorn. Each session commits or rolls back as its request ended, and closes
    exactly once; only the committed rows are there; no transaction is left open."""
    import threading

    import httpx
    from dependency_injector import wiring
    from fastapi import Depends, FastAPI
    from fastapi.responses import StreamingResponse
    from sqlalchemy.ext.asyncio import AsyncSession
    from test_disconnects import read_first_chunk_and_leave
    from test_uvicorn import ServerThread

    import di_scopes
    import di_scopes.fastapi
    from di_scopes.asgi import ScopeMiddleware

    records = []
    lock = threading.Lock()

    async def transaction(factory, request):
        record = {"path": request["path"], "events": [], "closes": 0}
        with lock:
            records.append(record)
        if request["path"].startswith("/slow-setup"):
            await asyncio.sleep(0.5)  # a slow connection: the request is cancelled meanwhile
        session = factory()
        try:
            yield session
            await session.commit()
            record["events"].append("commit")
        except BaseException as error:
            await session.rollback()
            record["events"].append(f"rollback {type(error).__name__}")
            raise
        finally:
            await session.close()
            record["closes"] += 1

    class Container(containers.DeclarativeContainer):
        engine = providers.Singleton(create_async_engine, postgres_url, pool_size=20, max_overflow=20)
        session_factory = providers.Singleton(async_sessionmaker, bind=engine)
        session = twin.ContextLocalResource(transaction, session_factory, twin.ScopeValue(di_scopes.REQUEST))

    api = FastAPI()

    @api.get("/write/{name}")
    @di_scopes.fastapi.inject
    async def write(name: str, session: AsyncSession = Depends(wiring.Provide[Container.session])):
        session.add(Item(name=name))
        await session.flush()
        return {"name": name}

    @api.get("/stream/{name}")
    @di_scopes.fastapi.inject
    async def stream(name: str, session: AsyncSession = Depends(wiring.Provide[Container.session])):
        session.add(Item(name=name))
        await session.flush()

        async def body():
            for index in range(400):
                await asyncio.sleep(0.005)
                yield f"{index}\n"

        return StreamingResponse(body())

    @api.get("/slow-setup/{name}")
    @di_scopes.fastapi.inject
    async def slow_setup(name: str, session: AsyncSession = Depends(wiring.Provide[Container.session])):
        session.add(Item(name=name))
        await session.flush()
        return {"name": name}

    scoped = ScopeMiddleware(api)

    async def app(scope, receive, send):  # a timeout middleware, outside the scope's
        if scope["type"] == "http" and scope["path"].startswith("/slow-setup"):
            await asyncio.wait_for(scoped(scope, receive, send), 0.1)
        else:
            await scoped(scope, receive, send)

    container = Container()
    container.wire(modules=[__name__])

    async def create_tables():
        async with container.engine().begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await container.engine().dispose()

    asyncio.run(create_tables())
    count = 15

    async def clients(url, port):
        limits = httpx.Limits(max_connections=30)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            return await asyncio.gather(
                *(client.get(f"/write/w{i}") for i in range(count)),
                *(client.get(f"/slow-setup/s{i}") for i in range(count)),
                *(asyncio.to_thread(read_first_chunk_and_leave, port, f"/stream/d{i}") for i in range(count)),
            )

    try:
        with ServerThread(app) as url:
            results = asyncio.run(clients(url, int(url.rsplit(":", 1)[1])))
            deadline = time.monotonic() + 30
            while not (len(records) == 3 * count and all(r["closes"] for r in records)):
                assert time.monotonic() < deadline, records
                time.sleep(0.05)
    finally:
        container.unwire()
    statuses = [r.status_code for r in results[: 2 * count]]
    assert statuses == [200] * count + [500] * count
    assert all(b"200 OK" in head for head in results[2 * count :])
    by_kind = {}
    for record in records:
        assert record["closes"] == 1, record
        by_kind.setdefault(record["path"].split("/")[1], []).append(record["events"])
    assert by_kind == {
        "write": [["commit"]] * count,
        "slow-setup": [["rollback CancelledError"]] * count,
        "stream": [["rollback ClientDisconnected"]] * count,
    }
    names = [row[0] for row in query(postgres_url, "SELECT name FROM items ORDER BY name")]
    assert names == sorted(f"w{i}" for i in range(count))
    assert query(postgres_url, "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'") == [(0,)]
