"""The bank's accounts on Flask: one SQLAlchemy session per request, on Flask's request lifecycle.

    flask --app examples.flask_sqlalchemy.app run        # SQLite file flask-bank.db, or DATABASE_URL

It reuses the FastAPI example's tables, repositories and container, and answers errors the way
the FastAPI example does: JSON, 404 for an unknown account, 409 for insufficient funds, 422 for
an invalid request; each of these rolls the request's session back.
"""

from __future__ import annotations

import os
import sys

from dependency_injector.wiring import Provide, inject
from flask import Flask, jsonify, request

import di_scopes.flask

from ..fastapi_sqlalchemy.container import Container
from ..fastapi_sqlalchemy.domain import AccountRepository, Base, InsufficientFunds, TransferService, UnknownAccount

DEFAULT_DATABASE_URL = "sqlite:///flask-bank.db"  # not the FastAPI example's file


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
    transfers.transfer(int(body["source"]), int(body["target"]), int(body["amount"]))
    return jsonify({"done": True})


def error_json(status: int):
    def handler(error: Exception):
        # a 4xx response: the middleware rolls the session back
        return jsonify({"detail": str(error) if not isinstance(error, KeyError) else f"missing {error}"}), status

    return handler


def create_app(database_url: str | None = None) -> Flask:
    container = Container()
    container.config.database_url.from_value(database_url or os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    container.wire(modules=[sys.modules[__name__]])
    Base.metadata.create_all(container.engine())

    app = Flask(__name__)
    app.add_url_rule("/accounts", view_func=list_accounts, methods=["GET"])
    app.add_url_rule("/accounts", view_func=open_account, methods=["POST"], endpoint="open_account")
    app.add_url_rule("/transfers", view_func=transfer, methods=["POST"])
    # Flask picks the handler of the most specific class: InsufficientFunds is a ValueError.
    app.register_error_handler(UnknownAccount, error_json(404))
    app.register_error_handler(InsufficientFunds, error_json(409))
    app.register_error_handler(ValueError, error_json(422))
    app.register_error_handler(KeyError, error_json(422))
    di_scopes.flask.init_app(app)  # one scope, one session, per request
    app.extensions["container"] = container
    return app


app = create_app()
