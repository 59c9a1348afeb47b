"""Resolving scoped providers: one instance per scope, across threads and tasks."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from di_scopes import ScopeError


class Session:
    created = 0

    def __init__(self):
        Session.created += 1
        self.number = Session.created
        self.thread = threading.get_ident()


def session_resource():
    yield Session()


@pytest.fixture(params=["singleton", "resource"])
def provider(request, impl):
    """A scoped provider of Session, of each kind."""
    if request.param == "singleton":
        return impl.ContextLocalSingleton(Session)
    return impl.ContextLocalResource(session_resource)


def test_same_instance_within_a_scope_new_one_in_the_next(impl, provider):
    with impl.scope():
        first = provider()
        assert provider() is first
        assert provider() is first
    with impl.scope():
        second = provider()
        assert second is not first
        assert provider() is second


def test_nested_scope_gets_its_own_instance(impl, provider):
    with impl.scope():
        outer = provider()
        with impl.scope():
            inner = provider()
            assert inner is not outer
            assert provider() is inner
        assert provider() is outer


def test_an_instance_in_its_scope_is_found_from_the_scopes_nested_in_it(impl):
    """A resolve of an instance already created (the compiled twin reads it without taking
    references of its own, where the GIL allows): found from inside named and exclusive scopes
    and among many instances; an override made since, or a scope that is closing, answers
    through the resolve path instead."""
    from dependency_injector import providers

    bound = impl.ContextLocalSingleton(Session).in_scope("outer")
    unbound = impl.ContextLocalSingleton(Session)
    many = [impl.ContextLocalSingleton(Session) for _ in range(12)]  # past the index's threshold
    seen_in_teardown = []

    def resolves_in_teardown():
        yield "resource"
        try:
            unbound()
        except ScopeError as error:
            seen_in_teardown.append(error)

    resource = impl.ContextLocalResource(resolves_in_teardown)
    with impl.scope("outer"):
        with impl.scope("inner"):
            resource()
            first, open_one = bound(), unbound()
            with impl.scope("endpoint", exclusive=True):
                assert bound() is first and unbound() is open_one
                with impl.scope("innermost"):
                    assert bound() is first and unbound() is not open_one
            instances = [each() for each in many]
            assert all(each() is instance for each, instance in zip(many, instances, strict=True))
            bound.override(providers.Object("overridden"))
            assert bound() == "overridden"
            bound.reset_override()
            assert bound() is first
        assert bound() is first and unbound() is not open_one
        with impl.scope("outer"):  # the nearest scope of the name holds the instance
            again = bound()
            assert again is not first and bound() is again
        assert bound() is first
    assert len(seen_in_teardown) == 1 and "closed" in str(seen_in_teardown[0])


def test_an_instance_whose_class_cannot_be_read_fails_as_it_did_when_made(impl):
    """In async mode an instance is handed out as it is only if it is a future: a check that
    raises, past the first resolve, raises from the resolve path, as it would have then."""
    failing = False

    class Opaque:
        @property
        def __class__(self):
            if failing:
                raise LookupError("no class today")
            return Opaque

    provider = impl.ContextLocalSingleton(Opaque)
    provider.enable_async_mode()

    async def main():
        nonlocal failing
        async with impl.scope():
            made = await provider()
            failing = True
            with pytest.raises(LookupError, match="no class today"):
                provider()
            failing = False
            assert await provider() is made

    asyncio.run(main())


def test_resolving_outside_a_scope_names_the_provider_and_the_fix(impl, provider):
    with pytest.raises(ScopeError) as info:
        provider()
    message = str(info.value)
    assert "Session" in message or "session_resource" in message
    assert "outside any scope" in message
    assert "di_scopes.scope()" in message


def test_resolving_in_a_closed_scope_is_an_error(impl, provider):
    captured = {}

    with impl.scope():
        captured["ctx"] = contextvars.copy_context()  # still holds the scope after it closes
    with pytest.raises(ScopeError, match="closed"):
        captured["ctx"].run(provider)


def test_threads_running_in_the_scope_context_share_the_instance(impl, provider):
    with impl.scope():
        mine = provider()
        seen = []
        thread = threading.Thread(target=contextvars.copy_context().run, args=(lambda: seen.append(provider()),))
        thread.start()
        thread.join()
        with ThreadPoolExecutor(4) as pool:
            seen += list(
                pool.map(contextvars.Context.run, [contextvars.copy_context() for _ in range(8)], [provider] * 8)
            )
        contexts = [contextvars.copy_context() for _ in range(8)]  # a Context runs in one thread at a time
        with ThreadPoolExecutor(4) as pool:
            seen += [f.result() for f in [pool.submit(ctx.run, provider) for ctx in contexts]]
    assert len(seen) == 17
    assert all(s is mine for s in seen)


def test_first_resolve_in_a_thread_is_seen_by_the_caller(impl, provider):
    """The seed's bug: a sync dependency resolved first in a worker thread."""

    async def main():
        async with impl.scope():
            from_thread = await asyncio.to_thread(provider)
            assert from_thread.thread != threading.get_ident()
            assert provider() is from_thread
            return from_thread

    asyncio.run(main())


