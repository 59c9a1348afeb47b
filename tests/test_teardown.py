"""Teardown at scope exit: order, the scope's exception, errors, async, cancellation, leaks."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import threading
import traceback
import warnings

import pytest

from di_scopes import ScopeError

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup


def notes(exc):
    return getattr(exc, "__notes__", [])


def tracked(log, name):
    """A resource generator like the seed's session: commit, rollback, close."""

    def resource():
        log.append(f"open {name}")
        try:
            yield name
            log.append(f"commit {name}")
        except Exception as error:
            log.append(f"rollback {name}: {error!r}")
            raise
        finally:
            log.append(f"close {name}")

    resource.__qualname__ = name
    return resource


def test_teardown_runs_in_reverse_creation_order(impl):
    log = []
    a = impl.ContextLocalResource(tracked(log, "a"))
    b = impl.ContextLocalResource(tracked(log, "b"))
    c = impl.ContextLocalResource(tracked(log, "c"))
    with impl.scope():
        b(), a(), c()
    assert log == ["open b", "open a", "open c", "commit c", "close c", "commit a", "close a", "commit b", "close b"]


def test_scope_exception_is_thrown_into_generators(impl):
    log = []
    a = impl.ContextLocalResource(tracked(log, "a"))
    error = ValueError("boom")
    with pytest.raises(ValueError) as info:
        with impl.scope():
            a()
            raise error
    assert info.value is error
    assert log == ["open a", f"rollback a: {error!r}", "close a"]


def test_nested_scope_tears_down_only_its_own(impl):
    log = []
    outer_res = impl.ContextLocalResource(tracked(log, "outer"))
    inner_res = impl.ContextLocalResource(tracked(log, "inner"))
    with impl.scope():
        outer_res()
        with impl.scope():
            inner_res()
        assert log == ["open outer", "open inner", "commit inner", "close inner"]
    assert log[-2:] == ["commit outer", "close outer"]


def test_context_managers_get_the_exception_and_cannot_swallow_it(impl):
    seen = []

    class Swallowing:
        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            seen.append(exc_info)
            return True  # tries to suppress

    provider = impl.ContextLocalResource(Swallowing)
    with pytest.raises(KeyError):
        with impl.scope():
            provider()
            raise KeyError("k")
    assert seen[0][0] is KeyError and isinstance(seen[0][1], KeyError)
    with impl.scope():
        provider()
    assert seen[1] == (None, None, None)


def test_generator_that_swallows_the_exception_cannot_hide_it(impl):
    def forgiving():
        try:
            yield 1
        except Exception:
            pass

    provider = impl.ContextLocalResource(forgiving)
    with pytest.raises(ValueError):
        with impl.scope():
            provider()
            raise ValueError


def test_every_teardown_runs_and_errors_are_raised_together(impl):
    log = []

    def failing(name):
        def resource():
            yield name
            log.append(f"teardown {name}")
            raise RuntimeError(f"{name} failed")

        return resource

    a = impl.ContextLocalResource(failing("a"))
    b = impl.ContextLocalResource(tracked(log, "b"))
    c = impl.ContextLocalResource(failing("c"))
    with pytest.raises(ExceptionGroup) as info:
        with impl.scope():
            a(), b(), c()
    assert log == ["open b", "teardown c", "commit b", "close b", "teardown a"]
    group = info.value
    assert [str(e) for e in group.exceptions] == ["c failed", "a failed"]
    assert "2 errors while tearing down scope 'request'" in str(group)
    assert any("tearing down ContextLocalResource(" in n for n in notes(group.exceptions[0]))


def test_a_single_teardown_error_is_still_a_group(impl):
    def failing():
        yield 1
        raise OSError("commit failed")

    provider = impl.ContextLocalResource(failing)
    with pytest.raises(ExceptionGroup) as info:
        with impl.scope():
            provider()
    assert info.group_contains(OSError, match="commit failed")


def test_scope_exception_propagates_with_teardown_errors_attached(impl):
    def failing_rollback():
        try:
            yield 1
        except Exception:
            raise OSError("rollback failed")  # noqa: B904 - a teardown that fails in turn

    log = []
    provider = impl.ContextLocalResource(failing_rollback)
    other = impl.ContextLocalResource(tracked(log, "other"))
    original = ValueError("original")
    with pytest.raises(ValueError) as info:
        with impl.scope():
            other()
            provider()
            raise original
    assert info.value is original
    attached = [n for n in notes(original) if "failing_rollback" in n]
    assert len(attached) == 1
    assert "OSError: rollback failed" in attached[0]
    assert "Traceback" in attached[0]  # the teardown error's own traceback comes along
    assert log[-1] == "close other"  # the other teardown still ran


