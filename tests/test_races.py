"""Threads racing for a first resolve, and cycles that go through another thread.

Every wait here is bounded: a hang is a failure, never a stuck suite. The race test runs for
``DI_SCOPES_RACE_SECONDS`` per twin and switch interval (a fraction of a second by default; the
``races`` nox session runs it longer).
"""

from __future__ import annotations

import contextvars
import os
import queue
import sys
import threading
import time

import pytest

from di_scopes import ScopeError

RACE_SECONDS = float(os.environ.get("DI_SCOPES_RACE_SECONDS", "0.5"))
WAIT = 10.0  # seconds a thread may take before the test calls it a hang


def test_a_waiter_is_woken_when_the_creation_ends_as_it_gets_ready_to_wait(impl, monkeypatch):
    """The creation ends just as the waiting thread makes the event it is to wait on."""
    entered, release = threading.Event(), threading.Event()
    plain_event = threading.Event

    def slow_session():
        entered.set()
        assert release.wait(WAIT)
        yield "session"

    provider = impl.ContextLocalResource(slow_session)

    class EventMadeAsTheCreationEnds(plain_event):
        def __init__(self):
            super().__init__()
            if threading.current_thread().name == "waiter":
                release.set()
                time.sleep(0.2)  # the creator finishes meanwhile, unless it must wait for us

    results = queue.Queue()
    with impl.scope():
        creator = threading.Thread(target=contextvars.copy_context().run, args=(lambda: results.put(provider()),))
        waiter = threading.Thread(
            target=contextvars.copy_context().run, args=(lambda: results.put(provider()),), name="waiter", daemon=True
        )
        creator.start()
        assert entered.wait(WAIT)
        monkeypatch.setattr(threading, "Event", EventMadeAsTheCreationEnds)
        waiter.start()
        creator.join(WAIT)
        waiter.join(WAIT)
        monkeypatch.undo()
        assert not waiter.is_alive(), "the waiting thread was never woken"
        assert [results.get_nowait(), results.get_nowait()] == ["session", "session"]


@pytest.mark.slow
@pytest.mark.parametrize("interval", [1e-4, 1e-6], ids=["1e-4", "1e-6"])
def test_threads_racing_for_the_first_resolve_never_hang(impl, interval):
    """32 threads resolve one provider at once, round after round, with a tiny switch interval."""
    workers = 32
    created = []

    def session():
        created.append(1)
        yield object()

    provider = impl.ContextLocalResource(session)
    barrier = threading.Barrier(workers + 1)
    contexts: list = []
    results: list = [None] * workers
    stop = False

    def work(index):
        try:
            while True:
                barrier.wait(WAIT)
                if stop:
                    return
                results[index] = contexts[index].run(provider)
                barrier.wait(WAIT)
        except threading.BrokenBarrierError:  # the main thread reports the hang
            return

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    previous = sys.getswitchinterval()
    rounds = 0
    try:
        sys.setswitchinterval(interval)
        deadline = time.monotonic() + RACE_SECONDS
        while rounds == 0 or time.monotonic() < deadline:
            created.clear()
            with impl.scope():
                contexts[:] = [contextvars.copy_context() for _ in range(workers)]
                barrier.wait(WAIT)  # go
                try:
                    barrier.wait(WAIT)  # all resolved
                except threading.BrokenBarrierError:
                    pytest.fail(f"round {rounds}: a thread waiting for the creation was never woken")
            assert len(created) == 1
            assert all(result is results[0] for result in results)
            rounds += 1
    finally:
        sys.setswitchinterval(previous)
        stop = True
        if not barrier.broken:
            barrier.wait(WAIT)
        for thread in threads:
            thread.join(WAIT)
    assert rounds >= 1


def run_bounded(function):
    """Run ``function`` in a daemon thread in a copy of this context; its result or its error."""
    outcome = queue.Queue()

    def target():
        try:
            outcome.put((True, function()))
        except BaseException as error:  # noqa: B902 - handed to the caller
            outcome.put((False, error))

    threading.Thread(target=contextvars.copy_context().run, args=(target,), daemon=True).start()
    try:
        ok, value = outcome.get(timeout=WAIT)
    except queue.Empty:
        pytest.fail("the other thread hangs")
    if not ok:
        raise value
    return value


def test_a_creation_that_resolves_itself_in_another_thread_is_a_cycle(impl):
    calls = []

    def session():
        calls.append(1)
        if len(calls) > 1:  # only reached without the cycle check: keep the failure bounded
            raise RuntimeError("created twice")
        yield run_bounded(provider)

    provider = impl.ContextLocalResource(session)
    with impl.scope():
        with pytest.raises(ScopeError, match="depends on itself: code that its creation started in another thread"):
            provider()
        assert calls == [1]


def test_a_cycle_through_another_provider_and_a_thread_is_reported(impl):
    class Box:
        def __init__(self, other):
            self.other = other

    outer = impl.ContextLocalSingleton(Box)
    inner = impl.ContextLocalSingleton(lambda: run_bounded(outer))
    outer.add_args(inner)
    with impl.scope():
        with pytest.raises(ScopeError, match="depends on itself") as info:
            outer()
    assert str(info.value).startswith("ContextLocalSingleton(") and "Box) depends on itself" in str(info.value)


def test_a_thread_started_by_a_creation_may_resolve_other_providers(impl):
    other = impl.ContextLocalSingleton(object)
    seen = []

    def session():
        seen.append(run_bounded(other))
        yield "session"

    provider = impl.ContextLocalResource(session)
    with impl.scope():
        assert provider() == "session"
        assert other() is seen[0]


def test_a_thread_started_by_a_creation_keeps_no_instance_alive(impl):
    """The thread's context marks the creation it came from, and holds nothing of it."""
    import gc
    import weakref

    class Session:
        pass

    release = threading.Event()
    threads = []

    def session():
        thread = threading.Thread(target=contextvars.copy_context().run, args=(release.wait,), daemon=True)
        thread.start()
        threads.append(thread)
        yield Session()

    provider = impl.ContextLocalResource(session)
    with impl.scope():
        instance = weakref.ref(provider())
    gc.collect()
    try:
        assert threads[0].is_alive()
        assert instance() is None
    finally:
        release.set()
        threads[0].join(WAIT)


def test_two_threads_creating_providers_that_depend_on_each_other_do_not_deadlock(impl):
    """Each thread's creation waits for the other's: the second to wait reports the cycle."""
    both_creating = threading.Barrier(2)
    first_time = {"a": True, "b": True}

    def make(name, other):
        def create():
            if first_time[name]:  # both creations are in progress before either resolves the other
                first_time[name] = False
                both_creating.wait(WAIT)
            return (name, other[0]())

        return create

    a_needs, b_needs = [], []
    a = impl.ContextLocalSingleton(make("a", a_needs))
    b = impl.ContextLocalSingleton(make("b", b_needs))
    a_needs.append(b)
    b_needs.append(a)
    outcomes = queue.Queue()

    def resolve(provider):
        try:
            outcomes.put(provider())
        except ScopeError as error:
            outcomes.put(str(error))

    with impl.scope():
        threads = [
            threading.Thread(target=contextvars.copy_context().run, args=(resolve, p), daemon=True) for p in (a, b)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        assert not any(thread.is_alive() for thread in threads), "the two creations deadlock"
    messages = sorted([outcomes.get_nowait(), outcomes.get_nowait()], key=lambda m: "another thread" not in m)
    assert (
        "is being created in another thread that waits, through the creations it is in, for this thread" in messages[0]
    )
    assert "depends on itself" in messages[1]
