"""A Sanic application with a di-scopes integration written with di_scopes.integration, run on
Sanic's own server by tests/test_integration_api.py:

    python tests/sanic_app.py PORT          # DI_SCOPES_NO_EXTENSIONS picks the twin
"""

import sys

from dependency_injector import containers, providers
from sanic import Sanic, response
from sanic.exceptions import NotFound

import di_scopes
from di_scopes import integration

LOG = []


def open_session():
    number = len([entry for entry in LOG if entry.startswith("open")]) + 1
    LOG.append(f"open {number}")
    try:
        yield number
        LOG.append(f"commit {number}")
    except BaseException as error:
        LOG.append(f"rollback {number} {type(error).__name__}")
        raise


class Container(containers.DeclarativeContainer):
    session = di_scopes.ContextLocalResource(open_session)
    request = di_scopes.ScopeValue(di_scopes.REQUEST)
    path = providers.Callable(lambda request: request.path, request)


container = Container()
app = Sanic("di_scopes_test")


# The integration: three hooks.
@app.on_request
async def open_scope(request):
    if request.path != "/log":
        request.ctx.scope = integration.enter(request)


@app.on_response
async def end_scope(request, response):
    scope = getattr(request.ctx, "scope", None)
    if scope is not None:
        await integration.aend(scope, status=response.status)


@app.signal("http.lifecycle.exception")
async def note_exception(request, exception):
    scope = getattr(request.ctx, "scope", None) if request is not None else None
    if scope is not None:
        integration.note_error(exception, scope)


@app.get("/ok")
async def ok(request):
    return response.json({"session": container.session(), "path": container.path(), "again": container.session()})


@app.get("/raise")
async def fail(request):
    container.session()
    raise LookupError("handler failed")


@app.get("/missing")
async def missing(request):
    container.session()
    raise NotFound("no such thing")


@app.get("/status/<code:int>")
async def status(request, code):
    container.session()
    return response.text("status", status=code)


@app.get("/log")
async def log(request):
    return response.json(LOG)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), single_process=True, access_log=False, motd=False)
