"""One SQLAlchemy session per request, shared by every dependency, committed or rolled back.

Runs a few requests against SQLite (or DATABASE_URL) and prints what happened to each session.
Each request is a di_scopes scope, as the ASGI and WSGI middlewares open one per request.

    python examples/demo.py
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator

from dependency_injector import containers, providers
from sqlalchemy import Column, Integer, String, create_engine, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, declarative_base, sessionmaker
from sqlalchemy.pool import StaticPool

import di_scopes

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    name = Column(String, unique=True, nullable=False)


class TrackedSession(Session):
    """A session that keeps a log of what happened to it."""

    numbers = itertools.count(1)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.number = next(self.numbers)
        self.history: list[str] = []

    def close(self) -> None:
        self.history.append("close")
        super().close()


event.listen(TrackedSession, "after_commit", lambda s: s.history.append("commit"))
event.listen(TrackedSession, "after_rollback", lambda s: s.history.append("rollback"))


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, name: str) -> None:
        self.session.add(User(name=name))
        self.session.flush()

    def names(self) -> list[str]:
        return list(self.session.scalars(select(User.name).order_by(User.id)))


class SignupService:
    def __init__(self, users: UserRepository, session: Session) -> None:
        self.users = users
        self.session = session

    def signup(self, name: str) -> None:
        self.users.add(name)


def get_session(factory: sessionmaker) -> Iterator[Session]:
    """The usual session dependency: commit on success, roll back on error, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite://")
# One in-memory SQLite database, whatever the thread; other databases take their defaults.
SQLITE_OPTIONS = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}


class Container(containers.DeclarativeContainer):
    engine = providers.Singleton(
        create_engine, DATABASE_URL, **(SQLITE_OPTIONS if DATABASE_URL.startswith("sqlite") else {})
    )
    session_factory = providers.Singleton(sessionmaker, bind=engine, class_=TrackedSession)
    session = di_scopes.ContextLocalResource(get_session, session_factory)
    users = providers.Factory(UserRepository, session=session)
    signup = providers.Factory(SignupService, users=users, session=session)


def request(container: Container, name: str) -> tuple[TrackedSession, str]:
    """A request: the endpoint, the service and its repository all get the request's session."""
    try:
        with di_scopes.scope():
            service = container.signup()
            session = container.session()
            assert service.session is service.users.session is session
            service.signup(name)
        return session, "ok"
    except IntegrityError:
        return session, "failed: duplicate name"


async def threaded_request(container: Container, name: str) -> tuple[TrackedSession, str]:
    """Sync dependencies resolved in worker threads still get the request's session."""
    async with di_scopes.scope():
        service = await asyncio.to_thread(container.signup)  # resolved first in a thread
        session = container.session()
        await asyncio.to_thread(service.signup, name)
        return session, f"ok, same session in the threads: {service.session is session}"


def main() -> None:
    container = Container()
    Base.metadata.create_all(container.engine())
    print(f"di-scopes {di_scopes.__version__} ({di_scopes.IMPLEMENTATION} twin)\n")

    outcomes = [(f"signup({name!r})", *request(container, name)) for name in ("ada", "grace", "ada")]
    outcomes.append(("signup('linus') from worker threads", *asyncio.run(threaded_request(container, "linus"))))
    for what, session, outcome in outcomes:
        print(f"{what}: {outcome}\n    session {session.number}: {', '.join(session.history)}")

    with di_scopes.scope():
        print(f"\ncommitted users: {container.users().names()}")
    try:
        container.session()
    except di_scopes.ScopeError as error:
        print(f"outside a request: ScopeError: {str(error).split('. ')[0]}.")


if __name__ == "__main__":
    main()
