"""Accounts and transfers: tables, repositories and a service that share one session."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone

from sqlalchemy import DateTime, ForeignKey, Integer, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(100), unique=True)
    balance: Mapped[int] = mapped_column(Integer)


class Entry(Base):
    """One line of the ledger: every balance change, with the transfer it belongs to."""

    __tablename__ = "entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    amount: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(timezone.utc))


class UnknownAccount(LookupError):
    pass


class InsufficientFunds(ValueError):
    pass


class AccountRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, owner: str, balance: int) -> Account:
        account = Account(owner=owner, balance=balance)
        self.session.add(account)
        self.session.flush()
        return account

    def get(self, account_id: int) -> Account:
        account = self.session.get(Account, account_id)
        if account is None:
            raise UnknownAccount(f"no account {account_id}")
        return account

    def all(self) -> Sequence[Account]:
        return self.session.scalars(select(Account).order_by(Account.id)).all()

    def stream(self) -> Iterator[Account]:
        yield from self.session.scalars(select(Account).order_by(Account.id).execution_options(yield_per=100))

    def lock(self, ids: list[int]) -> dict[int, Account]:
        """Lock the accounts for update, always in id order, so concurrent transfers between the
        same accounts queue up instead of deadlocking."""
        query = select(Account).where(Account.id.in_(ids)).order_by(Account.id).with_for_update()
        accounts = {account.id: account for account in self.session.scalars(query)}
        missing = set(ids) - set(accounts)
        if missing:
            raise UnknownAccount(f"no account {min(missing)}")
        return accounts


class LedgerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(self, account_id: int, amount: int, note: str) -> None:
        self.session.add(Entry(account_id=account_id, amount=amount, note=note))

    def count(self) -> int:
        return self.session.scalar(select(func.count(Entry.id))) or 0


class TransferService:
    """Moves money: the balance changes and their ledger lines commit together or not at all."""

    def __init__(self, accounts: AccountRepository, ledger: LedgerRepository, session: Session) -> None:
        self.accounts = accounts
        self.ledger = ledger
        self.session = session

    def transfer(self, source: int, target: int, amount: int) -> None:
        if amount <= 0 or source == target:
            raise ValueError("a transfer moves a positive amount between two accounts")
        accounts = self.accounts.lock([source, target])
        if accounts[source].balance < amount:
            raise InsufficientFunds(f"account {source} has {accounts[source].balance}, needs {amount}")
        accounts[source].balance -= amount
        accounts[target].balance += amount
        self.ledger.record(source, -amount, f"to {target}")
        self.ledger.record(target, amount, f"from {source}")


def credit_interest(accounts: AccountRepository, ledger: LedgerRepository, percent: int) -> int:
    """Credit every account with ``percent`` % interest, in one transaction; return the total."""
    total = 0
    for account in accounts.all():
        interest = account.balance * percent // 100
        account.balance += interest
        ledger.record(account.id, interest, f"interest {percent}%")
        total += interest
    return total
