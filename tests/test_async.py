"""The async path: setup and teardown run in the caller's task until they suspend; a setup that
suspends then goes on in a task of its own (it may have several awaiters), a teardown in the task
that awaits it, shielded; what users see is the same either way."""

from __future__ import annotations

import asyncio
import sys
import time
import traceback

import pytest
from dependency_injector import containers, providers

from di_scopes import ScopeError

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup


def resource(log, name, *, suspend_setup=False, suspend_teardown=False):
    """An async-generator session: commit on success, rollback on error, always close.
    ``suspend_*`` makes that step wait for the event loop, as real database I/O does."""

    async def session():
        if suspend_setup:
            await asyncio.sleep(0)
        log.append(f"open {name}")
        try:
            yield name
            if suspend_teardown:
                await asyncio.sleep(0)
            log.append(f"commit {name}")
        except BaseException as error:
            if suspend_teardown:
                await asyncio.sleep(0)
            log.append(f"rollback {name}: {type(error).__name__}")
            raise
        finally:
            log.append(f"close {name}")

    session.__qualname__ = name
    return session


def tasks_created(main):
    """Run ``main()`` and return its result and how many tasks it created besides itself."""
    created = []

    async def counting():
        asyncio.get_running_loop().set_task_factory(
            lambda loop, coro, **kw: created.append(coro) or asyncio.Task(coro, loop=loop, **kw)
        )
        result = await main()
        return result, len(created)  # before asyncio.run's own shutdown tasks

    return asyncio.run(counting())


@pytest.mark.parametrize("suspend", ["none", "setup", "teardown", "both"])
def test_teardown_order_and_outcome_do_not_depend_on_suspending(impl, suspend):
    log = []
    names = ["a", "b", "c"]
    made = [
        impl.ContextLocalResource(
            resource(
                log,
                n,
                suspend_setup=suspend in ("setup", "both") and n == "b",
                suspend_teardown=suspend in ("teardown", "both") and n == "b",
            )
        )
        for n in names
    ]

    async def main():
        async with impl.scope() as scope:
            assert [await p() for p in made] == names
            assert impl.current_scope() is scope
        assert impl.current_scope() is None
        assert scope.closed
        with pytest.raises(KeyError):
            async with impl.scope():
                for p in made:
                    await p()
                raise KeyError("failed")
        assert impl.current_scope() is None

    _, tasks = tasks_created(main)
    opened = [f"open {n}" for n in names]
    assert log == opened + ["commit c", "close c", "commit b", "close b", "commit a", "close a"] + opened + [
        "rollback c: KeyError",
        "close c",
        "rollback b: KeyError",
        "close b",
        "rollback a: KeyError",
        "close a",
    ]
    # Only a setup that suspends gets a task of its own (two scopes, one each), since its
    # instance may have several awaiters; a teardown goes on in the task that awaits it.
    assert tasks == {"none": 0, "setup": 2, "teardown": 0, "both": 2}[suspend]


def test_scope_enter_returns_an_awaitable_of_the_scope(impl):
    async def main():
        scope = impl.scope("job")
        entering = scope.__aenter__()
        assert not asyncio.iscoroutine(entering)  # no coroutine to forget to await
        assert await entering is scope
        assert impl.current_scope() is scope
        await scope.__aexit__(None, None, None)
        assert impl.current_scope() is None

    asyncio.run(main())


@pytest.mark.parametrize("suspend", [False, True])
def test_concurrent_awaits_in_one_scope_share_one_instance(impl, suspend):
    log = []
    session = impl.ContextLocalResource(resource(log, "s", suspend_setup=suspend))

    async def main():
        async with impl.scope():
            first = session()
            results = await asyncio.gather(first, *(session() for _ in range(20)))
            again = await session()
        return results, again

    results, again = asyncio.run(main())
    assert results == ["s"] * 21 and again == "s"
    assert log == ["open s", "commit s", "close s"]


@pytest.mark.parametrize("suspend", [False, True])
def test_failing_async_setup_is_raised_and_retried(impl, suspend):
    attempts = []

    async def flaky():
        attempts.append(1)
        if suspend:
            await asyncio.sleep(0)
        if len(attempts) == 1:
            raise ConnectionError("database down")
        yield "conn"

    provider = impl.ContextLocalResource(flaky)

    async def main():
        async with impl.scope():
            with pytest.raises(ConnectionError, match="database down"):
                await provider()
            assert await provider() == "conn"
            assert await provider() == "conn"

    asyncio.run(main())
    assert len(attempts) == 2


@pytest.mark.parametrize("suspend", [False, True])
def test_async_generator_must_yield(impl, suspend):
    async def empty():
        if suspend:
            await asyncio.sleep(0)
        return
        yield  # an async generator that never yields

    empty.__qualname__ = "empty"
    provider = impl.ContextLocalResource(empty)

    async def main():
        async with impl.scope():
            with pytest.raises(RuntimeError, match=r"ContextLocalResource\(empty\).*finished without yielding"):
                await provider()

    asyncio.run(main())