def test_generator_must_yield_once(impl):
    def no_yield():
        return
        yield

    def yields_twice():
        yield 1
        yield 2

    with impl.scope():
        with pytest.raises(RuntimeError, match="finished without yielding"):
            impl.ContextLocalResource(no_yield)()
    with pytest.raises(ExceptionGroup) as info:
        with impl.scope():
            impl.ContextLocalResource(yields_twice)()
    assert info.group_contains(RuntimeError, match="yielded again")


def test_a_generator_that_never_yields_raises_in_the_callers_context(impl):
    """No StopIteration in the chain; an exception being handled is the context, as for any raise."""

    def no_yield():
        return
        yield

    provider = impl.ContextLocalResource(no_yield)
    with impl.scope():
        with pytest.raises(RuntimeError, match="finished without yielding") as alone:
            provider()
        try:
            raise KeyError("handled")
        except KeyError:
            with pytest.raises(RuntimeError, match="finished without yielding") as handling:
                provider()
    assert alone.value.__context__ is None and alone.value.__cause__ is None
    assert isinstance(handling.value.__context__, KeyError)
    assert not handling.value.__suppress_context__


def test_failed_creation_leaves_nothing_to_tear_down(impl):
    log = []

    def broken():
        log.append("open")
        raise ConnectionError("down")
        yield

    provider = impl.ContextLocalResource(broken)
    with impl.scope():
        with pytest.raises(ConnectionError):
            provider()
        assert not provider.initialized
    assert log == ["open"]


def test_stop_iteration_as_scope_exception_is_not_a_teardown_error(impl):
    log = []
    provider = impl.ContextLocalResource(tracked(log, "a"))
    with pytest.raises(StopIteration):
        with impl.scope():
            provider()
            raise StopIteration
    assert log[-1] == "close a"


def test_close_with_an_exception_does_not_raise_it(impl):
    log = []
    provider = impl.ContextLocalResource(tracked(log, "a"))
    s = impl.Scope()
    with s:
        provider()
        # leave the with block normally, then close again explicitly: no-op
    assert log[-2:] == ["commit a", "close a"]

    log.clear()
    s = impl.scope()
    s.__enter__()
    try:
        provider()
        error = LookupError("x")
        s.close(error)  # the caller owns the exception
        assert log == ["open a", f"rollback a: {error!r}", "close a"]
    finally:
        s.__exit__(None, None, None)


