"""The scope object: entering, nesting, naming, closing, decorating."""

from __future__ import annotations

import asyncio

import pytest

from di_scopes import ScopeError


def test_scope_is_current_inside_and_restored_after(impl):
    assert impl.current_scope() is None
    with impl.scope() as outer:
        assert impl.current_scope() is outer
        assert outer.name == "request"
        assert outer.parent is None
        assert not outer.closed
        with impl.scope("job") as inner:
            assert impl.current_scope() is inner
            assert inner.parent is outer
            assert inner.name == "job"
        assert inner.closed
        assert impl.current_scope() is outer
    assert outer.closed
    assert impl.current_scope() is None


def test_scope_type_is_exported(impl):
    with impl.scope() as s:
        assert isinstance(s, impl.Scope)
    assert isinstance(impl.Scope("x"), impl.Scope)


def test_async_scope_is_current_inside(impl):
    async def main():
        async with impl.scope("request") as s:
            assert impl.current_scope() is s
            await asyncio.sleep(0)
            assert impl.current_scope() is s
        assert impl.current_scope() is None
        assert s.closed

    asyncio.run(main())


def test_scope_runs_once(impl):
    s = impl.scope()
    with s:
        pass
    with pytest.raises(ScopeError, match="already entered"):
        with s:
            pass


def test_scope_name_must_be_a_non_empty_string(impl):
    with pytest.raises(TypeError, match="non-empty string"):
        impl.scope("")
    with pytest.raises(TypeError, match="non-empty string"):
        impl.Scope(3)


def test_repr_names_scope_and_state(impl):
    s = impl.scope("job")
    assert repr(s) == "<Scope 'job' new>"
    with s:
        assert repr(s) == "<Scope 'job' active>"
    assert repr(s) == "<Scope 'job' closed>"


def test_close_is_idempotent_and_checks_its_argument(impl):
    s = impl.scope()
    with pytest.raises(TypeError, match="exception"):
        s.close("not an exception")
    s.close()
    s.close()
    assert s.closed


def test_scope_left_after_exception_is_no_longer_current(impl):
    with pytest.raises(KeyError):
        with impl.scope():
            raise KeyError("x")
    assert impl.current_scope() is None


def test_decorator_gives_each_call_a_fresh_scope(impl):
    seen = []

    @impl.scope("job")
    def job(n):
        seen.append(impl.current_scope())
        return n * 2

    assert job(1) == 2
    assert job(2) == 4
    assert job.__name__ == "job"
    assert seen[0] is not seen[1]
    assert all(s.name == "job" and s.closed for s in seen)
    assert impl.current_scope() is None


def test_bare_decorator_uses_the_default_name(impl):
    @impl.scope
    def job():
        return impl.current_scope().name

    assert job() == "request"


def test_async_decorator_gives_each_call_a_fresh_scope(impl):
    @impl.scope("task")
    async def task(n):
        await asyncio.sleep(0)
        return impl.current_scope()

    async def main():
        return await asyncio.gather(*(task(i) for i in range(5)))

    scopes = asyncio.run(main())
    assert len({id(s) for s in scopes}) == 5
    assert all(s.closed and s.name == "task" for s in scopes)


def test_decorator_refuses_what_is_not_a_function(impl):
    with pytest.raises(TypeError, match="decorates a function"):
        impl.scope()(42)


def test_tasks_inherit_the_scope_and_do_not_leak_their_own(impl):
    async def child(parent):
        assert impl.current_scope() is parent
        async with impl.scope("child") as mine:
            await asyncio.sleep(0)
            return mine

    async def main():
        async with impl.scope() as parent:
            inner = await asyncio.gather(*(asyncio.create_task(child(parent)) for _ in range(3)))
            assert impl.current_scope() is parent
            return parent, inner

    parent, inner = asyncio.run(main())
    assert all(s.parent is parent for s in inner)


def test_exit_without_enter_is_an_error_and_changes_nothing(impl):
    s = impl.scope("job")
    with pytest.raises(ScopeError, match="scope 'job' was exited without being entered"):
        s.__exit__(None, None, None)
    with pytest.raises(ScopeError, match="exited without being entered"):
        asyncio.run(s.__aexit__(None, None, None))
    assert repr(s) == "<Scope 'job' new>"
    with s:
        assert impl.current_scope() is s


def test_a_second_exit_is_an_error(impl):
    s = impl.scope("job")
    with s:
        pass
    with pytest.raises(ScopeError, match="scope 'job' was exited twice"):
        s.__exit__(None, None, None)
    with pytest.raises(ScopeError, match="exited twice"):
        asyncio.run(s.__aexit__(None, None, None))
    assert impl.current_scope() is None


