"""Send the bank's Celery tasks to a running worker and print their results.

    python -m examples.celery_sqlalchemy.send open ada 100     # an account, through a task
    python -m examples.celery_sqlalchemy.send interest 10      # credits every account; the total
    python -m examples.celery_sqlalchemy.send transfer 1 2 30  # fails, rolled back, if funds lack

Start the worker first (``celery -A examples.celery_sqlalchemy.tasks worker --pool=solo``), with
the same CELERY_DATA_DIR (or CELERY_BROKER_URL and CELERY_RESULT_BACKEND) and DATABASE_URL.
"""

from __future__ import annotations

import argparse
import sys

from .tasks import apply_interest, open_account, transfer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.celery_sqlalchemy.send")
    commands = parser.add_subparsers(dest="command", required=True)
    opening = commands.add_parser("open", help="open an account")
    opening.add_argument("owner")
    opening.add_argument("balance", type=int)
    interest = commands.add_parser("interest", help="credit every account with PERCENT %% interest")
    interest.add_argument("percent", type=int)
    moving = commands.add_parser("transfer", help="move AMOUNT from SOURCE to TARGET")
    moving.add_argument("source", type=int)
    moving.add_argument("target", type=int)
    moving.add_argument("amount", type=int)
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for the worker")
    args = parser.parse_args(argv)
    if args.command == "open":
        sent = open_account.delay(args.owner, args.balance)
    elif args.command == "interest":
        sent = apply_interest.delay(args.percent)
    else:
        sent = transfer.delay(args.source, args.target, args.amount)
    try:
        print(sent.get(timeout=args.timeout))
    except Exception as error:  # the task's own error, raised again here: its session rolled back
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
