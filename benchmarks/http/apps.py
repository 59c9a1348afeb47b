"""The same endpoint, wired eight ways, for the HTTP benchmark.

The endpoint is the one dependency-injector users write: it takes the request's session twice and
a repository that holds the same session, runs a query through the repository, and the session
commits and closes after the request. SQLite in memory, so the database costs next to nothing and
what differs between the variants is the wiring. ``BENCH_VARIANT`` picks the variant when uvicorn
imports ``benchmarks.http.apps:app``.
"""

# No "from __future__ import annotations": the peers evaluate the endpoints' annotations.

import os
from typing import AsyncIterator, Iterator

from fastapi import Depends, FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from di_scopes.sqlalchemy import transaction as session_generator  # every variant's session: the same generator

VARIANTS = (
    "manual",
    "fastapi-sync-gen",
    "fastapi-async-gen",
    "di-contextlocal",
    "dishka",
    "wireup",
    "di-scopes-fast",
    "di-scopes-di-style",
)

QUERY = text("SELECT 1")


class Repository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def one(self) -> int:
        return self.session.execute(QUERY).scalar_one()


def session_factory() -> sessionmaker:
    # One in-memory connection for every thread: a session may be opened in one thread and
    # committed in another (FastAPI runs sync dependencies' setup and exit on different workers).
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    return sessionmaker(bind=engine)


def result(a: Session, b: Session, repository: Repository) -> dict:
    assert a is b is repository.session, "one session per request"
    return {"one": repository.one()}


def manual() -> FastAPI:
    """The floor: the endpoint opens, uses, commits and closes the session by hand."""
    app = FastAPI()
    factory = session_factory()

    @app.get("/")
    async def endpoint() -> dict:
        session = factory()
        try:
            response = result(session, session, Repository(session))
            session.commit()
            return response
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    return app


def fastapi_sync_gen() -> FastAPI:
    """FastAPI's own dependencies, with a sync generator: each runs in the thread pool."""
    app = FastAPI()
    factory = session_factory()

    def get_session() -> Iterator[Session]:
        yield from session_generator(factory)

    def get_repository(session: Session = Depends(get_session)) -> Repository:
        return Repository(session)

    @app.get("/")
    async def endpoint(
        a: Session = Depends(get_session),
        b: Session = Depends(get_session),
        repository: Repository = Depends(get_repository),
    ) -> dict:
        return result(a, b, repository)

    return app


def fastapi_async_gen() -> FastAPI:
    """FastAPI's own dependencies, with an async generator: no thread pool."""
    app = FastAPI()
    factory = session_factory()

    async def get_session() -> AsyncIterator[Session]:
        session = factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    async def get_repository(session: Session = Depends(get_session)) -> Repository:
        return Repository(session)

    @app.get("/")
    async def endpoint(
        a: Session = Depends(get_session),
        b: Session = Depends(get_session),
        repository: Repository = Depends(get_repository),
    ) -> dict:
        return result(a, b, repository)

    return app


def di_contextlocal() -> FastAPI:
    """dependency-injector's own ContextLocalResource with @inject and Depends(Provide[...]);
    ``Closing`` tears the session down at the end of the endpoint."""
    from dependency_injector import containers, providers
    from dependency_injector.wiring import Closing, Provide, inject

    class Container(containers.DeclarativeContainer):
        factory = providers.Singleton(session_factory)
        session = providers.ContextLocalResource(session_generator, factory)
        repository = providers.Factory(Repository, session=session)

    app = FastAPI()

    @app.get("/")
    @inject
    async def endpoint(
        a: Session = Depends(Closing[Provide[Container.session]]),
        b: Session = Depends(Provide[Container.session]),
        repository: Repository = Depends(Provide[Container.repository]),
    ) -> dict:
        return result(a, b, repository)

    container = Container()
    container.wire(modules=[__name__])
    return app


def dishka_app() -> FastAPI:
    """dishka, REQUEST scope, its FastAPI integration."""
    from dishka import Provider, Scope, make_async_container, provide
    from dishka.integrations.fastapi import FromDishka, inject, setup_dishka

    class AppProvider(Provider):
        @provide(scope=Scope.APP)
        def factory(self) -> sessionmaker:
            return session_factory()

        @provide(scope=Scope.REQUEST)
        def session(self, factory: sessionmaker) -> Iterator[Session]:
            yield from session_generator(factory)

        @provide(scope=Scope.REQUEST)
        def repository(self, session: Session) -> Repository:
            return Repository(session)

    app = FastAPI()

    @app.get("/")
    @inject
    async def endpoint(a: FromDishka[Session], b: FromDishka[Session], repository: FromDishka[Repository]) -> dict:
        return result(a, b, repository)

    setup_dishka(make_async_container(AppProvider()), app)
    return app


def wireup_app() -> FastAPI:
    """wireup, scoped lifetime, its FastAPI integration."""
    import wireup
    import wireup.integration.fastapi
    from wireup import Injected, injectable

    @injectable
    def factory() -> sessionmaker:
        return session_factory()

    @injectable(lifetime="scoped")
    def session(factory: sessionmaker) -> Iterator[Session]:
        yield from session_generator(factory)

    @injectable(lifetime="scoped")
    def repository(session: Session) -> Repository:
        return Repository(session)

    app = FastAPI()

    @app.get("/")
    async def endpoint(a: Injected[Session], b: Injected[Session], repository: Injected[Repository]) -> dict:
        return result(a, b, repository)

    container = wireup.create_async_container(injectables=[factory, session, repository])
    wireup.integration.fastapi.setup(container, app)
    return app


def di_scopes_app(fast: bool) -> FastAPI:
    """di-scopes: ScopeMiddleware, ContextLocalResource; the fast path or dependency-injector's
    own @inject."""
    from dependency_injector import containers, providers
    from dependency_injector import wiring

    import di_scopes
    import di_scopes.fastapi
    from di_scopes.asgi import ScopeMiddleware

    inject = di_scopes.fastapi.inject if fast else wiring.inject

    class Container(containers.DeclarativeContainer):
        factory = providers.Singleton(session_factory)
        session = di_scopes.ContextLocalResource(session_generator, factory)
        repository = providers.Factory(Repository, session=session)

    app = FastAPI()
    app.add_middleware(ScopeMiddleware)

    @app.get("/")
    @inject
    async def endpoint(
        a: Session = Depends(wiring.Provide[Container.session]),
        b: Session = Depends(wiring.Provide[Container.session]),
        repository: Repository = Depends(wiring.Provide[Container.repository]),
    ) -> dict:
        return result(a, b, repository)

    container = Container()
    container.wire(modules=[__name__])
    return app


def build(variant: str) -> FastAPI:
    builders = {
        "manual": manual,
        "fastapi-sync-gen": fastapi_sync_gen,
        "fastapi-async-gen": fastapi_async_gen,
        "di-contextlocal": di_contextlocal,
        "dishka": dishka_app,
        "wireup": wireup_app,
        "di-scopes-fast": lambda: di_scopes_app(fast=True),
        "di-scopes-di-style": lambda: di_scopes_app(fast=False),
    }
    if variant not in builders:
        raise SystemExit(f"BENCH_VARIANT must be one of {', '.join(VARIANTS)}; got {variant!r}")
    return builders[variant]()


app = build(os.environ.get("BENCH_VARIANT", "manual"))
