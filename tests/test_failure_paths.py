"""Failure paths: nothing committed that should roll back, nothing handed out after teardown.

Each test runs against both twins (``impl``) and would have failed before its fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc

import pytest

from di_scopes import ScopeError


def session_resource(log, *, setup=None, teardown=None):
    """An async-generator session that logs how it ended; ``setup``/``teardown`` are awaited
    before it yields and after (database I/O)."""

    async def session():
        if setup is not None:
            await setup()
        log.append("open")
        try:
            yield "session"
            if teardown is not None:
                await teardown()
            log.append("commit")
        except BaseException as error:
            log.append(f"rollback {type(error).__name__}")
            raise
        finally:
            log.append("close")

    return session


def collect_loop_errors(loop, errors):
    loop.set_exception_handler(lambda loop, context: errors.append(context))


# A task of the request resolving while the scope's teardown is suspended ------------------------


def test_a_task_of_the_request_gets_no_instance_once_teardown_began(impl):
    log = []
    teardown_started = asyncio.Event()
    finish_teardown = asyncio.Event()

    async def slow_commit():
        teardown_started.set()
        await finish_teardown.wait()  # an AsyncSession commit

    session = impl.ContextLocalResource(session_resource(log, teardown=slow_commit))
    other = impl.ContextLocalSingleton(list)

    async def main():
        results = {}

        async def late_writer():
            await teardown_started.wait()
            for name, provider in (("session", session), ("other", other)):
                try:
                    results[name] = await provider() if name == "session" else provider()
                except ScopeError as error:
                    results[name] = error
            finish_teardown.set()

        async with impl.scope() as scope:
            await session()
            other()
            writer = asyncio.create_task(late_writer())
        await writer
        return scope, results

    scope, results = asyncio.run(main())
    assert log == ["open", "commit", "close"]
    assert scope.closed
    for name in ("session", "other"):
        assert isinstance(results[name], ScopeError), results[name]
        assert "closed or closing" in str(results[name])


def test_a_resolve_from_a_teardown_raises_scope_error(impl):
    """A teardown that resolves a provider of its own scope finds it closing, sync as async."""
    log = []
    other = impl.ContextLocalSingleton(list)

    def resource():
        yield "resource"
        try:
            other()
        except ScopeError as error:
            log.append(type(error).__name__)

    provider = impl.ContextLocalResource(resource)
    with impl.scope():
        other()
        provider()
    assert log == ["ScopeError"]


# A request cancelled while its session is still being set up -----------------------------------


@pytest.mark.parametrize("awaiters", [1, 2])
def test_a_request_cancelled_during_setup_rolls_the_late_session_back(impl, awaiters):
    log = []
    setup_started = asyncio.Event()
    finish_setup = asyncio.Event()

    async def slow_connect():
        setup_started.set()
        await finish_setup.wait()  # a connection pool checkout

    session = impl.ContextLocalResource(session_resource(log, setup=slow_connect))
    errors = []

    async def main():
        collect_loop_errors(asyncio.get_running_loop(), errors)

        async def request():
            async with impl.scope():
                await asyncio.gather(*(session() for _ in range(awaiters)))

        task = asyncio.create_task(request())
        await setup_started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        finish_setup.set()
        for _ in range(10):
            await asyncio.sleep(0)
        gc.collect()
        await asyncio.sleep(0)

    asyncio.run(main())
    gc.collect()
    assert log == ["open", "rollback CancelledError", "close"]
    assert errors == []


def test_a_late_creation_after_a_successful_scope_is_rolled_back(impl):
    """A creation still in flight when the scope ended without error was not part of its work:
    it is rolled back with the ScopeError that says so."""
    log = []
    finish_setup = asyncio.Event()

    async def slow_connect():
        await finish_setup.wait()

    session = impl.ContextLocalResource(session_resource(log, setup=slow_connect))
    errors = []

    async def main():
        collect_loop_errors(asyncio.get_running_loop(), errors)
        async with impl.scope():
            abandoned = asyncio.ensure_future(session())
            await asyncio.sleep(0)
        finish_setup.set()
        with pytest.raises(ScopeError, match="began closing"):
            await abandoned
        await asyncio.sleep(0)

    asyncio.run(main())
    assert log == ["open", "rollback ScopeError", "close"]
    assert errors == []


@pytest.mark.parametrize("failed", [False, True], ids=["ended", "failed"])
@pytest.mark.parametrize("shape", ["generator", "context manager"])
def test_a_late_sync_resource_with_awaited_arguments_is_torn_down_as_sync(impl, shape, failed):
    """A sync generator (or context manager) whose arguments are awaited is created in a task;
    when that creation ends after its scope began closing, it is torn down the sync way, with
    the exception that ended the scope (it was taken for an async context manager: never torn
    down, an AttributeError left in the task, and the generator closed by the garbage collector)."""
    from dependency_injector import providers

    log = []
    release = asyncio.Event()

    async def connect_url():
        await release.wait()
        return "url"

    def session_generator(url):
        log.append(f"open {url}")
        try:
            yield "session"
        except BaseException as error:
            log.append(f"rollback {type(error).__name__}")
            raise
        else:
            log.append("commit")

    session_cm = contextlib.contextmanager(session_generator)
    session = impl.ContextLocalResource(
        session_generator if shape == "generator" else session_cm, providers.Factory(connect_url)
    )
    errors = []

    async def main():
        collect_loop_errors(asyncio.get_running_loop(), errors)
        with contextlib.suppress(KeyError):
            async with impl.scope():
                abandoned = asyncio.ensure_future(session())
                await asyncio.sleep(0)
                if failed:
                    raise KeyError("request failed")
        release.set()
        with pytest.raises(ScopeError, match="began closing"):
            await abandoned
        await asyncio.sleep(0)

    asyncio.run(main())
    gc.collect()
    assert log == ["open url", "rollback KeyError" if failed else "rollback ScopeError"]
    assert errors == []


# Ctrl-C or sys.exit() in a teardown ----------------------------------------------------------------


INTERRUPTS = {"KeyboardInterrupt": KeyboardInterrupt, "SystemExit": lambda: SystemExit(3)}


def interrupting(log, name, make_interrupt):
    def resource():
        try:
            yield name
        finally:
            log.append(f"teardown {name}")
            raise make_interrupt()

    return resource


def plain(log, name):
    def resource():
        try:
            yield name
            log.append(f"commit {name}")
        except BaseException as error:
            log.append(f"rollback {name} {type(error).__name__}")
            raise

    return resource


@pytest.mark.parametrize("interrupt", list(INTERRUPTS))
@pytest.mark.parametrize("outcome", ["success", "failure"])
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_an_interrupt_in_a_teardown_propagates_as_itself_after_every_teardown(impl, interrupt, outcome, asynchronous):
    log = []
    first = impl.ContextLocalResource(plain(log, "first"))
    interrupting_one = impl.ContextLocalResource(interrupting(log, "second", INTERRUPTS[interrupt]))
    last = impl.ContextLocalResource(plain(log, "third"))
    failing = impl.ContextLocalResource(interrupting(log, "fourth", lambda: LookupError("also failed")))

    def body():
        first()
        interrupting_one()
        failing()
        last()
        if outcome == "failure":
            raise ValueError("the request failed")

    async def run_async():
        async with impl.scope():
            body()

    def run():
        if asynchronous:
            asyncio.run(run_async())
        else:
            with impl.scope():
                body()

    expected = KeyboardInterrupt if interrupt == "KeyboardInterrupt" else SystemExit
    with pytest.raises(expected) as raised:
        run()
    ending = "commit" if outcome == "success" else "rollback"
    suffix = "" if outcome == "success" else " ValueError"
    assert log == [f"{ending} third{suffix}", "teardown fourth", "teardown second", f"{ending} first{suffix}"]
    notes = "\n".join(getattr(raised.value, "__notes__", []))
    assert "while tearing down" in notes and "LookupError: also failed" in notes
    if outcome == "failure":
        assert "ValueError: the request failed" in notes
    if interrupt == "SystemExit":
        assert raised.value.code == 3


@pytest.mark.slow
def test_sys_exit_in_a_teardown_exits_with_its_status(impl, tmp_path):
    import subprocess
    import sys

    script = tmp_path / "exit.py"
    script.write_text(
        "import sys, importlib\n"
        f"impl = importlib.import_module({impl.__name__!r})\n"
        "def resource():\n"
        "    yield 1\n"
        "    sys.exit(3)\n"
        "provider = impl.ContextLocalResource(resource)\n"
        "with impl.scope():\n"
        "    provider()\n"
        "print('not reached')\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert "not reached" not in result.stdout


# A DoneFuture outside a running loop -------------------------------------------------------------


def test_a_finished_future_behaves_as_an_asyncio_future_outside_a_running_loop(impl):
    """What a scope hands out for an async instance is taken, outside a running loop, by what
    takes a finished asyncio.Future of the same loop."""
    contextvars.copy_context().run(outside_a_running_loop, impl)


def outside_a_running_loop(impl):
    async def resource():
        yield "instance"

    provider = impl.ContextLocalResource(resource)
    loop = asyncio.new_event_loop()
    try:
        scope = impl.scope()
        scope.__enter__()

        async def make():
            done = provider()  # not awaited: the finished future itself
            future = asyncio.get_running_loop().create_future()
            future.set_result("instance")
            return done, future

        done, future = loop.run_until_complete(make())
        assert type(done).__name__ == "DoneFuture"
        for finished in (done, future):
            assert finished.get_loop() is loop
            assert loop.run_until_complete(finished) == "instance"
            assert asyncio.ensure_future(finished, loop=loop) is finished
            assert loop.run_until_complete(asyncio.gather(finished)) == ["instance"]
            called = []
            finished.add_done_callback(called.append)
            assert called == []  # scheduled, not called at once
            loop.run_until_complete(asyncio.sleep(0))
            assert called == [finished]

        async def end():
            await scope.aclose()

        loop.run_until_complete(end())
    finally:
        loop.close()


# An object that is both a context manager and an async one ---------------------------------------


class BothWays:
    """Either protocol works; it records which one was used."""

    def __init__(self, log):
        self.log = log

    def __enter__(self):
        self.log.append("enter")
        return self

    def __exit__(self, *exc_info):
        self.log.append(f"exit {exc_info[0].__name__ if exc_info[0] else None}")

    async def __aenter__(self):
        self.log.append("aenter")
        return self

    async def __aexit__(self, *exc_info):
        self.log.append(f"aexit {exc_info[0].__name__ if exc_info[0] else None}")


@pytest.mark.parametrize("fails", [False, True], ids=["success", "failure"])
def test_both_protocols_are_entered_the_way_the_resolving_code_runs(impl, fails):
    log = []
    provider = impl.ContextLocalResource(BothWays, log)

    def sync_part():
        with impl.scope():
            assert isinstance(provider(), BothWays)
            if fails:
                raise LookupError

    async def async_part():
        async with impl.scope():
            assert isinstance(await provider(), BothWays)
            if fails:
                raise LookupError

    ending = "LookupError" if fails else "None"
    with pytest.raises(LookupError) if fails else contextlib.nullcontext():
        sync_part()
    assert log == ["enter", f"exit {ending}"]
    del log[:]
    provider.reset_async_mode()
    with pytest.raises(LookupError) if fails else contextlib.nullcontext():
        asyncio.run(async_part())
    assert log == ["aenter", f"aexit {ending}"]


def test_an_aiohttp_client_session_as_a_resource(impl):
    aiohttp = pytest.importorskip("aiohttp")
    provider = impl.ContextLocalResource(aiohttp.ClientSession)

    async def main():
        async with impl.scope():
            session = await provider()
            assert isinstance(session, aiohttp.ClientSession) and not session.closed
            assert await provider() is session
        return session

    assert asyncio.run(main()).closed


# Misuse that says what to do -----------------------------------------------------------------------


def test_a_middleware_outside_the_scope_middleware_is_told_the_order(twin):
    import httpx
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from di_scopes.asgi import ScopeMiddleware

    session = twin.ContextLocalResource(lambda: "session")
    seen = []

    class Audit:
        """A user's middleware that resolves a scoped provider."""

        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            if scope["type"] == "http":
                try:
                    seen.append(session())
                except ScopeError as error:
                    seen.append(str(error))
            await self.app(scope, receive, send)

    async def home(request):
        return PlainTextResponse("ok")

    def app_with(*middlewares):
        app = Starlette(routes=[Route("/", home)])
        for middleware in middlewares:
            app.add_middleware(middleware)
        return app

    async def get(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.get("/")).status_code

    assert asyncio.run(get(app_with(ScopeMiddleware, Audit))) == 200  # Audit added last: outermost
    assert "outside any scope" in seen[0]
    assert "call app.add_middleware(ScopeMiddleware) after adding yours" in seen[0]
    del seen[:]
    assert asyncio.run(get(app_with(Audit, ScopeMiddleware))) == 200
    assert seen == ["session"]


