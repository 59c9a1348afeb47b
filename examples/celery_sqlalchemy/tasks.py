"""The bank's jobs as Celery tasks: one SQLAlchemy session per task run.

    celery -A examples.celery_sqlalchemy.tasks worker --pool=solo     # one terminal
    python -m examples.celery_sqlalchemy.send interest 10             # another: prints the result

Every task of the app is a ``di_scopes.celery.ScopedTask``: each run gets a scope and a session
of its own, committed when the task returns and rolled back when it raises (a retry included).
It reuses the FastAPI example's tables, repositories and container, on its database (bank.db or
DATABASE_URL). The broker and the result backend are folders under CELERY_DATA_DIR (default
``celery-data`` in the current directory), which the worker and the sender share with no server;
CELERY_BROKER_URL and CELERY_RESULT_BACKEND name a real one (``redis://localhost``) instead.
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

DATA = os.path.abspath(os.environ.get("CELERY_DATA_DIR", "celery-data"))

app = Celery(
    "bank",
    broker=os.environ.get("CELERY_BROKER_URL", "filesystem://"),
    backend=os.environ.get("CELERY_RESULT_BACKEND", f"file://{os.path.join(DATA, 'results')}"),
    task_cls=ScopedTask,
)
if app.conf.broker_url.startswith("filesystem"):
    queue, processed = os.path.join(DATA, "queue"), os.path.join(DATA, "processed")
    for folder in (queue, processed, os.path.join(DATA, "results")):
        os.makedirs(folder, exist_ok=True)
    app.conf.broker_transport_options = {
        "data_folder_in": queue,
        "data_folder_out": queue,
        "processed_folder": processed,
        "control_folder": os.path.join(DATA, "control"),  # kombu's default: ./control
    }


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
def open_account(owner: str, balance: int, accounts: AccountRepository = Provide[Container.accounts]) -> int:
    """Open an account; return its id."""
    return accounts.add(owner, balance).id


@app.task
@inject
def transfer(source: int, target: int, amount: int, transfers: TransferService = Provide[Container.transfers]) -> None:
    transfers.transfer(source, target, amount)  # InsufficientFunds rolls the whole task back


container = Container()
container.config.database_url.from_value(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
container.wire(modules=[sys.modules[__name__]])
di_scopes.validate(container)
Base.metadata.create_all(container.engine())
