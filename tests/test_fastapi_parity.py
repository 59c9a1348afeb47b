"""di_scopes.fastapi.inject against dependency-injector's own @inject, one defect at a time.

Each test here pins down a way in which the fast path once differed from dependency-injector's
``wiring.inject``: a service built only from its repository, ``unwire()`` and a new ``wire()``,
injections awaited together, a generator endpoint's "endpoint" scope, ``Closing[...]`` on a
generator endpoint. ``test_fastapi_differential.py`` compares the two on generated programs.
"""

# No "from __future__ import annotations": FastAPI and the wiring read the annotations.

import asyncio
import contextvars
import gc
import json
import sys
import warnings

import httpx
import pytest
from dependency_injector import containers, providers, wiring
from dependency_injector.wiring import Closing, Provide
from fastapi import Depends, FastAPI

import di_scopes.fastapi
from di_scopes.asgi import ScopeMiddleware

INJECTORS = {"fast": di_scopes.fastapi.inject, "di": wiring.inject}
THIS = sys.modules[__name__]  # wire() binds the decorated functions of the module they were made in


class Repo:
    def __init__(self, session):
        self.session = session


class Service:
    def __init__(self, repo):
        self.repo = repo


def session_resource(log):
    async def open_session():
        number = len(log) + 1
        log.append(f"open {number}")
        try:
            yield f"session {number}"
            log.append(f"commit {number}")
        except BaseException as error:
            log.append(f"rollback {number} {type(error).__name__}")
            raise
        finally:
            log.append(f"close {number}")

    return open_session


def get(app, *paths):
    async def run():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.get(path) for path in paths]

    return asyncio.run(run())


# 1. A service built only from its repository ----------------------------------------------


@pytest.mark.parametrize("injector", list(INJECTORS))
def test_a_service_built_only_from_its_repository_gets_a_repository_on_every_request(twin, injector):
    log = []

    class Container(containers.DeclarativeContainer):
        session = twin.ContextLocalResource(session_resource(log))
        repo = providers.Factory(Repo, session=session)
        service = providers.Factory(Service, repo=repo)

    app = FastAPI()
    app.add_middleware(ScopeMiddleware)

    @app.get("/")
    @INJECTORS[injector]
    async def endpoint(service: Service = Depends(Provide[Container.service])):
        return {"repo": type(service.repo).__name__, "session": service.repo.session}

    container = Container()
    container.wire(modules=[__name__])
    try:
        responses = get(app, "/", "/", "/")
        assert [r.json() for r in responses] == [{"repo": "Repo", "session": f"session {n}"} for n in (1, 4, 7)]
        assert container.service.is_async_mode_enabled() and container.repo.is_async_mode_enabled()

        async def direct():
            async with twin.scope():
                service = await container.service()
                return type(service.repo).__name__, service.repo.session

        assert asyncio.run(direct()) == ("Repo", "session 10")
    finally:
        container.unwire()


def test_the_fast_path_latches_a_three_level_chain_as_dependency_injector_does(twin):
    """Each Factory of Top(Service(Repo(session))) ends in async mode, as a call of it would
    leave it, whichever resolves first."""

    class Top:
        def __init__(self, service):
            self.service = service

    def make():
        class Container(containers.DeclarativeContainer):
            session = twin.ContextLocalResource(session_resource([]))
            repo = providers.Factory(Repo, session=session)
            service = providers.Factory(Service, repo=repo)
            top = providers.Factory(Top, service=service)

        return Container()

    async def by(resolve):
        container = make()
        async with twin.scope():
            top = await resolve(container)
            assert type(top.service.repo) is Repo and top.service.repo.session == "session 1"
            again = await resolve(container)
            assert type(again.service.repo) is Repo
        return [
            container.top.is_async_mode_enabled(),
            container.service.is_async_mode_enabled(),
            container.repo.is_async_mode_enabled(),
            container.session.is_async_mode_enabled(),
        ]

    async def fast(container):
        kwargs = {}
        pending = twin.inject_into({"top": container.top}, kwargs)
        return await kwargs["top"] if pending else kwargs["top"]

    async def di(container):
        return await container.top()

    assert asyncio.run(by(fast)) == asyncio.run(by(di)) == [True] * 4


