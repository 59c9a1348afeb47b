"""Work outside requests: each call runs in a scope of its own, with its own session.

``send_statement`` is a FastAPI background task: it runs after the response, while the request's
scope is still open, and must not write through the request's session (committed or rolled back
by then). ``apply_interest`` is written like a Celery task; ``cli.py`` calls it from a command.
"""

from __future__ import annotations

from dependency_injector.wiring import Provide, inject

import di_scopes

from .container import Container
from .domain import AccountRepository, LedgerRepository, credit_interest


@di_scopes.scope("job")
@inject
def send_statement(
    account_id: int,
    ledger: LedgerRepository = Provide[Container.ledger],
) -> None:
    ledger.record(account_id, 0, "statement sent")


@di_scopes.scope("job")
@inject
def apply_interest(
    percent: int,
    accounts: AccountRepository = Provide[Container.accounts],
    ledger: LedgerRepository = Provide[Container.ledger],
) -> int:
    """Credit every account with ``percent`` % interest, in one transaction; return the total."""
    return credit_interest(accounts, ledger, percent)