@pytest.mark.parametrize("suspend", [False, True])
def test_async_generator_that_yields_again_at_teardown_is_closed_and_reported(impl, suspend):
    log = []

    async def twice():
        try:
            yield "first"
            if suspend:
                await asyncio.sleep(0)
            yield "second"
        finally:
            log.append("closed")

    twice.__qualname__ = "twice"
    provider = impl.ContextLocalResource(twice)

    async def main():
        async with impl.scope():
            await provider()

    with pytest.raises(BaseExceptionGroup) as caught:
        asyncio.run(main())
    (error,) = caught.value.exceptions
    assert isinstance(error, RuntimeError)
    assert "ContextLocalResource(twice)" in str(error) and "yielded again" in str(error)
    assert log == ["closed"]


@pytest.mark.parametrize("suspend", [False, True])
def test_async_teardown_errors_are_grouped_and_every_teardown_runs(impl, suspend):
    log = []

    async def broken():
        yield "broken"
        if suspend:
            await asyncio.sleep(0)
        raise OSError("commit failed")

    broken.__qualname__ = "broken"
    first = impl.ContextLocalResource(resource(log, "a"))
    second = impl.ContextLocalResource(broken)
    third = impl.ContextLocalResource(resource(log, "c"))

    async def main():
        async with impl.scope():
            await first()
            await second()
            await third()

    with pytest.raises(BaseExceptionGroup) as caught:
        asyncio.run(main())
    assert [type(e) for e in caught.value.exceptions] == [OSError]
    assert log == ["open a", "open c", "commit c", "close c", "commit a", "close a"]


@pytest.mark.parametrize("suspend", [False, True])
def test_aclose_tears_down_async_resources(impl, suspend):
    log = []
    session = impl.ContextLocalResource(resource(log, "s", suspend_teardown=suspend))

    async def main():
        scope = impl.scope()
        async with scope:
            await session()
            await scope.aclose(ValueError("rolled back by hand"))
            assert scope.closed
            with pytest.raises(ScopeError, match="closed"):
                await session()

    asyncio.run(main())
    assert log == ["open s", "rollback s: ValueError", "close s"]


def test_cancelling_the_only_awaiter_of_a_suspended_setup_keeps_the_instance(impl):
    log = []
    session = impl.ContextLocalResource(resource(log, "s", suspend_setup=True))

    async def main():
        async with impl.scope():
            waiter = asyncio.ensure_future(session())
            await asyncio.sleep(0)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            assert await session() == "s"

    asyncio.run(main())
    assert log == ["open s", "commit s", "close s"]


def test_cancelled_during_a_suspended_teardown_finishes_it_then_propagates(impl):
    log = []
    release = []

    async def slow():
        yield "slow"
        await asyncio.sleep(0.02)
        log.append("committed")

    provider = impl.ContextLocalResource(slow)

    async def request():
        async with impl.scope():
            await provider()
            release.append(1)

    async def main():
        task = asyncio.ensure_future(request())
        while not release:
            await asyncio.sleep(0)
        await asyncio.sleep(0.005)  # now in the teardown's sleep
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert log == ["committed"]


def test_a_suspended_teardown_runs_in_the_awaiting_task_and_outlives_every_cancellation(impl):
    """Cancelled at each of its three waits (a worker thread's future, a timer, a bare yield),
    the teardown still finishes every step in the request's own task, none of the futures it
    waits on is cancelled, and the request then ends with one CancelledError."""
    log = []
    awaited = []
    waiting = asyncio.Event()

    async def session():
        yield "s"
        loop = asyncio.get_running_loop()
        for step in ("thread", "timer", "yield"):
            if step == "thread":
                future = loop.run_in_executor(None, time.sleep, 0.02)
            elif step == "timer":
                future = loop.create_future()
                loop.call_later(0.02, future.set_result, None)
            else:
                future = None
            awaited.append(future)
            waiting.set()
            if future is None:
                await asyncio.sleep(0)
            else:
                await future
            log.append((step, asyncio.current_task() is request_task))

    provider = impl.ContextLocalResource(session)

    async def request():
        async with impl.scope():
            await provider()

    async def main():
        nonlocal request_task
        request_task = asyncio.ensure_future(request())
        for _ in range(3):
            await waiting.wait()
            waiting.clear()
            request_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request_task
        assert all(not f.cancelled() for f in awaited if f is not None)

    request_task = None
    _, tasks = tasks_created(main)
    assert log == [("thread", True), ("timer", True), ("yield", True)]
    assert tasks == 1  # the request itself (the executor's future is not a task)


