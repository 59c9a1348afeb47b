"""The bank's accounts on Django: one SQLAlchemy session per request through the middleware.

    python -m examples.django_sqlalchemy.app runserver     # SQLite file bank.db, or DATABASE_URL

Settings, URLs and views in one module; it reuses the FastAPI example's tables, repositories
and container. ``di_scopes.django.ScopeMiddleware`` commits the session when the request
succeeds and rolls it back when the view raises or answers with an error status. Errors are
answered the way the FastAPI example answers them: JSON, 404 for an unknown account, 409 for
insufficient funds, 422 for an invalid request.
"""

from __future__ import annotations

import json
import os
import sys

import django
from dependency_injector.wiring import Provide, inject
from django.conf import settings
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.urls import path

import di_scopes

from ..fastapi_sqlalchemy.container import DEFAULT_DATABASE_URL, Container
from ..fastapi_sqlalchemy.domain import AccountRepository, Base, InsufficientFunds, TransferService, UnknownAccount

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="example",
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[
            "di_scopes.django.ScopeMiddleware",  # first: the other middlewares run in the scope
            f"{__name__}.JSONErrors",
        ],
    )
    django.setup()


def account_json(account) -> dict:
    return {"id": account.id, "owner": account.owner, "balance": account.balance}


class JSONErrors:
    """Answers the domain's errors as JSON; a 4xx status rolls the request's session back."""

    STATUSES = ((UnknownAccount, 404), (InsufficientFunds, 409), (ValueError, 422), (KeyError, 422))

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, error: Exception):
        for kind, status in self.STATUSES:
            if isinstance(error, kind):
                detail = f"missing {error}" if isinstance(error, KeyError) else str(error)
                return JsonResponse({"detail": detail}, status=status)
        return None


@inject
def accounts_view(request: HttpRequest, accounts: AccountRepository = Provide[Container.accounts]):
    if request.method == "POST":
        body = json.loads(request.body)
        return JsonResponse(account_json(accounts.add(body["owner"], int(body.get("balance", 0)))), status=201)
    return JsonResponse([account_json(a) for a in accounts.all()], safe=False)


@inject
def transfer_view(request: HttpRequest, transfers: TransferService = Provide[Container.transfers]):
    body = json.loads(request.body)
    transfers.transfer(int(body["source"]), int(body["target"]), int(body["amount"]))
    return JsonResponse({"done": True})


@inject
def export_view(request: HttpRequest, accounts: AccountRepository = Provide[Container.accounts]):
    def rows():  # produced after the view returned: the session is open until the response is closed
        yield "id,owner,balance\n"
        for account in accounts.stream():
            yield f"{account.id},{account.owner},{account.balance}\n"

    return StreamingHttpResponse(rows(), content_type="text/csv")


urlpatterns = [path("accounts", accounts_view), path("transfers", transfer_view), path("export", export_view)]

container = Container()
container.config.database_url.from_value(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
container.wire(modules=[sys.modules[__name__]])
di_scopes.validate(container)  # at startup: no singleton holds a request's session
Base.metadata.create_all(container.engine())

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
