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


def test_decorator_refuses_generator_functions(impl):
    with pytest.raises(TypeError, match="generator function"):

        @impl.scope()
        def gen():
            yield 1

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