def test_a_forgotten_await_says_so(impl):
    class Session:
        def add(self, row):
            pass

    async def open_session():
        yield Session()

    provider = impl.ContextLocalResource(open_session)

    async def main():
        async with impl.scope():
            session = provider()  # the await forgotten
            with pytest.raises(AttributeError) as raised:
                session.add("row")
            assert hasattr(session, "result") and not hasattr(session, "add")
            return raised.value

    error = asyncio.run(main())
    message = str(error)
    assert "'DoneFuture' object has no attribute 'add'" in message
    assert f"a {Session.__qualname__}" in message and "await container.session()" in message
    assert error.name == "add"


def test_validate_names_dependency_injectors_own_context_local_resource(twin):
    from dependency_injector import containers, providers

    import di_scopes

    if not hasattr(providers, "ContextLocalResource"):
        pytest.skip("dependency-injector has providers.ContextLocalResource from 4.49 on")

    def open_session():
        yield "session"

    class Container(containers.DeclarativeContainer):
        session = providers.ContextLocalResource(open_session)  # the import not changed
        scoped = twin.ContextLocalResource(open_session)

    with pytest.raises(ScopeError) as raised:
        di_scopes.validate(Container)
    message = str(raised.value)
    assert "ContextLocalResource `session`" in message
    assert "dependency-injector's own providers.ContextLocalResource" in message
    assert "Use di_scopes.ContextLocalResource" in message
    assert "`scoped`" not in message