class TestAsync:
    def test_async_generator_resource_gets_the_exception(self, impl):
        log = []

        async def session():
            log.append("open")
            try:
                yield "s"
                log.append("commit")
            except Exception as error:
                log.append(f"rollback {error!r}")
                raise
            finally:
                await asyncio.sleep(0)
                log.append("close")

        provider = impl.ContextLocalResource(session)

        async def main():
            async with impl.scope():
                assert await provider() == "s"
            with pytest.raises(KeyError):
                async with impl.scope():
                    await provider()
                    raise KeyError("k")

        asyncio.run(main())
        assert log == ["open", "commit", "close", "open", "rollback KeyError('k')", "close"]

    def test_async_context_manager_resource(self, impl):
        log = []

        @contextlib.asynccontextmanager
        async def connection():
            log.append("enter")
            try:
                yield "conn"
            finally:
                log.append("exit")

        class Pool:
            async def __aenter__(self):
                log.append("pool enter")
                return self

            async def __aexit__(self, *exc_info):
                log.append(f"pool exit {exc_info[0].__name__ if exc_info[0] else None}")

        conn = impl.ContextLocalResource(connection)
        pool = impl.ContextLocalResource(Pool)

        async def main():
            with pytest.raises(ZeroDivisionError):
                async with impl.scope():
                    assert await conn() == "conn"
                    assert isinstance(await pool(), Pool)
                    1 / 0  # noqa: B018

        asyncio.run(main())
        assert log == ["enter", "pool enter", "pool exit ZeroDivisionError", "exit"]

    def test_async_function_result_is_entered(self, impl):
        log = []

        class Client:
            def __enter__(self):
                log.append("enter")
                return self

            def __exit__(self, *exc_info):
                log.append("exit")

        async def make_client():
            await asyncio.sleep(0)
            return Client()

        provider = impl.ContextLocalResource(make_client)

        async def main():
            async with impl.scope():
                client = await provider()
                assert isinstance(client, Client)
                assert await provider() is client

        asyncio.run(main())
        assert log == ["enter", "exit"]

    def test_sync_and_async_teardowns_interleave_in_reverse_order(self, impl):
        log = []

        async def async_res():
            yield "a"
            log.append("async down")

        def sync_res():
            yield "s"
            log.append("sync down")

        a = impl.ContextLocalResource(async_res)
        s = impl.ContextLocalResource(sync_res)

        async def main():
            async with impl.scope():
                s()
                await a()

        asyncio.run(main())
        assert log == ["async down", "sync down"]

    def test_sync_close_tears_down_sync_resources_and_names_the_async_ones(self, impl):
        log = []

        async def async_res():
            try:
                yield "a"
            finally:
                log.append("async down")

        a = impl.ContextLocalResource(async_res)
        s = impl.ContextLocalResource(tracked(log, "s"))

        async def main():
            scope = impl.scope()
            with pytest.raises(ScopeError) as info:
                with scope:
                    s()
                    await a()
            assert "async_res" in str(info.value)
            assert "async with" in str(info.value)
            assert log == ["open s", "commit s", "close s"]

        asyncio.run(main())

    def test_resolving_an_async_resource_without_a_loop(self, impl):
        async def async_res():
            yield "a"

        provider = impl.ContextLocalResource(async_res)
        with impl.scope():
            with pytest.raises(ScopeError, match="outside a running event loop"):
                provider()

    def test_resolving_an_async_resource_after_a_loop_stopped(self, impl):
        """A loop that ran in this thread and stopped leaves asyncio's record of it behind: the
        resolve still sees no running loop, and a loop running again is seen."""

        async def async_res():
            yield "a"

        provider = impl.ContextLocalResource(async_res)

        async def resolve():
            async with impl.scope():
                return await provider()

        assert asyncio.run(resolve()) == "a"
        with impl.scope():
            with pytest.raises(ScopeError, match="outside a running event loop"):
                provider()
        assert asyncio.run(resolve()) == "a"

    def test_cancellation_is_thrown_in_and_propagates(self, impl):
        log = []

        async def session():
            try:
                yield "s"
                log.append("commit")
            except BaseException as error:
                log.append(f"thrown {type(error).__name__}")
                raise
            finally:
                await asyncio.sleep(0.01)  # teardown work that must not be cut short
                log.append("closed")

        provider = impl.ContextLocalResource(session)
        started = asyncio.Event

        async def handler(ready):
            async with impl.scope():
                await provider()
                ready.set()
                await asyncio.sleep(10)

        async def main():
            ready = started()
            task = asyncio.create_task(handler(ready))
            await ready.wait()
            task.cancel()
            await asyncio.sleep(0.002)
            task.cancel()  # a second cancellation arrives during teardown
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(main())
        assert log == ["thrown CancelledError", "closed"]

    def test_sync_teardown_of_a_resource_created_in_a_worker_thread_runs_off_the_loop(self, impl):
        threads = {}

        def session():
            threads["enter"] = threading.get_ident()
            yield "s"
            threads["exit"] = threading.get_ident()

        def on_loop():
            threads["loop enter"] = threading.get_ident()
            yield "l"
            threads["loop exit"] = threading.get_ident()

        in_thread = impl.ContextLocalResource(session)
        on_the_loop = impl.ContextLocalResource(on_loop)

        async def main():
            threads["loop"] = threading.get_ident()
            async with impl.scope():
                await asyncio.to_thread(in_thread)
                on_the_loop()

        asyncio.run(main())
        assert threads["enter"] != threads["loop"]
        assert threads["exit"] != threads["loop"]
        assert threads["loop enter"] == threads["loop exit"] == threads["loop"]


def test_open_scope_collected_with_live_resources_warns(impl):
    log = []
    provider = impl.ContextLocalResource(tracked(log, "leaky"))

    def leak():
        s = impl.scope("leaky")
        s.__enter__()
        provider()

    import contextvars

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        contextvars.copy_context().run(leak)
        gc.collect()
    messages = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert any("scope 'leaky' was garbage-collected while open" in m and "leaky" in m for m in messages)