def test_exactly_one_instance_when_threads_race(impl):
    created = []
    barrier = threading.Barrier(16)

    def slow_session():
        created.append(1)
        time.sleep(0.05)  # keep the creation open while the other threads arrive
        yield object()

    provider = impl.ContextLocalResource(slow_session)
    with impl.scope():
        contexts = [contextvars.copy_context() for _ in range(16)]

        def resolve(ctx):
            barrier.wait()
            return ctx.run(provider)

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(resolve, contexts))
    assert len(created) == 1
    assert all(r is results[0] for r in results)


def test_a_failed_creation_is_retried_by_the_waiting_threads(impl):
    attempts = []
    barrier = threading.Barrier(4)

    def flaky():
        attempts.append(1)
        time.sleep(0.05)
        if len(attempts) == 1:
            raise ConnectionError("first attempt fails")
        yield "ok"

    provider = impl.ContextLocalResource(flaky)
    with impl.scope():
        contexts = [contextvars.copy_context() for _ in range(4)]

        def resolve(ctx):
            barrier.wait()
            try:
                return ctx.run(provider)
            except ConnectionError as error:
                return error

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(resolve, contexts))
    assert sum(isinstance(r, ConnectionError) for r in results) == 1
    assert results.count("ok") == 3
    assert len(attempts) == 2