def test_a_timeout_during_a_suspended_teardown_waits_for_it_then_raises(impl):
    log = []

    async def session():
        yield "s"
        await asyncio.sleep(0.05)
        log.append("committed")

    provider = impl.ContextLocalResource(session)

    async def request():
        async with impl.scope():
            await provider()

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(request(), 0.01)
        assert log == ["committed"]  # the timeout's error came after the teardown

    asyncio.run(main())


def test_a_future_cancelled_under_a_teardown_is_the_teardowns_to_handle(impl):
    """Only the awaiting task's cancellation is held back: a future cancelled by other code
    raises CancelledError inside the teardown, as it would unshielded."""
    log = []
    futures = []

    async def session():
        yield "s"
        future = asyncio.get_running_loop().create_future()
        futures.append(future)
        try:
            await future
        except asyncio.CancelledError:
            log.append("saw the cancelled future")
            raise

    provider = impl.ContextLocalResource(session)

    async def main():
        async def request():
            async with impl.scope():
                await provider()

        task = asyncio.ensure_future(request())
        while not futures:
            await asyncio.sleep(0)
        futures[0].cancel()
        with pytest.raises(BaseExceptionGroup) as raised:
            await task
        assert [type(e) for e in raised.value.exceptions] == [asyncio.CancelledError]
        assert not task.cancelled()

    asyncio.run(main())
    assert log == ["saw the cancelled future"]


@pytest.mark.parametrize("shape", ["yields again", "raises", "re-raises", "swallows"])
def test_what_a_teardown_does_after_suspending_is_reported_as_without_suspending(impl, shape):
    """Each way an async generator's teardown can end, once it has suspended (then handed to
    the awaiting task) and without suspending, with an older resource that suspends too."""

    def run(suspend):
        log = []

        async def newest():
            try:
                yield "newest"
            except LookupError:
                if suspend:
                    await asyncio.sleep(0)
                if shape == "re-raises":
                    log.append("re-raise")
                    raise
                log.append("swallow")
                return
            if suspend:
                await asyncio.sleep(0)
            try:
                if shape == "yields again":
                    yield "again"
                elif shape == "raises":
                    raise OSError("commit failed")
            finally:
                log.append("newest closed")

        async def oldest():
            try:
                yield "oldest"
            finally:
                if suspend:
                    await asyncio.sleep(0)
                log.append("oldest closed")

        first, second = impl.ContextLocalResource(oldest), impl.ContextLocalResource(newest)

        async def main():
            failing = shape in ("re-raises", "swallows")
            try:
                async with impl.scope():
                    await first()
                    await second()
                    if failing:
                        raise LookupError("request failed")
            except BaseException as error:
                return error
            return None

        outcome, tasks = tasks_created(main)
        described = (
            None
            if outcome is None
            else (type(outcome).__name__, [f"{type(e).__name__}: {e}" for e in getattr(outcome, "exceptions", [])])
        )
        if shape in ("re-raises", "swallows"):  # the request's own error, without the teardown's frames
            assert [frame.name for frame in traceback.extract_tb(outcome.__traceback__)] == ["main"]
        return log, described, tasks

    assert run(True)[:2] == run(False)[:2]
    log, outcome, tasks = run(True)
    assert tasks == 0
    assert log[-1] == "oldest closed"
    if shape == "yields again":
        assert log == ["newest closed", "oldest closed"]
        assert outcome[0] == "ExceptionGroup" and "yielded again" in outcome[1][0]
    elif shape == "raises":
        assert outcome == ("ExceptionGroup", ["OSError: commit failed"])
    elif shape == "re-raises":
        assert log == ["re-raise", "oldest closed"] and outcome == ("LookupError", [])
    else:
        assert log == ["swallow", "oldest closed"] and outcome == ("LookupError", [])


def test_overriding_an_async_provider_answers_instead(impl):
    log = []
    session = impl.ContextLocalResource(resource(log, "s"))

    async def main():
        async with impl.scope():
            assert await session() == "s"
            with session.override(providers.Object("stand-in")):
                assert await session() == "stand-in"
            assert await session() == "s"

    asyncio.run(main())
    assert log == ["open s", "commit s", "close s"]


@pytest.mark.parametrize("suspend", [False, True])
def test_factory_graph_over_an_async_resource(impl, suspend):
    log = []

    class Repo:
        def __init__(self, session):
            self.session = session

    class Service:
        def __init__(self, repo, session):
            self.repo, self.session = repo, session

    class Container(containers.DeclarativeContainer):
        session = impl.ContextLocalResource(resource(log, "s", suspend_setup=suspend))
        repo = providers.Factory(Repo, session=session)
        service = providers.Factory(Service, repo=repo, session=session)

    container = Container()

    async def main():
        for _ in range(2):
            async with impl.scope():
                service = await container.service()
                assert service.session == "s" and service.repo.session == "s"
                assert await container.session() == "s"

    asyncio.run(main())
    assert log == ["open s", "commit s", "close s"] * 2


