"""What every variant runs: one session type, one generator body (sync and async), the service graphs.

A ledger counts what happened to sessions, so each benchmark can check after its loop that the
variant opened exactly one session per cycle and tore it down the expected way; a variant that
skipped work cannot look fast.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator


class Ledger:
    __slots__ = ("opened", "committed", "rolled_back", "closed")

    def __init__(self) -> None:
        self.opened = self.committed = self.rolled_back = self.closed = 0

    def snapshot(self) -> tuple:
        return (self.opened, self.committed, self.rolled_back, self.closed)


LEDGER = Ledger()


class Session:
    """Stands for a database session: the work a real one does is not what is measured."""

    # ``generator`` is used only by the variants that must tear the session down by hand.
    __slots__ = ("generator",)

    def __init__(self) -> None:
        LEDGER.opened += 1

    def commit(self) -> None:
        LEDGER.committed += 1

    def rollback(self) -> None:
        LEDGER.rolled_back += 1

    def close(self) -> None:
        LEDGER.closed += 1


class Repo:
    __slots__ = ("session",)

    def __init__(self, session: Session) -> None:
        self.session = session


class Service:
    __slots__ = ("repo", "session")

    def __init__(self, repo: Repo, session: Session) -> None:
        self.repo = repo
        self.session = session


class RepoService:
    """A service made from its repository alone: RepoService(Repo(session))."""

    __slots__ = ("repo",)

    def __init__(self, repo: Repo) -> None:
        self.repo = repo


class Handler:
    """The top of a three-level chain: Handler(RepoService(Repo(session)))."""

    __slots__ = ("service",)

    def __init__(self, service: RepoService) -> None:
        self.service = service


def _level(depth: int, below: type) -> type:
    """Level<depth>(inner: below): one more level of a Factory chain."""

    def __init__(self, inner) -> None:  # noqa: ANN001 - annotated below, with the class itself
        self.inner = inner

    __init__.__annotations__ = {"inner": below, "return": None}
    cls = type(f"Level{depth}", (), {"__slots__": ("inner",), "__init__": __init__, "__module__": __name__})
    __init__.__qualname__ = f"{cls.__name__}.__init__"
    return cls


# A ten-level chain: Level10(Level9(...Level4(Handler(RepoService(Repo(session)))))).
LEVELS: list[type] = []
for _depth in range(4, 11):
    LEVELS.append(_level(_depth, LEVELS[-1] if LEVELS else Handler))
del _depth


class Boom(Exception):
    """Raised inside a scope by the error-path scenario."""


def session_gen() -> Iterator[Session]:
    """The one resource body. Commits on success, rolls back on an error.

    The error arrives either thrown in at the ``yield`` (di-scopes, wireup, a hand-written
    ``g.throw``) or sent as the value of the ``yield`` (dishka's protocol); the body handles both,
    so every variant runs the same code.
    """
    session = Session()
    try:
        error: BaseException | None = yield session
    except BaseException:
        session.rollback()
        raise
    else:
        if error is None:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


async def asession_gen() -> AsyncIterator[Session]:
    """``session_gen`` as an async generator."""
    session = Session()
    try:
        error: BaseException | None = yield session
    except BaseException:
        session.rollback()
        raise
    else:
        if error is None:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()
