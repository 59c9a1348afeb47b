"""User-style code for the framework integrations, scope values and validate()."""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers
from flask import Flask

import di_scopes
import di_scopes.aiohttp
import di_scopes.flask
from di_scopes.django import ScopeMiddleware


class CurrentUser:
    def __init__(self, request: Any) -> None:
        self.request = request


class Container(containers.DeclarativeContainer):
    request: di_scopes.ScopeValue[Any] = di_scopes.ScopeValue(di_scopes.REQUEST)
    user = providers.Factory(CurrentUser, request=request)


class StrictScopes(ScopeMiddleware):
    failure_status = 500


def build() -> Flask:
    app = Flask(__name__)
    di_scopes.flask.init_app(app, failure_status=None)
    di_scopes.validate(Container, scopes=["job"])
    job = di_scopes.scope("job")
    job.set_value("tenant", 7)
    with job:
        assert job.get_value("tenant") == 7
    return app


middleware = di_scopes.aiohttp.scope_middleware(failure_status=400)
