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

Pass a ``sessionmaker`` (or ``async_sessionmaker``), never a ``scoped_session``: the scope is the
scoping. A ``scoped_session`` keeps one session per thread and hands it to every request that
runs on that thread, concurrent ones included; both functions refuse one, and
``di_scopes.validate()`` reports it at startup.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._errors import explained

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import Session

__all__ = ["async_transaction", "transaction"]  # and, for validate(), is_scoped_session


@explained("A scoped_session as the session factory")
def scoped_session_message(where: str, factory: Any) -> str:
    kind = factory.__name__ if isinstance(factory, type) else type(factory).__name__
    article = "an" if kind[0] in "aeiou" else "a"
    return (
        f"{where} was given {article} {kind} as its session factory. A "
        f"{kind} keeps one session per thread (or per scopefunc key) and would "
        "hand the same session to every request that runs there, concurrent ones included. The "
        "scope is the scoping here: pass the sessionmaker it wraps (its .session_factory), or the "
        "sessionmaker itself, e.g. providers.Singleton(sessionmaker, bind=engine)."
    )


def _scoped_session_classes() -> Iterator[type]:
    """SQLAlchemy's scoped_session and async_scoped_session, as far as they are loaded."""
    for module_name, class_name in (
        ("sqlalchemy.orm.scoping", "scoped_session"),
        ("sqlalchemy.ext.asyncio.scoping", "async_scoped_session"),
    ):
        cls = getattr(sys.modules.get(module_name), class_name, None)
        if cls is not None:
            yield cls


def is_scoped_session(factory: Any) -> bool:
    """Whether ``factory`` is a ``scoped_session`` or an ``async_scoped_session``, or one of those
    classes."""
    for cls in _scoped_session_classes():
        if isinstance(factory, cls) or (isinstance(factory, type) and issubclass(factory, cls)):
            return True
    return False


def transaction(session_factory: Callable[[], Session]) -> Iterator[Session]:
    """Yield a session; commit it when the scope succeeds, roll it back when it fails; close it.
    ``session_factory`` is a ``sessionmaker``, never a ``scoped_session`` (refused)."""
    if is_scoped_session(session_factory):
        raise TypeError(scoped_session_message("di_scopes.sqlalchemy.transaction", session_factory))
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
    close it. ``session_factory`` is an ``async_sessionmaker``, never an ``async_scoped_session``
    (refused)."""
    if is_scoped_session(session_factory):
        raise TypeError(scoped_session_message("di_scopes.sqlalchemy.async_transaction", session_factory))
    session = session_factory()
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()
