"""``Closing[Provide[...]]`` with di_scopes.fastapi.inject and with dependency-injector's @inject.

di_scopes.fastapi.inject tears down the scoped resources that ``Closing`` names (and the scoped
resources they depend on) when the call returns, with its exception thrown in. dependency-
injector's own @inject closes only its own resource classes: a scoped instance lives until its
scope ends, as the README says.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
from dependency_injector import containers, providers, wiring
from dependency_injector.wiring import Closing, Provide

from di_scopes import fastapi as di_fastapi

INJECTORS = {"dependency_injector": wiring.inject, "di_scopes": di_fastapi.inject}


class Log(list):
    def __init__(self):
        super().__init__()
        self.numbers = itertools.count(1)


def make_container(twin, log, *, asynchronous):
    def open_session():
        number = next(log.numbers)
        log.append(f"open {number}")
        try:
            yield number
            log.append(f"commit {number}")
        except Exception as error:
            log.append(f"rollback {number} {type(error).__name__}")
            raise
        finally:
            log.append(f"close {number}")

    async def async_session():
        number = next(log.numbers)
        log.append(f"open {number}")
        try:
            await asyncio.sleep(0)
            yield number
            log.append(f"commit {number}")
        except Exception as error:
            log.append(f"rollback {number} {type(error).__name__}")
            raise
        finally:
            log.append(f"close {number}")

    class Container(containers.DeclarativeContainer):
        session = twin.ContextLocalResource(async_session if asynchronous else open_session)
        repository = providers.Factory(dict, session=session)

    return Container()


def make_functions(inject, *, asynchronous):
    if asynchronous:

        @inject
        async def use_session(session=Closing[Provide["session"]], fail=False):
            await asyncio.sleep(0)
            if fail:
                raise LookupError("failed")
            return session

        @inject
        async def use_repository(repository=Closing[Provide["repository"]]):
            return repository["session"]

    else:

        @inject
        def use_session(session=Closing[Provide["session"]], fail=False):
            if fail:
                raise LookupError("failed")
            return session

        @inject
        def use_repository(repository=Closing[Provide["repository"]]):
            return repository["session"]

    return use_session, use_repository


def call(function, asynchronous, *args, **kwargs):
    return asyncio.run(function(*args, **kwargs)) if asynchronous else function(*args, **kwargs)


@pytest.fixture(params=["sync", "async"])
def asynchronous(request):
    return request.param == "async"


@pytest.fixture
def wired(twin, asynchronous):
    log = Log()
    container = make_container(twin, log, asynchronous=asynchronous)
    made = {name: make_functions(inject, asynchronous=asynchronous) for name, inject in INJECTORS.items()}
    container.wire(modules=[__name__])
    yield container, log, made
    container.unwire()


def in_scope(twin, asynchronous, steps):
    """Call each ``(function, kwargs)`` of ``steps`` in one scope; return what each returned or
    the LookupError it raised."""

    async def run_async():
        async with twin.scope():
            results = []
            for function, kwargs in steps:
                try:
                    result = function(**kwargs)
                    results.append(await result if asyncio.iscoroutine(result) else result)
                except LookupError as error:
                    results.append(error)
            return results

    if asynchronous:
        return asyncio.run(run_async())
    with twin.scope():
        results = []
        for function, kwargs in steps:
            try:
                results.append(function(**kwargs))
            except LookupError as error:
                results.append(error)
        return results


def test_di_scopes_inject_closes_at_return_with_the_exception_thrown_in(twin, asynchronous, wired):
    _, log, made = wired
    use_session, use_repository = made["di_scopes"]
    results = in_scope(
        twin, asynchronous, [(use_session, {}), (use_session, {}), (use_session, {"fail": True}), (use_repository, {})]
    )
    assert results[:2] == [1, 2] and isinstance(results[2], LookupError) and results[3] == 4
    assert log == [
        "open 1",
        "commit 1",
        "close 1",
        "open 2",
        "commit 2",
        "close 2",
        "open 3",
        "rollback 3 LookupError",
        "close 3",
        "open 4",
        "commit 4",
        "close 4",  # a resource the Closing provider depends on
    ]


def test_dependency_injector_inject_leaves_scoped_instances_to_the_scope(twin, asynchronous, wired):
    _, log, made = wired
    use_session, use_repository = made["dependency_injector"]
    snapshot = (lambda: list(log), {})
    results = in_scope(twin, asynchronous, [(use_session, {}), (use_session, {}), (use_repository, {}), snapshot])
    assert results == [1, 1, 1, ["open 1"]]  # nothing closed when the calls returned
    assert log == ["open 1", "commit 1", "close 1"]  # the scope's end closed it


def test_closing_outside_any_scope_names_the_provider(twin, asynchronous, wired):
    _, _, made = wired
    for injector in INJECTORS:
        use_session, _ = made[injector]
        # Once some provider is bound to "endpoint", the fast path opens that exclusive scope.
        with pytest.raises(twin.ScopeError, match="outside any scope|only active scopes are exclusive"):
            call(use_session, asynchronous)