# What an async scoped provider hands out: a finished future -----------------------------------


def test_an_async_instance_is_handed_out_as_a_finished_future(impl):
    log = []
    session = impl.ContextLocalResource(resource(log, "s"))

    async def main():
        async with impl.scope():
            first = session()
            assert session() is first  # the one stored for the scope
            assert asyncio.isfuture(first) and not asyncio.iscoroutine(first)
            assert first.done() and not first.cancelled()
            assert first.result() == "s" and first.exception() is None
            assert first.cancel() is False and first.cancel(msg="no") is False
            assert first.done() and first.result() == "s"
            assert first.get_loop() is asyncio.get_running_loop()
            assert repr(first) == "<DoneFuture finished result='s'>"
            assert await first == "s" and await first == "s"
            steps = first.__await__()  # driven by hand, as `yield from` drives it
            with pytest.raises(StopIteration) as stopped:
                next(steps)
            assert stopped.value.value == "s"
            return first

    first = asyncio.run(main())
    assert log == ["open s", "commit s", "close s"]
    assert first.get_loop().is_closed()  # the loop it was made in, as an asyncio.Future's
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        first.add_done_callback(print)
    with pytest.raises(TypeError):
        type(first)("made by hand")


@pytest.mark.parametrize("value", [None, ("a", "tuple"), 0])
def test_a_finished_future_gives_any_value_back_as_one_value(impl, value):
    async def gen():
        yield value

    provider = impl.ContextLocalResource(gen)

    async def main():
        async with impl.scope():
            future = provider()
            steps = future.__await__()
            with pytest.raises(StopIteration) as stopped:
                next(steps)
            return await future, future.result(), stopped.value.value

    assert asyncio.run(main()) == (value, value, value)


def test_asyncio_takes_a_finished_future_as_a_future(impl):
    import contextvars

    session = impl.ContextLocalResource(resource([], "s"))
    marker = contextvars.ContextVar("marker", default="unset")

    async def main():
        async with impl.scope():
            future = session()
            assert await asyncio.gather(future, future, asyncio.sleep(0, "x")) == ["s", "s", "x"]
            done, pending = await asyncio.wait([future])
            assert done == {future} and not pending
            assert await asyncio.wait_for(future, 1) == "s"
            assert await asyncio.shield(future) == "s"
            assert asyncio.ensure_future(future) is future
            assert await asyncio.get_running_loop().create_task(_awaiting(future)) == "s"
            called = asyncio.Event()
            seen = []

            def callback(finished):
                seen.append((finished, marker.get()))
                called.set()

            marker.set("when added")
            future.add_done_callback(callback)
            assert not seen  # scheduled on the loop, as a finished asyncio.Future schedules it
            await called.wait()
            own = contextvars.Context()
            own.run(marker.set, "own context")
            called.clear()
            future.add_done_callback(callback, context=own)
            assert future.remove_done_callback(callback) == 0
            await called.wait()
            return seen, future

    seen, future = asyncio.run(main())
    assert seen == [(future, "when added"), (future, "own context")]


async def _awaiting(awaitable):
    return await awaitable


def test_a_finished_future_that_its_instance_refers_to_is_collected(impl):
    import gc
    import weakref

    class Session:
        pass

    async def gen():
        yield Session()

    provider = impl.ContextLocalResource(gen)

    async def main():
        async with impl.scope():
            future = provider()
            future.result().future = future  # a reference cycle through the future
            return weakref.ref(future.result())

    instance = asyncio.run(main())
    gc.collect()
    assert instance() is None


def test_a_provider_latched_to_async_mode_hands_out_a_finished_future_after_a_suspended_setup(impl):
    session = impl.ContextLocalResource(resource([], "s", suspend_setup=True))

    async def main():
        async with impl.scope():
            pending = session()
            assert not pending.done()  # the setup goes on in a task: awaiters share it
            assert await pending == "s"
            later = session()
            assert later.done() and later.result() == "s" and session() is later
            assert repr(later) == "<DoneFuture finished result='s'>"

    asyncio.run(main())


def test_an_async_context_manager_whose_exit_waits_on_a_future(impl):
    """A teardown that first suspends on a future, not on a bare yield, gets the future's
    outcome when it resumes (once, in the compiled twin, it was resumed with None at once)."""
    log = []

    class Connection:
        async def __aenter__(self):
            log.append("enter")
            return self

        async def __aexit__(self, *exc_info):
            loop = asyncio.get_running_loop()
            released = loop.create_future()
            loop.call_later(0.01, released.set_result, "released")
            log.append(await released)

    provider = impl.ContextLocalResource(Connection)

    async def main():
        async with impl.scope():
            await provider()

    asyncio.run(main())
    assert log == ["enter", "released"]
