"""A command line that uses the container outside any web request.

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


@di_scopes.scope("command")
@inject
def balances(accounts: AccountRepository = Provide[Container.accounts]) -> None:
    for account in accounts.all():
        print(f"{account.id:>4} {account.owner:<20} {account.balance:>10}")


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
        print(f"credited {jobs.apply_interest(args.percent)} in interest")
    else:
        balances()


if __name__ == "__main__":
    main()