@pytest.mark.slow
def test_a_thread_that_comes_to_wait_as_the_creation_ends_is_not_left_waiting(impl):
    """A thread finds the creation pending and registers to wait just after it has ended: it
    must not wait forever. Short creations, many threads and a tiny switch interval make that
    ordering frequent; a lost wake-up leaves a thread blocked past the join timeout."""
    import random
    import sys

    def short():
        for _ in range(random.randrange(200)):
            pass
        return object()

    provider = impl.ContextLocalSingleton(short)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        deadline = time.monotonic() + 2.0
        rounds = 0
        while rounds < 1500 and time.monotonic() < deadline:
            rounds += 1
            results = []
            with impl.scope():
                threads = [
                    threading.Thread(
                        target=contextvars.copy_context().run,
                        args=(lambda: results.append(provider()),),  # noqa: B023 - joined in this iteration
                        daemon=True,
                    )
                    for _ in range(8)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(5)
                stuck = sum(thread.is_alive() for thread in threads)
                assert stuck == 0, f"round {rounds}: {stuck} thread(s) still waiting for a creation that ended"
            assert len(results) == 8 and all(r is results[0] for r in results)
    finally:
        sys.setswitchinterval(interval)


def test_exactly_one_instance_when_tasks_race_for_an_async_resource(impl):
    created = []

    async def connection():
        created.append(1)
        await asyncio.sleep(0.01)
        yield object()

    provider = impl.ContextLocalResource(connection)

    async def main():
        async with impl.scope():
            results = await asyncio.gather(*(provider() for _ in range(50)))
            assert await provider() is results[0]
            return results

    results = asyncio.run(main())
    assert len(created) == 1
    assert all(r is results[0] for r in results)


def test_a_cancelled_awaiter_does_not_cancel_the_shared_creation(impl):
    async def connection():
        await asyncio.sleep(0.02)
        yield "conn"

    provider = impl.ContextLocalResource(connection)

    async def main():
        async with impl.scope():
            first = asyncio.ensure_future(provider())
            second = asyncio.ensure_future(provider())
            await asyncio.sleep(0.005)
            first.cancel()
            assert await second == "conn"
            with pytest.raises(asyncio.CancelledError):
                await first
            assert await provider() == "conn"

    asyncio.run(main())


def test_circular_dependency_is_reported_not_deadlocked(impl):
    class Box:
        pass

    provider = impl.ContextLocalSingleton(Box)
    provider.add_attributes(me=provider)
    with impl.scope():
        with pytest.raises(ScopeError, match="depends on itself"):
            provider()


def test_call_arguments_reach_the_creation(impl):
    def resource(a, b=0):
        yield (a, b)

    provider = impl.ContextLocalResource(resource)
    with impl.scope():
        assert provider(1, b=2) == (1, 2)
        assert provider() == (1, 2)


class TestNamedScopes:
    def test_bound_provider_lands_in_the_named_scope(self, impl):
        connection = impl.ContextLocalResource(session_resource).in_scope("connection")
        message = impl.ContextLocalResource(session_resource)
        assert connection.scope_name == "connection"
        assert message.scope_name is None
        with impl.scope("connection") as outer:
            with impl.scope("message"):
                first_conn, first_msg = connection(), message()
            with impl.scope("message"):
                assert connection() is first_conn
                assert message() is not first_msg
            assert connection() is first_conn
        assert outer.closed

    def test_unknown_scope_name_lists_the_active_scopes(self, impl):
        provider = impl.ContextLocalResource(session_resource).in_scope("websocket")
        with impl.scope("request"):
            with impl.scope("message"):
                with pytest.raises(ScopeError) as info:
                    provider()
        message = str(info.value)
        assert "'websocket'" in message
        assert "'message' > 'request'" in message

    def test_bound_provider_outside_any_scope(self, impl):
        provider = impl.ContextLocalSingleton(Session).in_scope("job")
        with pytest.raises(ScopeError, match="outside any scope"):
            provider()

    def test_scope_name_is_checked(self, impl):
        with pytest.raises(TypeError, match="non-empty string"):
            impl.ContextLocalResource(session_resource).in_scope("")

    def test_binding_does_not_collide_with_injected_keywords(self, impl):
        def resource(scope, name):
            yield (scope, name)

        provider = impl.ContextLocalResource(resource, scope="s", name="n").in_scope("job")
        assert provider.kwargs == {"scope": "s", "name": "n"}
        with impl.scope("job"):
            assert provider() == ("s", "n")


class TestExclusiveScopes:
    def test_only_bound_providers_live_in_an_exclusive_scope(self, impl):
        log = []

        def tracked(name):
            def resource():
                yield name
                log.append(f"close {name}")

            return resource

        endpoint = impl.ContextLocalResource(tracked("lock")).in_scope("endpoint")
        session = impl.ContextLocalResource(tracked("session"))
        with impl.scope("request") as request:
            with impl.scope("endpoint", exclusive=True) as inner:
                assert inner.exclusive and not request.exclusive
                assert endpoint() == "lock"
                assert session() == "session"
            assert log == ["close lock"]  # the session lives on in the request scope
            assert session() == "session"
            assert not session.shutdown() and log == ["close lock", "close session"]

    def test_exclusive_scope_alone_is_no_scope_for_unbound_providers(self, impl):
        provider = impl.ContextLocalSingleton(Session)
        with impl.scope("endpoint", exclusive=True):
            with pytest.raises(ScopeError) as info:
                provider()
        message = str(info.value)
        assert "the only active scopes are exclusive ('endpoint', innermost first)" in message
        assert "only the providers bound to its name with .in_scope(name)" in message
        assert "with di_scopes.scope():" in message and ".in_scope('endpoint')" in message

    def test_exclusive_must_be_a_boolean(self, impl):
        for wrong in ("no", 0, 1, None):
            with pytest.raises(TypeError, match="exclusive must be True or False"):
                impl.scope("job", exclusive=wrong)
            with pytest.raises(TypeError, match="exclusive must be True or False"):
                impl.Scope("job", exclusive=wrong)
        assert impl.scope("job", exclusive=True).exclusive is True
        assert impl.Scope("job").exclusive is False

    def test_str_subclasses_name_scopes(self, impl):
        import enum

        class Name(str):
            pass

        class Scopes(str, enum.Enum):
            WEBSOCKET = "ws"

        for name in (Name("ws"), Scopes.WEBSOCKET):
            provider = impl.ContextLocalSingleton(Session).in_scope(name)
            assert type(provider.scope_name) is str and provider.scope_name == "ws"
            made = impl.Scope(name, exclusive=True)
            assert type(made.name) is str and made.name == "ws" and made.exclusive is True
            with impl.scope(name) as outer, impl.Scope("job") as inner:
                assert type(outer.name) is str and outer.name == "ws"
                assert provider() is provider()
                assert inner.parent is outer
            with impl.scope("ws"):
                assert isinstance(provider(), Session)

    def test_decorator_keeps_exclusive(self, impl):
        @impl.scope("job", exclusive=True)
        def job():
            return impl.current_scope().exclusive

        assert job() is True


def test_a_sync_resource_over_an_async_one_resolved_in_a_thread_leaves_no_coroutine(impl):
    """It cannot be created there (ScopeError), and nothing is left never awaited."""
    import gc
    import warnings

    async def connection():
        yield "connection"

    def session(connection):
        yield f"session on {connection}"

    connection_provider = impl.ContextLocalResource(connection)
    session_provider = impl.ContextLocalResource(session, connection_provider)

    async def main():
        async with impl.scope():
            await connection_provider()
            with pytest.raises(ScopeError, match="outside a running event loop"):
                await asyncio.to_thread(session_provider)
            assert await session_provider() == "session on connection"

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(main())
        gc.collect()
    assert [str(w.message) for w in caught] == []
