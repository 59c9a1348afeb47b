"""Two endpoints, wired eight and six ways, for the HTTP benchmark.

The sync-session endpoint is the one dependency-injector users write over a ``Session``: it takes
the request's session twice and a repository that holds the same session, runs a query through
the repository, and the session commits and closes after the request.

The async-session endpoint is the one most users run: an ``async def`` endpoint over SQLAlchemy's
``AsyncSession`` (aiosqlite), taking the request's session and a service built from a repository
that holds the same session; the service runs a query through the repository with ``await
session.execute(...)``, and the session commits and closes after the request. Its variants are
named ``async-...``.

SQLite in memory, so the database costs next to nothing and what differs between the variants is
the wiring. ``BENCH_VARIANT`` picks the variant when uvicorn imports ``benchmarks.http.apps:app``.
"""

# No "from __future__ import annotations": the peers evaluate the endpoints' annotations.

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator

from fastapi import Depends, FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from di_scopes.sqlalchemy import async_transaction
from di_scopes.sqlalchemy import transaction as session_generator  # every sync variant's session: the same generator

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

ASYNC_VARIANTS = (
    "async-manual",
    "async-fastapi-async-gen",
    "async-dishka",
    "async-wireup",
    "async-di-scopes-fast",
    "async-di-scopes-di-style",
)

# Each endpoint's variants, and its floor: the hand-wired variant the others are compared with.
ENDPOINTS = {
    "sync": {"variants": VARIANTS, "floor": "manual"},
    "async": {"variants": ASYNC_VARIANTS, "floor": "async-manual"},
}

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
    from dependency_injector import containers, providers, wiring

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


# The async-session endpoint.


class AsyncRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def one(self) -> int:
        return (await self.session.execute(QUERY)).scalar_one()


class Service:
    def __init__(self, repository: AsyncRepository, session: AsyncSession) -> None:
        self.repository = repository
        self.session = session

    async def one(self) -> int:
        return await self.repository.one()


def async_session_factory() -> async_sessionmaker:
    # One in-memory connection shared by every session of the application.
    return async_sessionmaker(create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool))


async def session_scope(factory: async_sessionmaker) -> AsyncIterator[AsyncSession]:
    """dishka's and wireup's session generator: ``di_scopes.sqlalchemy.async_transaction``
    written out, since they read the dependency from the annotation."""
    session = factory()
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()


async def async_result(session: AsyncSession, service: Service) -> dict:
    assert session is service.session is service.repository.session, "one session per request"
    return {"one": await service.one()}


def async_app(factory: async_sessionmaker) -> FastAPI:
    """An application that disposes of the engine at shutdown (aiosqlite's connection thread
    would otherwise keep the server process alive)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await factory.kw["bind"].dispose()

    return FastAPI(lifespan=lifespan)


def async_manual(factory: async_sessionmaker) -> FastAPI:
    """The floor: the endpoint opens, uses, commits and closes the session by hand."""
    app = async_app(factory)

    @app.get("/")
    async def endpoint() -> dict:
        session = factory()
        try:
            response = await async_result(session, Service(AsyncRepository(session), session))
            await session.commit()
            return response
        except BaseException:
            await session.rollback()
            raise
        finally:
            await session.close()

    return app


def async_fastapi_async_gen(factory: async_sessionmaker) -> FastAPI:
    """FastAPI's own dependencies: an async generator for the session, async functions for the
    repository and the service."""
    app = async_app(factory)

    async def get_session() -> AsyncIterator[AsyncSession]:
        session = factory()
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        finally:
            await session.close()

    async def get_repository(session: AsyncSession = Depends(get_session)) -> AsyncRepository:
        return AsyncRepository(session)

    async def get_service(
        repository: AsyncRepository = Depends(get_repository), session: AsyncSession = Depends(get_session)
    ) -> Service:
        return Service(repository, session)

    @app.get("/")
    async def endpoint(session: AsyncSession = Depends(get_session), service: Service = Depends(get_service)) -> dict:
        return await async_result(session, service)

    return app


def async_dishka(factory: async_sessionmaker) -> FastAPI:
    """dishka's async container, REQUEST scope, its FastAPI integration."""
    from dishka import Provider, Scope, make_async_container
    from dishka.integrations.fastapi import FromDishka, inject, setup_dishka

    provider = Provider(scope=Scope.REQUEST)
    provider.provide(lambda: factory, provides=async_sessionmaker, scope=Scope.APP)
    provider.provide(session_scope)
    provider.provide(AsyncRepository)
    provider.provide(Service)

    app = async_app(factory)

    @app.get("/")
    @inject
    async def endpoint(session: FromDishka[AsyncSession], service: FromDishka[Service]) -> dict:
        return await async_result(session, service)

    setup_dishka(make_async_container(provider), app)
    return app