# 2. unwire() and a new wire() -----------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_unwire_and_a_new_wire_are_seen_by_the_next_call(twin, asynchronous):
    def make(label):
        class Container(containers.DeclarativeContainer):
            value = providers.Object(label)

        return Container()

    results = {}
    for name, inject in INJECTORS.items():
        if asynchronous:

            async def function(value=Provide["value"]):
                return value

        else:

            def function(value=Provide["value"]):
                return value

        decorated = inject(function)

        def call():
            result = decorated()  # noqa: B023 - called in this iteration
            result = asyncio.run(result) if asynchronous else result
            return result if isinstance(result, str) else type(result).__name__

        seen = []
        first = make("first")
        first.wire(modules=[THIS])
        seen.append(call())
        with first.value.override("overridden"):
            seen.append(call())
        first.unwire()
        seen.append(call())
        second = make("second")
        second.wire(modules=[THIS])
        seen.append(call())
        second.unwire()
        seen.append(call())
        results[name] = seen
    assert results["fast"] == results["di"] == ["first", "overridden", "Provide", "second", "Provide"]


# 3. Pending injections are awaited together ----------------------------------------------------


def coroutine_container(twin):
    class Container(containers.DeclarativeContainer):
        events = providers.Object({})

        # Each waits for the other to have started: awaited one after the other, they deadlock.
        first = providers.Coroutine(meet, events, "first", "second")
        second = providers.Coroutine(meet, events, "second", "first")
        failing = providers.Coroutine(fail_soon)
        slow = providers.Coroutine(finish_later)

    return Container()


async def meet(events, mine, other):
    events.setdefault(mine, asyncio.Event()).set()
    await events.setdefault(other, asyncio.Event()).wait()
    return mine


async def fail_soon():
    await asyncio.sleep(0)
    raise LookupError("failed")


async def finish_later():
    await asyncio.sleep(0.01)
    return "slow"


@pytest.mark.parametrize("injector", list(INJECTORS))
def test_injections_that_wait_for_each_other_are_awaited_together(twin, injector):
    container = coroutine_container(twin)

    @INJECTORS[injector]
    async def both(first=Provide["first"], second=Provide["second"]):
        return first, second

    container.wire(modules=[THIS])
    try:
        assert asyncio.run(asyncio.wait_for(both(), 5)) == ("first", "second")
    finally:
        container.unwire()


@pytest.mark.parametrize("injector", list(INJECTORS))
def test_when_one_injection_fails_the_others_are_still_awaited(twin, injector):
    container = coroutine_container(twin)

    @INJECTORS[injector]
    async def failing(failing=Provide["failing"], slow=Provide["slow"]):
        return failing, slow

    container.wire(modules=[THIS])
    try:

        async def main():
            with pytest.raises(LookupError):
                await failing()
            await asyncio.sleep(0.05)  # the slow one finishes meanwhile

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "coroutine ... was never awaited" fails the test
            asyncio.run(main())
            gc.collect()
    finally:
        container.unwire()


# 4. A generator endpoint's "endpoint" scope ----------------------------------------------------


def endpoint_container(twin, log):
    def per_call():
        number = len(log) + 1
        log.append(f"endpoint open {number}")
        try:
            yield number
            log.append(f"endpoint commit {number}")
        except BaseException as error:
            log.append(f"endpoint rollback {number} {type(error).__name__}")
            raise

    def per_request():
        log.append("request open")
        try:
            yield "request"
            log.append("request commit")
        except BaseException as error:
            log.append(f"request rollback {type(error).__name__}")
            raise

    class Container(containers.DeclarativeContainer):
        call = twin.ContextLocalResource(per_call).in_scope(di_scopes.fastapi.ENDPOINT_SCOPE)
        request = twin.ContextLocalResource(per_request)

    return Container()


def test_an_async_generator_endpoint_keeps_its_scope_to_itself(twin):
    log = []
    container = endpoint_container(twin, log)

    @di_scopes.fastapi.inject
    async def items(call=Provide["call"], request=Provide["request"]):
        for item in range(3):
            # Each step runs in the endpoint's scope; between steps the reader is in its own.
            yield item, call, request, twin.current_scope().name

    container.wire(modules=[THIS])
    unraisable = []

    async def main():
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: unraisable.append(context))
        async with twin.scope() as request_scope:
            seen = []
            async for item in items():
                seen.append(item)
                assert twin.current_scope() is request_scope
                if len(seen) == 2:
                    break  # a reader that stops early
            assert seen == [(0, 1, "request", "endpoint"), (1, 1, "request", "endpoint")]
            await asyncio.sleep(0)
        await asyncio.sleep(0)
        gc.collect()
        await asyncio.sleep(0)

    try:
        asyncio.run(main())
    finally:
        container.unwire()
    assert unraisable == []
    assert log == ["endpoint open 1", "request open", "endpoint rollback 1 GeneratorExit", "request commit"]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_generator_endpoint_read_to_the_end_under_fastapi_closes_its_scope_first(twin, kind):
    log = []
    container = endpoint_container(twin, log)
    app = FastAPI()
    app.add_middleware(ScopeMiddleware)

    if kind == "async":

        @app.get("/items")
        @di_scopes.fastapi.inject
        async def items(call=Depends(Provide["call"]), request=Depends(Provide["request"])):
            for item in range(2):
                yield {"item": item, "call": call, "scope": twin.current_scope().name}

    else:

        @app.get("/items")
        @di_scopes.fastapi.inject
        def items(call=Depends(Provide["call"]), request=Depends(Provide["request"])):
            for item in range(2):
                yield {"item": item, "call": call, "scope": twin.current_scope().name}

    container.wire(modules=[__name__])
    try:
        (response,) = get(app, "/items")
    finally:
        container.unwire()
    assert response.status_code == 200
    assert [json.loads(line) for line in response.text.splitlines()] == [
        {"item": 0, "call": 1, "scope": "endpoint"},
        {"item": 1, "call": 1, "scope": "endpoint"},
    ]
    assert log == ["endpoint open 1", "request open", "endpoint commit 1", "request commit"]


