"""A function decorated with a scope keeps its signature: the tools that read parameters (typer,
click, FastStream, taskiq, arq, FastAPI) see the function's own, without the parameters that
dependency-injector's markers inject, which are resolved inside the scope, with or without
dependency-injector's ``@inject`` (above the scope decorator or below it)."""

# No "from __future__ import annotations": the frameworks resolve the annotations, some of names
# imported inside the tests.

import asyncio
import inspect
import sys
import warnings

import pytest
from dependency_injector import containers, providers, wiring
from dependency_injector.wiring import Provide

THIS = sys.modules[__name__]


class Session:
    def __init__(self, log):
        self.log = log
        self.number = len([entry for entry in log if entry.startswith("open")]) + 1


def container_for(impl, log):
    def open_session():
        session = Session(log)
        log.append(f"open {session.number}")
        try:
            yield session
            log.append(f"commit {session.number}")
        except BaseException as error:
            log.append(f"rollback {session.number} {type(error).__name__}")
            raise

    class Container(containers.DeclarativeContainer):
        session = impl.ContextLocalResource(open_session)
        greeting = providers.Object("hello")

    container = Container()
    container.wire(modules=[THIS])
    return container


@pytest.fixture
def log():
    return []


@pytest.fixture
def container(impl, log):
    container = container_for(impl, log)
    yield container
    container.unwire()


# The signature, as Python itself tells it ----------------------------------------------------------


def test_every_kind_of_function_keeps_its_signature_and_attributes(impl, container):
    def plain(a: int, b: str = "x", *, session: Session = Provide["session"]) -> str:
        """Docs."""
        return f"{a}{b}{session.number}"

    async def coroutine(a: int, session: Session = Provide["session"]) -> int:
        return a

    def generator(a: int, session: Session = Provide["session"]):
        yield a

    async def async_generator(a: int, session: Session = Provide["session"]):
        yield a

    plain.custom = "kept"
    for function, kind in (
        (plain, inspect.isfunction),
        (coroutine, inspect.iscoroutinefunction),
        (generator, inspect.isgeneratorfunction),
        (async_generator, inspect.isasyncgenfunction),
    ):
        decorated = impl.scope("job")(function)
        assert kind(decorated), function
        assert decorated.__wrapped__ is function
        assert decorated.__name__ == function.__name__ and decorated.__qualname__ == function.__qualname__
        assert "session" not in inspect.signature(decorated).parameters  # injected inside
        assert list(inspect.signature(decorated).parameters)[0] == "a"
    decorated = impl.scope(plain)
    assert str(inspect.signature(decorated)) == "(a: int, b: str = 'x') -> str"
    assert decorated.__doc__ == "Docs." and decorated.custom == "kept"
    container.wire(modules=[THIS])  # binds the markers of the functions just decorated
    assert decorated(1) == "1x1"


def test_a_function_without_markers_keeps_its_whole_signature(impl):
    def plain(a, b=2, *args, c, **kwargs):
        return a

    decorated = impl.scope(plain)
    assert inspect.signature(decorated) == inspect.signature(plain)
    assert decorated(1, c=3) == 1


# dependency-injector's @inject, above and below ----------------------------------------------------


@pytest.mark.parametrize("order", ["inject below", "inject above", "no inject"])
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_markers_are_resolved_inside_the_scope_in_either_order(impl, log, order, asynchronous):
    if asynchronous:

        async def job(n: int, session: Session = Provide["session"], greeting: str = Provide["greeting"]):
            assert impl.current_scope().name == "job"
            return n, session.number, greeting

    else:

        def job(n: int, session: Session = Provide["session"], greeting: str = Provide["greeting"]):
            assert impl.current_scope().name == "job"
            return n, session.number, greeting

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if order == "inject below":
            decorated = impl.scope("job")(wiring.inject(job))
        elif order == "inject above":
            decorated = wiring.inject(impl.scope("job")(job))
        else:
            decorated = impl.scope("job")(job)
    if order == "inject above":  # the scope decorator injects; dependency-injector says so
        assert any("not required" in str(w.message) for w in caught) or not hasattr(wiring, "DIWiringWarning")
    else:
        assert not caught, [str(w.message) for w in caught]
    THIS.decorated_job = decorated
    container = container_for(impl, log)
    try:
        calls = [decorated(1), decorated(2)]
        results = [asyncio.run(call) if asynchronous else call for call in calls]
    finally:
        container.unwire()
        del THIS.decorated_job
    assert results == [(1, 1, "hello"), (2, 2, "hello")]
    assert log == ["open 1", "commit 1", "open 2", "commit 2"]
    assert "session" not in inspect.signature(decorated).parameters


# Generators ------------------------------------------------------------------------------------------


def test_a_decorated_generator_runs_in_its_scope_and_keeps_it_to_itself(impl, container, log):
    @impl.scope("job")
    def items(session: Session = Provide["session"]):
        for index in range(3):
            yield index, session.number, impl.current_scope().name

    container.wire(modules=[THIS])
    with impl.scope("outer") as outer:
        seen = []
        for item in items():
            seen.append(item)
            assert impl.current_scope() is outer  # between items: the reader's own scope
        stopped = items()
        next(stopped)
        stopped.close()  # a reader that stops early
    assert seen == [(0, 1, "job"), (1, 1, "job"), (2, 1, "job")]
    assert log == ["open 1", "commit 1", "open 2", "rollback 2 GeneratorExit"]