def async_wireup(factory: async_sessionmaker) -> FastAPI:
    """wireup's async container, scoped lifetime, its FastAPI integration."""
    import wireup
    import wireup.integration.fastapi
    from wireup import Injected, injectable

    @injectable
    def sessions() -> async_sessionmaker:
        return factory

    @injectable(lifetime="scoped")
    def repository(session: AsyncSession) -> AsyncRepository:
        return AsyncRepository(session)

    @injectable(lifetime="scoped")
    def service(repository: AsyncRepository, session: AsyncSession) -> Service:
        return Service(repository, session)

    app = async_app(factory)

    @app.get("/")
    async def endpoint(session: Injected[AsyncSession], service: Injected[Service]) -> dict:
        return await async_result(session, service)

    injectables = [sessions, injectable(session_scope, lifetime="scoped"), repository, service]
    wireup.integration.fastapi.setup(wireup.create_async_container(injectables=injectables), app)
    return app


def async_di_scopes(factory: async_sessionmaker, fast: bool) -> FastAPI:
    """di-scopes: ScopeMiddleware, ContextLocalResource(async_transaction), Factory repository and
    service; the fast path or dependency-injector's own @inject."""
    from dependency_injector import containers, providers, wiring

    import di_scopes
    import di_scopes.fastapi
    from di_scopes.asgi import ScopeMiddleware

    inject = di_scopes.fastapi.inject if fast else wiring.inject

    class Container(containers.DeclarativeContainer):
        session_factory = providers.Object(factory)
        session = di_scopes.ContextLocalResource(async_transaction, session_factory)
        repository = providers.Factory(AsyncRepository, session=session)
        service = providers.Factory(Service, repository=repository, session=session)

    app = async_app(factory)
    app.add_middleware(ScopeMiddleware)

    @app.get("/")
    @inject
    async def endpoint(
        session: AsyncSession = Depends(wiring.Provide[Container.session]),
        service: Service = Depends(wiring.Provide[Container.service]),
    ) -> dict:
        return await async_result(session, service)

    container = Container()
    container.wire(modules=[__name__])
    return app


def build(variant: str, factory: async_sessionmaker | None = None) -> FastAPI:
    """The application of one variant; ``factory`` makes the async endpoint's sessions (default:
    ``async_session_factory()``)."""
    builders: dict[str, Callable[[], FastAPI]] = {
        "manual": manual,
        "fastapi-sync-gen": fastapi_sync_gen,
        "fastapi-async-gen": fastapi_async_gen,
        "di-contextlocal": di_contextlocal,
        "dishka": dishka_app,
        "wireup": wireup_app,
        "di-scopes-fast": lambda: di_scopes_app(fast=True),
        "di-scopes-di-style": lambda: di_scopes_app(fast=False),
    }
    async_builders: dict[str, Callable[[async_sessionmaker], FastAPI]] = {
        "async-manual": async_manual,
        "async-fastapi-async-gen": async_fastapi_async_gen,
        "async-dishka": async_dishka,
        "async-wireup": async_wireup,
        "async-di-scopes-fast": lambda factory: async_di_scopes(factory, fast=True),
        "async-di-scopes-di-style": lambda factory: async_di_scopes(factory, fast=False),
    }
    if variant in builders:
        return builders[variant]()
    if variant in async_builders:
        return async_builders[variant](factory or async_session_factory())
    raise SystemExit(f"BENCH_VARIANT must be one of {', '.join(VARIANTS + ASYNC_VARIANTS)}; got {variant!r}")


app = build(os.environ.get("BENCH_VARIANT", "manual"))