def test_a_sync_generator_endpoint_keeps_its_scope_to_itself(twin):
    log = []
    container = endpoint_container(twin, log)

    @di_scopes.fastapi.inject
    def items(call=Provide["call"], request=Provide["request"]):
        yield call, request, twin.current_scope().name
        yield call, request, twin.current_scope().name

    container.wire(modules=[THIS])
    try:
        with twin.scope() as request_scope:
            generator = items()
            assert next(generator) == (1, "request", "endpoint")  # resolved in the call
            assert twin.current_scope() is request_scope
            generator.close()  # a reader that stops early
            assert twin.current_scope() is request_scope
    finally:
        container.unwire()
    assert log == ["endpoint open 1", "request open", "endpoint rollback 1 GeneratorExit", "request commit"]


def test_a_generator_endpoint_step_runs_in_a_context_of_its_own(twin):
    """Context variables the endpoint sets stay with its steps."""
    log = []
    container = endpoint_container(twin, log)
    variable = contextvars.ContextVar("variable", default="unset")

    @di_scopes.fastapi.inject
    async def items(call=Provide["call"]):
        variable.set("set by the endpoint")
        yield variable.get()
        yield variable.get()

    container.wire(modules=[THIS])

    async def main():
        async with twin.scope():
            seen = [(item, variable.get()) async for item in items()]
        return seen

    try:
        assert asyncio.run(main()) == [("set by the endpoint", "unset")] * 2
    finally:
        container.unwire()


# 5. Closing[...] on a generator endpoint --------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("outcome", ["finished", "raised", "closed"])
def test_closing_on_a_generator_endpoint_closes_when_the_generator_ends(twin, kind, outcome):
    log = []

    def open_session():
        number = len([entry for entry in log if entry.startswith("open")]) + 1
        log.append(f"open {number}")
        try:
            yield number
            log.append(f"commit {number}")
        except BaseException as error:
            log.append(f"rollback {number} {type(error).__name__}")
            raise

    class Container(containers.DeclarativeContainer):
        session = twin.ContextLocalResource(open_session)

    container = Container()

    if kind == "async":

        @di_scopes.fastapi.inject
        async def items(session=Closing[Provide[Container.session]]):
            log.append(f"first item of {session}")
            yield session
            if outcome == "raised":
                raise LookupError("failed")
            log.append(f"last item of {session}")
            yield session

    else:

        @di_scopes.fastapi.inject
        def items(session=Closing[Provide[Container.session]]):
            log.append(f"first item of {session}")
            yield session
            if outcome == "raised":
                raise LookupError("failed")
            log.append(f"last item of {session}")
            yield session

    container.wire(modules=[THIS])

    def consume_sync():
        generator = items()
        taken = [next(generator)]
        if outcome == "closed":
            generator.close()
            return taken
        try:
            taken.extend(generator)
        except LookupError:
            pass
        return taken

    async def consume_async():
        generator = items()
        taken = [await generator.__anext__()]
        if outcome == "closed":
            await generator.aclose()
            return taken
        try:
            async for item in generator:
                taken.append(item)
        except LookupError:
            pass
        return taken

    try:
        if kind == "async":

            async def main():
                async with twin.scope():
                    taken = await consume_async()
                    log.append("after the generator")
                return taken

            taken = asyncio.run(main())
        else:
            with twin.scope():
                taken = consume_sync()
                log.append("after the generator")
    finally:
        container.unwire()
    ending = {
        "finished": ["last item of 1", "commit 1"],
        "raised": ["rollback 1 LookupError"],
        "closed": ["rollback 1 GeneratorExit"],
    }[outcome]
    assert taken == ([1, 1] if outcome == "finished" else [1])
    assert log == ["open 1", "first item of 1", *ending, "after the generator"]
