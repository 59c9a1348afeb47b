"""The container: one SQLAlchemy session per request, shared by every repository and service."""

from __future__ import annotations

from dependency_injector import containers, providers
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

import di_scopes
from di_scopes.sqlalchemy import transaction

from .domain import AccountRepository, LedgerRepository, TransferService

DEFAULT_DATABASE_URL = "sqlite:///bank.db"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # sync endpoints run in a thread pool: a session may be used by another thread than
        # the one that opened its connection
        return create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    return create_engine(url, pool_size=20, max_overflow=20)


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()
    engine = providers.Singleton(make_engine, config.database_url)
    session_factory = providers.Singleton(sessionmaker, bind=engine, expire_on_commit=False)

    # the one line that matters: commit on success, roll back on failure, always close
    session = di_scopes.ContextLocalResource(transaction, session_factory)

    accounts = providers.Factory(AccountRepository, session=session)
    ledger = providers.Factory(LedgerRepository, session=session)
    transfers = providers.Factory(TransferService, accounts=accounts, ledger=ledger, session=session)
