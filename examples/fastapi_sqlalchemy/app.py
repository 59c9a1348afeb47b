"""A small bank on FastAPI and SQLAlchemy: one session per request, whatever the endpoint does.

    uvicorn examples.fastapi_sqlalchemy.app:app           # SQLite file bank.db
    DATABASE_URL=postgresql+psycopg://user@host/db uvicorn examples.fastapi_sqlalchemy.app:app

Endpoints use both injection styles: ``di_scopes.fastapi.inject`` (the fast path) and
dependency-injector's own ``@inject`` with ``Depends(Provide[...])``. Either way the request's
session is shared by the endpoint, its repositories and its service; it commits when the request
succeeds and rolls back when it fails, including errors turned into 4xx responses.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from dependency_injector import wiring
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from di_scopes.asgi import ScopeMiddleware
from di_scopes.fastapi import inject

from . import jobs
from .container import DEFAULT_DATABASE_URL, Container
from .domain import AccountRepository, Base, InsufficientFunds, TransferService, UnknownAccount

router = APIRouter()


class NewAccount(BaseModel):
    owner: str
    balance: int = 0


class Transfer(BaseModel):
    source: int
    target: int
    amount: int


def account_json(account) -> dict:
    return {"id": account.id, "owner": account.owner, "balance": account.balance}


# The fast path: FastAPI never sees the injected parameters.


@router.post("/accounts", status_code=201)
@inject
async def open_account(
    new: NewAccount,
    accounts: AccountRepository = Depends(wiring.Provide[Container.accounts]),
) -> dict:
    return account_json(accounts.add(new.owner, new.balance))


@router.get("/accounts/{account_id}")
@inject
async def get_account(
    account_id: int,
    accounts: AccountRepository = Depends(wiring.Provide[Container.accounts]),
) -> dict:
    try:
        return account_json(accounts.get(account_id))
    except UnknownAccount:
        raise HTTPException(status_code=404, detail=f"no account {account_id}") from None


@router.post("/transfers")
@inject
def transfer(  # a sync endpoint: FastAPI runs it, and di-scopes the session's teardown, in threads
    order: Transfer,
    transfers: TransferService = Depends(wiring.Provide[Container.transfers]),
):
    # No return annotation on purpose: FastAPI validates a sync endpoint's result in its thread
    # pool, and this request keeps its row locks until its session commits after the response.
    # Under load, requests waiting for those locks could hold every pool thread (README, "Close
    # timing", lists the ways out).
    transfers.transfer(order.source, order.target, order.amount)
    return {"done": True}


@router.get("/export")
@inject
async def export(accounts: AccountRepository = Depends(wiring.Provide[Container.accounts])) -> StreamingResponse:
    def rows() -> Iterator[str]:  # produced after the endpoint returned: the session is still open
        yield "id,owner,balance\n"
        for account in accounts.stream():
            yield f"{account.id},{account.owner},{account.balance}\n"

    return StreamingResponse(rows(), media_type="text/csv")


@router.post("/accounts/{account_id}/statement", status_code=202)
@inject
async def request_statement(
    account_id: int,
    background: BackgroundTasks,
    accounts: AccountRepository = Depends(wiring.Provide[Container.accounts]),
) -> dict:
    accounts.get(account_id)
    # The job runs after the response, while this request's scope (and its transaction) is
    # still open: it uses a scope and a session of its own, and must not wait for rows this
    # request locked.
    background.add_task(jobs.send_statement, account_id)
    return {"queued": True}


@router.post("/crash")
@inject
async def crash(new: NewAccount, accounts: AccountRepository = Depends(wiring.Provide[Container.accounts])) -> dict:
    accounts.add(new.owner, new.balance)
    raise RuntimeError("the account was written, then the request failed: it is rolled back")


# dependency-injector's own style works too (each Depends(Provide[...]) costs a thread-pool hop).


@router.get("/accounts")
@wiring.inject
async def list_accounts(accounts: AccountRepository = Depends(wiring.Provide[Container.accounts])) -> list:
    return [account_json(account) for account in accounts.all()]


def create_app(database_url: str | None = None) -> FastAPI:
    container = Container()
    container.config.database_url.from_value(database_url or os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    container.wire(modules=[sys.modules[__name__], jobs])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        Base.metadata.create_all(container.engine())
        yield
        container.engine().dispose()

    app = FastAPI(title="di-scopes example bank", lifespan=lifespan)
    app.state.container = container
    app.add_middleware(ScopeMiddleware)
    app.include_router(router)

    @app.exception_handler(InsufficientFunds)
    async def insufficient_funds(request: Request, error: InsufficientFunds) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=409)  # 409 >= 400: rolled back

    @app.exception_handler(ValueError)
    async def invalid(request: Request, error: ValueError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=422)

    @app.exception_handler(UnknownAccount)
    async def unknown_account(request: Request, error: UnknownAccount) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    return app


app = create_app()
