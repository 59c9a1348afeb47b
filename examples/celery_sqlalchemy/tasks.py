"""The bank's jobs as Celery tasks: one SQLAlchemy session per task run.

    celery -A examples.celery_sqlalchemy.tasks worker      # CELERY_BROKER_URL, default memory://

Every task of the app is a ``di_scopes.celery.ScopedTask``: each run gets a scope and a session
of its own, committed when the task returns and rolled back when it raises (a retry included).
It reuses the FastAPI example's tables, repositories and container.
"""

from __future__ import annotations

import os
import sys

from celery import Celery
from dependency_injector.wiring import Provide, inject

import di_scopes
from di_scopes.celery import ScopedTask

from ..fastapi_sqlalchemy.container import DEFAULT_DATABASE_URL, Container
from ..fastapi_sqlalchemy.domain import AccountRepository, Base, LedgerRepository, TransferService, credit_interest

app = Celery("bank", broker=os.environ.get("CELERY_BROKER_URL", "memory://"), task_cls=ScopedTask)


@app.task
@inject
def apply_interest(
    percent: int,
    accounts: AccountRepository = Provide[Container.accounts],
    ledger: LedgerRepository = Provide[Container.ledger],
) -> int:
    """Credit every account with ``percent`` % interest, in one transaction; return the total."""
    return credit_interest(accounts, ledger, percent)


@app.task
@inject
def transfer(source: int, target: int, amount: int, transfers: TransferService = Provide[Container.transfers]) -> None:
    transfers.transfer(source, target, amount)  # InsufficientFunds rolls the whole task back


container = Container()
container.config.database_url.from_value(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
container.wire(modules=[sys.modules[__name__]])
di_scopes.validate(container)
Base.metadata.create_all(container.engine())