def test_exit_checks_its_exception_before_doing_anything(impl):
    s = impl.scope()
    with s:
        with pytest.raises(TypeError, match=r"__exit__\(\) takes the exception that ended the scope"):
            s.__exit__(str, "text", None)
        assert impl.current_scope() is s and not s.closed

        async def bad_aexit():
            await s.__aexit__(str, "text", None)

        with pytest.raises(TypeError, match=r"__aexit__\(\) takes the exception"):
            asyncio.run(bad_aexit())
        assert impl.current_scope() is s and not s.closed
    assert s.closed and impl.current_scope() is None


def teardown_log(impl, log):
    def resource(name):
        try:
            yield name
            log.append(f"commit {name}")
        except BaseException as error:
            log.append(f"rollback {name} {type(error).__name__}")
            raise

    return resource


def test_exiting_an_outer_scope_first_is_an_error_that_closes_both(impl):
    log = []
    resource = teardown_log(impl, log)
    outer_session = impl.ContextLocalResource(resource, "outer")
    inner_session = impl.ContextLocalResource(resource, "inner")
    before = impl.current_scope()
    a, b = impl.scope("a"), impl.scope("b")
    a.__enter__()
    outer_session()
    b.__enter__()
    inner_session()
    with pytest.raises(ScopeError) as info:
        a.__exit__(None, None, None)
    assert str(info.value).startswith("scope 'a' was exited while scopes entered inside it were still open ('b',")
    assert log == ["rollback inner ScopeError", "rollback outer ScopeError"]
    assert a.closed and b.closed
    assert impl.current_scope() is before
    with pytest.raises(ScopeError, match="scope 'b' was exited twice, or after an enclosing scope's exit closed it"):
        b.__exit__(None, None, None)
    assert impl.current_scope() is before
    with impl.scope() as fresh:  # later scopes work normally
        assert fresh.parent is before


def test_exiting_an_outer_async_scope_first_closes_the_inner_async_resources(impl):
    log = []

    async def connection(name):
        try:
            yield name
        finally:
            log.append(f"close {name}")

    outer_conn = impl.ContextLocalResource(connection, "outer")
    inner_conn = impl.ContextLocalResource(connection, "inner")

    async def main():
        a, b, c = impl.scope("a"), impl.scope("b"), impl.scope("c")
        await a.__aenter__()
        await outer_conn()
        await b.__aenter__()
        await c.__aenter__()
        await inner_conn()
        with pytest.raises(ScopeError, match=r"scope 'a' was exited while .* \('c', 'b', innermost first\)"):
            await a.__aexit__(None, None, None)
        assert impl.current_scope() is None
        return a, b, c

    scopes = asyncio.run(main())
    assert log == ["close inner", "close outer"]
    assert all(s.closed for s in scopes)


def test_a_scope_cannot_be_copied_pickled_or_subclassed(impl):
    import copy
    import pickle

    with impl.scope("job") as s:
        for attempt in (copy.copy, copy.deepcopy, pickle.dumps):
            with pytest.raises(TypeError, match=r"<Scope 'job' active> cannot be copied or pickled"):
                attempt(s)
    with pytest.raises(TypeError, match=r"type 'di_scopes\._scope_(c|py)\.Scope' is not an acceptable base type"):

        class MyScope(impl.Scope):
            pass


def test_a_scope_with_many_instances_keeps_each_once_and_tears_down_newest_first(impl):
    """Forty resources in one scope (the compiled twin indexes its entries past eight): each
    created once and found again, one reset and one that fails to set up leaving the others in
    place, nested creations, and the teardown newest first."""
    from dependency_injector import providers

    log = []

    def resource(name, *needs):
        if name == "broken":
            raise OSError("cannot set up")
        log.append(f"open {name}")
        yield name
        log.append(f"close {name}")

    plain = [impl.ContextLocalResource(resource, f"r{index}") for index in range(40)]
    nested = impl.ContextLocalResource(resource, "nested", plain[3], impl.ContextLocalResource(resource, "inner"))
    broken = impl.ContextLocalResource(resource, "broken")
    singleton = impl.ContextLocalSingleton(providers.Factory(list, providers.List(plain[39], plain[0])))

    with impl.scope() as scope:
        assert [provider() for provider in plain] == [f"r{index}" for index in range(40)]
        assert [provider() for provider in reversed(plain)] == [f"r{index}" for index in reversed(range(40))]
        assert nested() == "nested"
        with pytest.raises(OSError, match="cannot set up"):
            broken()
        assert singleton() == ["r39", "r0"] and singleton() is singleton()
        plain[20].shutdown()
        assert log[-1] == "close r20"
        assert plain[20]() == "r20"
        assert [provider() for provider in plain] == [f"r{index}" for index in range(40)]
        assert len(scope._live_resources()) == 42
        del log[:]
    assert log == ["close r20", "close nested", "close inner", *(f"close r{i}" for i in reversed(range(40)) if i != 20)]