@pytest.mark.slow
def test_a_scope_left_open_at_exit_is_reported_alike_by_both_twins(impl):
    import subprocess
    import sys

    twin_name = "py" if impl.__name__.endswith("_py") else "c"
    script = (
        "import os, sys\n"
        f"os.environ['DI_SCOPES_NO_EXTENSIONS'] = {'1' if twin_name == 'py' else ''!r}\n"
        "import di_scopes\n"
        f"assert di_scopes.IMPLEMENTATION == {'python' if twin_name == 'py' else 'cython'!r}\n"
        "def open_session():\n"
        "    yield 1\n"
        "session = di_scopes.ContextLocalResource(open_session)\n"
        "di_scopes.scope().__enter__()\n"
        "session()\n"
    )
    result = subprocess.run([sys.executable, "-X", "dev", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Error in sys.excepthook" not in result.stderr and "Original exception" not in result.stderr
    assert "ResourceWarning: scope 'request' was still open at interpreter exit" in result.stderr
    assert "ContextLocalResource(open_session)" in result.stderr


# A scoped_session as the session factory --------------------------------------------------------


def test_transaction_refuses_a_scoped_session_and_validate_reports_it(twin):
    from dependency_injector import containers, providers
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session, scoped_session, sessionmaker

    import di_scopes
    from di_scopes.sqlalchemy import transaction

    engine = create_engine("sqlite://")
    try:

        class Container(containers.DeclarativeContainer):
            # dependency-injector's fastapi-sqlalchemy example builds its factory this way
            scoped = providers.Singleton(
                scoped_session, providers.Singleton(sessionmaker, bind=providers.Object(engine))
            )
            session = twin.ContextLocalResource(transaction, scoped)
            plain = twin.ContextLocalResource(
                transaction, providers.Singleton(sessionmaker, bind=providers.Object(engine))
            )

        with pytest.raises(ScopeError) as raised:
            di_scopes.validate(Container)
        message = str(raised.value)
        assert "ContextLocalResource `session`" in message and "`plain`" not in message
        assert "was given a scoped_session as its session factory" in message
        assert "pass the sessionmaker it wraps (its .session_factory)" in message

        container = Container()
        with twin.scope():
            assert isinstance(container.plain(), Session)
            with pytest.raises(TypeError, match="transaction was given a scoped_session"):
                container.session()
    finally:
        engine.dispose()


def test_async_transaction_refuses_an_async_scoped_session(twin):
    from sqlalchemy.ext.asyncio import async_scoped_session, async_sessionmaker

    from di_scopes.sqlalchemy import async_transaction

    async def main():
        factory = async_scoped_session(async_sessionmaker(), scopefunc=asyncio.current_task)
        session = twin.ContextLocalResource(async_transaction, factory)
        async with twin.scope():
            with pytest.raises(TypeError, match="async_transaction was given an async_scoped_session"):
                await session()

    asyncio.run(main())