def test_a_decorated_async_generator_runs_in_its_scope(impl, container, log):
    @impl.scope("job")
    async def items(session: Session = Provide["session"]):
        for index in range(2):
            await asyncio.sleep(0)
            yield index, session.number, impl.current_scope().name

    container.wire(modules=[THIS])

    async def main():
        return [item async for item in items()], impl.current_scope()

    seen, after = asyncio.run(main())
    assert seen == [(0, 1, "job"), (1, 1, "job")] and after is None
    assert log == ["open 1", "commit 1"]


def test_a_failing_generator_rolls_back(impl, container, log):
    @impl.scope("job")
    def items(session: Session = Provide["session"]):
        yield session.number
        raise LookupError("failed")

    container.wire(modules=[THIS])
    with pytest.raises(LookupError):
        list(items())
    assert log == ["open 1", "rollback 1 LookupError"]


# The tools that read parameters ------------------------------------------------------------------


def test_typer_reads_the_command_signature(twin, container, log):
    typer = pytest.importorskip("typer")
    from typer.testing import CliRunner

    app = typer.Typer()

    @app.command()
    @twin.scope("job")
    def greet(name: str, count: int = 1, session: Session = Provide["session"], greeting: str = Provide["greeting"]):
        for _ in range(count):
            print(f"{greeting} {name} in session {session.number}")

    container.wire(modules=[THIS])  # binds the markers of the functions just decorated
    result = CliRunner().invoke(app, ["ada", "--count", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["hello ada in session 1"] * 2
    assert log == ["open 1", "commit 1"]


@pytest.mark.parametrize("order", ["options above", "options below"])
def test_click_options_on_either_side(twin, container, log, order):
    import click
    from click.testing import CliRunner

    def body(count, session=Provide["session"]):
        click.echo(f"{count} {session.number} {twin.current_scope().name}")

    if order == "options above":
        command = click.command()(click.option("--count", type=int, default=1)(twin.scope("job")(body)))
    else:
        command = click.command()(twin.scope("job")(click.option("--count", type=int, default=1)(body)))
    container.wire(modules=[THIS])
    result = CliRunner().invoke(command, ["--count", "3"])
    assert result.exit_code == 0, result.output
    assert result.output == "3 1 job\n"
    assert log == ["open 1", "commit 1"]


def test_faststream_reads_the_handler_signature(twin, container, log):
    pytest.importorskip("faststream")
    from faststream.redis import RedisBroker, TestRedisBroker

    broker = RedisBroker()
    received = []

    @broker.subscriber("orders")
    @twin.scope("message")
    async def handle(order_id: int, note: str = "", session: Session = Provide["session"]):
        received.append((order_id, note, session.number, twin.current_scope().name))

    container.wire(modules=[THIS])

    async def main():
        async with TestRedisBroker(broker) as test_broker:
            await test_broker.publish({"order_id": 7, "note": "first"}, "orders")
            await test_broker.publish({"order_id": 8}, "orders")

    asyncio.run(main())
    assert received == [(7, "first", 1, "message"), (8, "", 2, "message")]
    assert log == ["open 1", "commit 1", "open 2", "commit 2"]


def test_taskiq_resolves_its_own_dependencies_beside_the_markers(twin, container, log):
    pytest.importorskip("taskiq")
    from taskiq import Context, InMemoryBroker, TaskiqDepends

    broker = InMemoryBroker()

    def multiplier() -> int:
        return 10

    @broker.task
    @twin.scope("task")
    async def compute(
        a: int,
        factor: int = TaskiqDepends(multiplier),
        context: Context = TaskiqDepends(),
        session: Session = Provide["session"],
    ) -> list:
        return [a * factor, session.number, type(context).__name__, twin.current_scope().name]

    container.wire(modules=[THIS])

    async def main():
        await broker.startup()
        try:
            task = await compute.kiq(4)
            result = await task.wait_result(timeout=10)
        finally:
            await broker.shutdown()
        return result

    result = asyncio.run(main())
    assert not result.is_err, result.error
    assert result.return_value == [40, 1, "Context", "task"]
    assert log == ["open 1", "commit 1"]


@pytest.mark.slow
def test_arq_runs_a_decorated_job_on_a_real_redis(twin, container, log, redis_url):
    pytest.importorskip("arq")
    from arq import create_pool
    from arq.connections import RedisSettings
    from arq.worker import Worker, func

    @twin.scope("job")
    async def charge(ctx, account: int, amount: int = 1, session: Session = Provide["session"]) -> list:
        return [account, amount, ctx["job_try"], session.number, twin.current_scope().name]

    container.wire(modules=[THIS])
    settings = RedisSettings.from_dsn(redis_url)

    async def main():
        pool = await create_pool(settings)
        try:
            job = await pool.enqueue_job("charge", 12, amount=5)
            worker = Worker(
                functions=[func(charge, name="charge")], redis_settings=settings, burst=True, poll_delay=0.05
            )
            try:
                await worker.main()
            finally:
                await worker.close()
            return await job.result(timeout=10)
        finally:
            await pool.aclose()

    assert asyncio.run(main()) == [12, 5, 1, 1, "job"]
    assert log == ["open 1", "commit 1"]


def test_fastapi_reads_the_endpoint_signature(twin, container, log):
    import httpx
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/items/{item_id}")
    @twin.scope("job")
    async def read(item_id: int, q: str = "", session: Session = Provide["session"]):
        return {"item_id": item_id, "q": q, "session": session.number, "scope": twin.current_scope().name}

    container.wire(modules=[THIS])

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.get("/items/3?q=x")).json()

    assert asyncio.run(main()) == {"item_id": 3, "q": "x", "session": 1, "scope": "job"}
    assert "session" not in str(app.openapi())
    assert log == ["open 1", "commit 1"]