def test_no_reference_cycles_per_scope(impl):
    class Repo:
        def __init__(self, session):
            self.session = session

    from dependency_injector import providers

    log = []
    session = impl.ContextLocalResource(tracked(log, "s"))
    single = impl.ContextLocalSingleton(Repo, session)
    repo = providers.Factory(Repo, session)
    gc.collect()
    gc.disable()
    try:
        for _ in range(10_000):
            with impl.scope():
                repo()
                single()
                session()
        gc.set_debug(gc.DEBUG_SAVEALL)
        found = gc.collect()
        ours = [o for o in gc.garbage if type(o).__module__.startswith("di_scopes") or isinstance(o, Repo)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert ours == []
    assert found < 100  # nothing per cycle
    assert len(log) == 30_000


def test_no_reference_cycles_when_scopes_fail(impl):
    """The scope's exception comes back out of the teardown with its own traceback, not one that
    holds the teardown's frames (and through them the scope and its instances)."""
    log = []
    session = impl.ContextLocalResource(tracked(log, "s"))

    def fail():
        try:
            with impl.scope():
                session()
                raise KeyError("request failed")
        except KeyError as error:
            return error

    gc.collect()
    gc.disable()
    try:
        errors = [fail() for _ in range(1_000)]
        found = gc.collect()
    finally:
        gc.enable()
    assert found == 0
    assert all(e.__traceback__.tb_next is None for e in errors)  # raised in fail(), nothing added
    assert log.count("rollback s: KeyError('request failed')") == 1_000


def test_async_scope_that_never_suspends_needs_no_task(impl):
    """Setup and teardown that need no I/O run in the caller's task: no task, no loop turns."""

    async def session():
        yield "s"

    provider = impl.ContextLocalResource(session)
    created = []

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_task_factory(lambda target, coro, **kw: created.append(coro) or asyncio.Task(coro, loop=target, **kw))
        async with impl.scope():
            assert await provider() == await provider() == "s"
        return list(created)

    assert asyncio.run(main()) == []


@pytest.mark.parametrize("ending", ["success", "failure"])
def test_no_reference_cycles_when_teardowns_fail(impl, ending):
    """A teardown error, raised in a group or attached to the scope's exception as a note, keeps
    no frame of the teardown that holds the error (a cycle through the scope and its instances)."""

    def session():
        try:
            yield "s"
        finally:
            raise OSError("teardown failed")

    provider = impl.ContextLocalResource(session)

    def run():
        try:
            with impl.scope():
                provider()
                if ending == "failure":
                    raise KeyError("request failed")
        except BaseException as error:  # noqa: B902 - the group or the KeyError
            if ending == "success":
                return [type(error).__name__, [str(e) for e in error.exceptions]]
            return [type(error).__name__, "teardown failed" in error.__notes__[0]]

    gc.collect()
    gc.disable()
    try:
        outcomes = [run() for _ in range(200)]  # the errors themselves are dropped
        found = gc.collect()
    finally:
        gc.enable()
    assert found == 0
    if ending == "success":
        assert outcomes == [["ExceptionGroup", ["teardown failed"]]] * 200
    else:
        assert outcomes == [["KeyError", True]] * 200


def test_open_scope_collected_in_a_reference_cycle_warns(impl):
    class Session:
        scope = None

    def session():
        yield Session()

    provider = impl.ContextLocalResource(session)

    def leak():
        s = impl.scope("cyclic")
        s.__enter__()
        provider().scope = s  # scope -> its instance -> scope

    import contextvars

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        contextvars.copy_context().run(leak)
        gc.collect()
    messages = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert any("scope 'cyclic' was garbage-collected while open" in m for m in messages), messages


@pytest.mark.parametrize("shape", ["swallows", "re-raises"])
def test_the_scopes_exception_keeps_the_traceback_it_had_before_the_teardown(impl, shape):
    """Thrown into a generator's teardown, the exception gains the generator's frame (and, through
    it, the frames that ran the teardown); whether the generator re-raises it or not, what
    propagates from the scope has the traceback it had before."""

    def session():
        try:
            yield "s"
        except LookupError:
            if shape == "re-raises":
                raise

    provider = impl.ContextLocalResource(session)

    def request():
        with impl.scope():
            provider()
            raise LookupError("request failed")

    with pytest.raises(LookupError) as raised:
        request()
    frames = [frame.name for frame in traceback.extract_tb(raised.value.__traceback__)]
    assert frames[-1] == "request" and "session" not in frames
