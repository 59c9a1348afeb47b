"""The bank's accounts on aiohttp: one SQLAlchemy session per request through the middleware.

    python -m aiohttp.web -H 127.0.0.1 -P 8080 examples.aiohttp_sqlalchemy.app:create_app

It reuses the FastAPI example's tables, repositories and container, and answers errors as the FastAPI
example does (JSON; 404, 409, 422). The container's session is a sync
SQLAlchemy session: the handlers run the repository work in a worker thread
(``asyncio.to_thread``), which sees the request's scope, and di-scopes closes the session in a
worker thread too, off the event loop.
"""

from __future__ import annotations

import asyncio
import os
import sys

from aiohttp import web
from dependency_injector.wiring import Provide, inject

import di_scopes
import di_scopes.aiohttp

from ..fastapi_sqlalchemy.container import DEFAULT_DATABASE_URL, Container
from ..fastapi_sqlalchemy.domain import AccountRepository, Base, InsufficientFunds, TransferService, UnknownAccount


def account_json(account) -> dict:
    return {"id": account.id, "owner": account.owner, "balance": account.balance}


@inject
def list_accounts(accounts: AccountRepository = Provide[Container.accounts]) -> list:
    return [account_json(a) for a in accounts.all()]


@inject
def open_account(owner: str, balance: int, accounts: AccountRepository = Provide[Container.accounts]) -> dict:
    return account_json(accounts.add(owner, balance))


@inject
def transfer(source: int, target: int, amount: int, transfers: TransferService = Provide[Container.transfers]) -> None:
    transfers.transfer(source, target, amount)


routes = web.RouteTableDef()


@routes.get("/accounts")
async def accounts_handler(request: web.Request) -> web.Response:
    return web.json_response(await asyncio.to_thread(list_accounts))


@routes.post("/accounts")
async def open_account_handler(request: web.Request) -> web.Response:
    body = await request.json()
    account = await asyncio.to_thread(open_account, body["owner"], int(body.get("balance", 0)))
    return web.json_response(account, status=201)


@routes.post("/transfers")
async def transfer_handler(request: web.Request) -> web.Response:
    body = await request.json()
    await asyncio.to_thread(transfer, int(body["source"]), int(body["target"]), int(body["amount"]))
    return web.json_response({"done": True})


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """Answers the domain's errors as JSON, inside the scope: a 4xx status rolls the request's
    session back, as in the FastAPI example."""
    try:
        return await handler(request)
    except (UnknownAccount, InsufficientFunds, ValueError, KeyError) as error:
        status = 404 if isinstance(error, UnknownAccount) else 409 if isinstance(error, InsufficientFunds) else 422
        detail = f"missing {error}" if isinstance(error, KeyError) else str(error)
        return web.json_response({"detail": detail}, status=status)


def create_app(argv: list | None = None, database_url: str | None = None) -> web.Application:
    container = Container()
    container.config.database_url.from_value(database_url or os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    container.wire(modules=[sys.modules[__name__]])
    di_scopes.validate(container)
    Base.metadata.create_all(container.engine())

    app = web.Application(middlewares=[json_errors])
    app.add_routes(routes)
    di_scopes.aiohttp.setup(app)  # first middleware: one scope, one session, per request
    return app
