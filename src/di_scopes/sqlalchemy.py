"""SQLAlchemy sessions as scoped resources: commit on success, roll back on error, always close.

    class Container(containers.DeclarativeContainer):
        engine = providers.Singleton(create_engine, url)
        session_factory = providers.Singleton(sessionmaker, bind=engine)
        session = di_scopes.ContextLocalResource(transaction, session_factory)

        async_engine = providers.Singleton(create_async_engine, async_url)
        async_session_factory = providers.Singleton(async_sessionmaker, bind=async_engine)
        async_session = di_scopes.ContextLocalResource(async_transaction, async_session_factory)

The scope throws its exception into the generator, so a failed request (an exception, a
cancellation, or with the middlewares a failure status) rolls back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, AsyncIterator, Callable, Iterator

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import Session

__all__ = ["async_transaction", "transaction"]


def transaction(session_factory: Callable[[], Session]) -> Iterator[Session]:
    """Yield a session; commit it when the scope succeeds, roll it back when it fails; close it."""
    session = session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


async def async_transaction(session_factory: Callable[[], AsyncSession]) -> AsyncIterator[AsyncSession]:
    """Yield an ``AsyncSession``; commit it when the scope succeeds, roll it back when it fails;
    close it."""
    session = session_factory()
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()
