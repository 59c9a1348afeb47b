"""Real transactions on a throwaway PostgreSQL server (see conftest.postgres_server_url)."""

import asyncio

import psycopg
import pytest
from dependency_injector import containers, providers
from sqlalchemy import Column, Integer, String, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import declarative_base

import bank
import servers
from di_scopes.sqlalchemy import async_transaction


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
            idle = (await connection.execute(text("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"))).scalar()
        await container.engine().dispose()
        return names, idle

    names, idle = asyncio.run(main())
    assert sorted(names) == sorted(["kept"] + [f"task {i}" for i in range(25)])  # no "cancelled"
    assert idle == 0  # every session was closed, none left a transaction open
