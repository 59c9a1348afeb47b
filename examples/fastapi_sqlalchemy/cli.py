"""A command line that uses the container outside any web request, on the FastAPI example's
database (the SQLite file bank.db, or DATABASE_URL).

    python -m examples.fastapi_sqlalchemy.cli interest 2
    python -m examples.fastapi_sqlalchemy.cli balances
"""

from __future__ import annotations

import argparse
import os
import sys

from dependency_injector.wiring import Provide, inject

import di_scopes

from . import jobs
from .container import DEFAULT_DATABASE_URL, Container
from .domain import AccountRepository, Base

NO_ACCOUNTS = (
    "no accounts yet: open some through the app first "
    "(uvicorn examples.fastapi_sqlalchemy.app:app, then POST /accounts), with the same DATABASE_URL"
)


@di_scopes.scope("command")
@inject
def balances(accounts: AccountRepository = Provide[Container.accounts]) -> None:
    listed = accounts.all()
    for account in listed:
        print(f"{account.id:>4} {account.owner:<20} {account.balance:>10}")
    if not listed:
        print(NO_ACCOUNTS)


@di_scopes.scope("command")
@inject
def account_count(accounts: AccountRepository = Provide[Container.accounts]) -> int:
    return len(accounts.all())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("balances", help="print every account")
    interest = commands.add_parser("interest", help="credit interest to every account")
    interest.add_argument("percent", type=int)
    args = parser.parse_args(argv)

    container = Container()
    container.config.database_url.from_value(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    Base.metadata.create_all(container.engine())
    container.wire(modules=[sys.modules[__name__], jobs])
    if args.command == "interest":
        if account_count() == 0:
            print(NO_ACCOUNTS)
        else:
            print(f"credited {jobs.apply_interest(args.percent)} in interest")
    else:
        balances()


if __name__ == "__main__":
    main()
