"""Factory graphs over an async scoped session, through FastAPI: the fast path builds them
itself (no gather, no task), dependency-injector's @inject through its own machinery; both
share one session per request and commit or roll back with it."""

# No "from __future__ import annotations": FastAPI and the wiring read the annotations.

import asyncio

import httpx
import pytest
from dependency_injector import containers, providers, wiring
from fastapi import Depends, FastAPI, HTTPException

import di_scopes.fastapi
from di_scopes.asgi import ScopeMiddleware


class Session:
    def __init__(self, number):
        self.number = number
        self.events = []


class Repo:
    def __init__(self, session):
        self.session = session


class Service:
    def __init__(self, repo, session):
        self.repo = repo
        self.session = session


async def make_audit(session):
    await asyncio.sleep(0)
    return ("audit", session)


def build(twin, fast, suspend):
    sessions = []

    async def session_resource():
        if suspend:
            await asyncio.sleep(0)  # as a connection pool checkout may
        session = Session(len(sessions) + 1)
        sessions.append(session)
        try:
            yield session
            session.events.append("commit")
        except BaseException as error:
            session.events.append(f"rollback {type(error).__name__}")
            raise
        finally:
            session.events.append("close")

    class Container(containers.DeclarativeContainer):
        session = twin.ContextLocalResource(session_resource)
        repo = providers.Factory(Repo, session=session)
        service = providers.Factory(Service, repo, session=session)
        tagged = providers.Factory(Repo, session)
        audit = providers.Factory(make_audit, session)

    tagged_attr = Container.tagged.add_attributes(owner=Container.service)
    assert tagged_attr is Container.tagged

    inject = di_scopes.fastapi.inject if fast else wiring.inject
    app = FastAPI()
    app.add_middleware(ScopeMiddleware)

    @app.get("/ok")
    @inject
    async def ok(
        fail: int = 0,
        service: Service = Depends(wiring.Provide[Container.service]),
        repo: Repo = Depends(wiring.Provide[Container.repo]),
        session: Session = Depends(wiring.Provide[Container.session]),
        tagged: Repo = Depends(wiring.Provide[Container.tagged]),
        audit: tuple = Depends(wiring.Provide[Container.audit]),
    ):
        assert service.session is service.repo.session is repo.session is session is tagged.session
        assert tagged.owner.session is session and audit == ("audit", session)
        if fail:
            raise HTTPException(409)
        return {"session": session.number}

    @app.get("/which")
    @inject
    async def which(
        service: Service = Depends(wiring.Provide[Container.service]),
        repo: Repo = Depends(wiring.Provide[Container.repo]),
    ):
        return {"service_repo": type(service.repo).__name__, "repo": type(repo).__name__}

    container = Container()
    container.wire(modules=[__name__])
    app.state.container = container
    app.state.sessions = sessions
    return app


def get(app, *paths):
    async def run():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(client.get(path) for path in paths))

    return asyncio.run(run())


@pytest.mark.parametrize("suspend", [False, True], ids=["ready", "suspending"])
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "di-style"])
def test_one_session_per_request_through_the_graph(twin, fast, suspend):
    app = build(twin, fast, suspend)
    responses = get(app, *["/ok"] * 10, "/ok?fail=1")
    assert [r.status_code for r in responses] == [200] * 10 + [409]
    sessions = app.state.sessions
    assert len({r.json()["session"] for r in responses[:10]}) == 10
    assert len(sessions) == 11
    assert sorted(s.events[0] for s in sessions) == ["commit"] * 10 + ["rollback ErrorResponse"]
    assert all(s.events[-1] == "close" and len(s.events) == 2 for s in sessions)


def test_after_the_fast_path_the_container_still_resolves_the_graph_itself(twin):
    app = build(twin, True, False)
    assert get(app, "/ok")[0].status_code == 200
    container = app.state.container

    async def direct():
        async with twin.scope():
            service = await container.service()
            assert service.session is service.repo.session is await container.session()
            return service.session

    session = asyncio.run(direct())
    assert session.events == ["commit", "close"]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "di-style"])
def test_an_overridden_factory_in_the_graph_is_honoured(twin, fast):
    app = build(twin, fast, False)
    container = app.state.container

    class FakeRepo(Repo):
        pass

    assert get(app, "/which")[0].json() == {"service_repo": "Repo", "repo": "Repo"}
    with container.repo.override(providers.Factory(FakeRepo, session=container.session)):
        assert get(app, "/which")[0].json() == {"service_repo": "FakeRepo", "repo": "FakeRepo"}
    assert get(app, "/which")[0].json() == {"service_repo": "Repo", "repo": "Repo"}


