"""The bank's accounts on Flask: one SQLAlchemy session per request, on Flask's request lifecycle.

    flask --app examples.flask_sqlalchemy.app run        # SQLite file bank.db, or DATABASE_URL

It reuses the FastAPI example's tables, repositories and container.
"""

from __future__ import annotations

import os
import sys

from dependency_injector.wiring import Provide, inject
from flask import Flask, abort, jsonify, request

import di_scopes.flask

from ..fastapi_sqlalchemy.container import DEFAULT_DATABASE_URL, Container
from ..fastapi_sqlalchemy.domain import AccountRepository, Base, InsufficientFunds, TransferService


def account_json(account) -> dict:
    return {"id": account.id, "owner": account.owner, "balance": account.balance}


@inject
def list_accounts(accounts: AccountRepository = Provide[Container.accounts]):
    return jsonify([account_json(a) for a in accounts.all()])


@inject
def open_account(accounts: AccountRepository = Provide[Container.accounts]):
    body = request.get_json()
    return jsonify(account_json(accounts.add(body["owner"], int(body.get("balance", 0))))), 201


@inject
def transfer(transfers: TransferService = Provide[Container.transfers]):
    body = request.get_json()
    try:
        transfers.transfer(int(body["source"]), int(body["target"]), int(body["amount"]))
    except InsufficientFunds as error:
        abort(409, str(error))  # a 4xx response: the session rolls back
    return jsonify({"done": True})


def create_app(database_url: str | None = None) -> Flask:
    container = Container()
    container.config.database_url.from_value(database_url or os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    container.wire(modules=[sys.modules[__name__]])
    Base.metadata.create_all(container.engine())

    app = Flask(__name__)
    app.add_url_rule("/accounts", view_func=list_accounts, methods=["GET"])
    app.add_url_rule("/accounts", view_func=open_account, methods=["POST"], endpoint="open_account")
    app.add_url_rule("/transfers", view_func=transfer, methods=["POST"])
    di_scopes.flask.init_app(app)  # one scope, one session, per request
    app.extensions["container"] = container
    return app


app = create_app()
