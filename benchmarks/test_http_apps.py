"""The HTTP benchmark's async-session applications do the work they claim: one request opens one
session, shares it between the endpoint, the service and the repository, runs the query on it,
commits it and closes it; the next request gets a new session.

Each application is built as ``python -m benchmarks.http`` builds it, with a session class that
records what happens to every session. The di-scopes variants run on both twins.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import pytest

pytest.importorskip("aiosqlite")
pytest.importorskip("dishka")
pytest.importorskip("wireup")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine  # noqa: E402
from sqlalchemy.pool import StaticPool  # noqa: E402

from .http import apps  # noqa: E402

PEERS = [name for name in apps.ASYNC_VARIANTS if not name.startswith("async-di-scopes")]
DI_SCOPES = [name for name in apps.ASYNC_VARIANTS if name.startswith("async-di-scopes")]


def ledger_factory(events: list[tuple[str, Any]]) -> async_sessionmaker:
    """Sessions that record ``(event, session)`` for open, execute, commit, rollback and close."""

    class LedgerSession(AsyncSession):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            events.append(("open", self))

        async def execute(self, *args: Any, **kwargs: Any) -> Any:
            events.append(("execute", self))
            return await super().execute(*args, **kwargs)

        async def commit(self) -> None:
            events.append(("commit", self))
            await super().commit()

        async def rollback(self) -> None:
            events.append(("rollback", self))
            await super().rollback()

        async def close(self) -> None:
            events.append(("close", self))
            await super().close()

    engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    return async_sessionmaker(engine, class_=LedgerSession)


def check(name: str) -> None:
    events: list[tuple[str, Any]] = []
    app = apps.build(name, ledger_factory(events))
    sessions = []
    with TestClient(app) as client:
        for _ in range(2):
            del events[:]
            response = client.get("/")
            assert response.status_code == 200, response.text
            assert response.json() == {"one": 1}
            session = events[0][1]
            assert events == [("open", session), ("execute", session), ("commit", session), ("close", session)]
            sessions.append(session)
    assert sessions[0] is not sessions[1], "a new session per request"


@pytest.mark.parametrize("name", PEERS)
def test_async_peer_app_commits_one_shared_session_per_request(name: str) -> None:
    check(name)


@pytest.mark.parametrize("twin", ["c", "py"])
@pytest.mark.parametrize("name", DI_SCOPES)
def test_async_di_scopes_app_commits_one_shared_session_per_request(name: str, twin: str, monkeypatch) -> None:
    if twin == "c" and os.environ.get("DI_SCOPES_NO_EXTENSIONS", "") not in ("", "0"):
        pytest.skip("compiled twin disabled by DI_SCOPES_NO_EXTENSIONS")
    import di_scopes
    from di_scopes import _select

    impl = importlib.import_module(f"di_scopes._scope_{twin}")
    monkeypatch.setattr(_select, "_active", impl)
    monkeypatch.setattr(di_scopes, "ContextLocalResource", impl.ContextLocalResource)
    check(name)


def test_every_async_variant_is_checked() -> None:
    assert sorted(PEERS + DI_SCOPES) == sorted(apps.ASYNC_VARIANTS)


@pytest.mark.parametrize("variant", [v for spec in apps.ENDPOINTS.values() for v in spec["variants"]])
def test_the_in_process_driver_serves_every_variant(variant):
    """What ``python -m benchmarks.http.inprocess`` runs under callgrind: the app's lifespan, then
    requests straight into its ASGI callable; a status other than 200 fails it."""
    from .http import inprocess

    inprocess.run(variant, 3)