@pytest.mark.parametrize("suspend", [False, True], ids=["ready", "suspending"])
def test_the_fast_path_builds_a_ready_graph_in_place(twin, suspend):
    """dependency-injector hands back a future it completes over several loop turns; the fast
    path's resolver gives the Service itself once the session is ready (an awaitable only while
    the session's setup is still pending), and latches the Factories' async mode as a call would."""
    provide = twin.provide_graph

    container = build(twin, True, suspend).state.container

    async def main():
        async with twin.scope():
            built = provide(container.service)
            if suspend:
                assert asyncio.iscoroutine(built)
                built = await built
            assert isinstance(built, Service) and built.session is built.repo.session
            assert isinstance(provide(container.service), Service)  # the session is ready now
            assert container.service.is_async_mode_enabled() and container.repo.is_async_mode_enabled()
            by_di = container.service()
            assert asyncio.isfuture(by_di)
            assert (await by_di).session is built.session

    asyncio.run(main())


def test_a_sync_graph_is_built_as_dependency_injectors_sync_call_builds_it(twin):
    """Latched to sync mode by the first call, the Factory is built by the compiled twin itself
    (by dependency-injector's call in the pure twin): a new instance each time, over the
    scope's session, and an override set later is honoured."""
    provide = twin.provide_graph

    class Container(containers.DeclarativeContainer):
        session = twin.ContextLocalResource(lambda: Session(1))
        repo = providers.Factory(Repo, session=session)

    container = Container()
    with twin.scope():
        repo = provide(container.repo)
        assert repo.session is container.session()
        assert container.repo.is_async_mode_disabled()
        again = provide(container.repo)
        assert type(again) is Repo and again is not repo and again.session is repo.session
        with container.session.override(providers.Object("overridden")):
            assert provide(container.repo).session == "overridden"
        with container.repo.override(providers.Object("the repo overridden")):
            assert provide(container.repo) == "the repo overridden"


class Teardowns:
    """An endpoint-scoped resource, and what it saw."""

    def __init__(self, twin, failing_teardown=False):
        self.seen = []

        def resource():
            self.seen.append("open")
            try:
                yield "resource"
            except BaseException as error:
                self.seen.append(f"rollback {type(error).__name__}")
                raise
            self.seen.append("commit")
            if failing_teardown:
                raise RuntimeError("the teardown failed")

        self.resource = twin.ContextLocalResource(resource).in_scope("endpoint")


@pytest.mark.parametrize(
    "outcome", ["returns", "raises", "leaves a scope open", "teardown fails", "raises and teardown fails"]
)
def test_call_in_scope_does_what_a_with_statement_does(twin, outcome):
    """The sync fast path's call (``call_in_scope``, compiled in the compiled twin) against the
    with statement it stands for, on the same scopes, functions and resources."""

    def run(in_scope):
        teardowns = Teardowns(twin, failing_teardown="teardown fails" in outcome)
        inner = []

        def fn(value, resource=None):
            assert twin.current_scope().name == "endpoint"
            if outcome == "leaves a scope open":
                inner.append(twin.scope("inner"))
                inner[0].__enter__()
            if outcome.startswith("raises"):
                raise LookupError(f"{value} {resource}")
            return (value, resource)

        with twin.scope():
            fresh = twin.scope("endpoint", exclusive=True)._fresh()
            kwargs = {}
            try:
                result = ("returned", in_scope(fresh, {"resource": teardowns.resource}, fn, ("value",), kwargs))
            except Exception as error:
                context = error.__context__
                result = ("raised", type(error).__name__, str(error), type(context).__name__ if context else None)
            assert twin.current_scope().name == "request"
        return result, teardowns.seen, kwargs

    def with_statement(scope, injections, fn, args, kwargs):
        with scope:
            twin.inject_sync(injections, kwargs)
            return fn(*args, **kwargs)

    fast = run(twin.call_in_scope)
    assert fast == run(with_statement)
    assert fast[1][0] == "open" and fast[2] == {"resource": "resource"}


class Lazy:
    """An awaitable that is neither a future nor a coroutine."""

    def __await__(self):
        yield from asyncio.sleep(0).__await__()
        return "awaited"


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "di-style"])
def test_an_injected_awaitable_that_is_no_future_or_coroutine_is_awaited(twin, fast):
    """dependency-injector's @inject awaits whatever is awaitable; so does the fast path (with
    the answer cached per class, asked again for each instance here)."""

    class Container(containers.DeclarativeContainer):
        lazy = providers.Callable(Lazy)
        session = twin.ContextLocalResource(lambda: Session(1))

    inject = di_scopes.fastapi.inject if fast else wiring.inject
    app = FastAPI()
    app.add_middleware(ScopeMiddleware)

    @app.get("/")
    @inject
    async def endpoint(
        lazy=Depends(wiring.Provide[Container.lazy]), session: Session = Depends(wiring.Provide[Container.session])
    ):
        return {"lazy": lazy, "session": session.number}

    container = Container()
    container.wire(modules=[__name__])
    try:
        for _ in range(2):
            assert get(app, "/")[0].json() == {"lazy": "awaited", "session": 1}
    finally:
        container.unwire()
