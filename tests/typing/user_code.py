"""User-style code that mypy --strict must accept (run by tests/test_typing.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from dependency_injector import containers, providers

import di_scopes
from di_scopes.asgi import ScopeMiddleware
from di_scopes.fastapi import inject
from di_scopes.sqlalchemy import transaction
from di_scopes.wsgi import ScopeMiddleware as WSGIScopeMiddleware


class Session:
    def commit(self) -> None: ...


def get_session(url: str) -> Iterator[Session]:
    yield Session()


class Container(containers.DeclarativeContainer):
    url = providers.Object("sqlite://")
    session: di_scopes.ContextLocalResource[Session] = di_scopes.ContextLocalResource(get_session, url)
    connection = di_scopes.ContextLocalResource(get_session, url).in_scope("websocket")
    per_request = di_scopes.ContextLocalSingleton(Session).add_attributes(name="x")


@di_scopes.scope("job")
def job(n: int) -> int:
    return n


async def handler() -> str:
    async with di_scopes.scope() as scope:
        assert scope.name == "request"
    return di_scopes.IMPLEMENTATION


def main() -> None:
    container = Container()
    with di_scopes.scope("request") as scope:
        current = di_scopes.current_scope()
        assert current is scope and scope.parent is None
        container.session().commit()
    scope.close(None)
    assert job(1) == 1
    try:
        container.session()
    except di_scopes.ScopeError as error:
        print(error)


Message = MutableMapping[str, Any]


async def asgi_app(
    scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None: ...


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    return [b""]


asgi = ScopeMiddleware(asgi_app, failure_status=None)
wsgi = WSGIScopeMiddleware(wsgi_app, name="request")


@inject
async def endpoint(n: int) -> int:
    return n


class Factory:
    def __call__(self) -> Session:
        return Session()


sessions = di_scopes.ContextLocalResource(transaction, Factory())


# Scope values, as the README shows them: ScopeValue(key) gives Any unless a type is named.
class Request:
    path = "/"


class CurrentUser:
    def __init__(self, request: Request) -> None:
        self.request = request


class ValuesContainer(containers.DeclarativeContainer):
    request = di_scopes.ScopeValue(di_scopes.REQUEST)
    typed_request = di_scopes.ScopeValue[Request](di_scopes.REQUEST)
    current_user = providers.Factory(CurrentUser, request=request)


def values() -> str:
    container = ValuesContainer()
    job = di_scopes.scope("job")
    job.set_value(di_scopes.REQUEST, Request())
    with job:
        typed: Request = container.typed_request()
        return typed.path + container.current_user().request.path


# Awaiting an async resource: dependency-injector types a provider's call as the instance;
# .async_() is its typed spelling of the same call, for `await`.
async def open_session(url: str) -> AsyncIterator[Session]:
    yield Session()


class AsyncContainer(containers.DeclarativeContainer):
    session = di_scopes.ContextLocalResource(open_session, "sqlite://")


async def use_async_session() -> None:
    container = AsyncContainer()
    async with di_scopes.scope():
        session: Session = await container.session.async_()
        session.commit()
