"""A Django project in one module for the integration tests: settings, views and URLs.

``configure()`` sets Django up once per process; ``STATE`` holds the container and log of the
running test, which the views read.
"""

import asyncio

from dependency_injector import containers, providers
from fastapi_app import Log, Repository, tracked_resource

import di_scopes

STATE = {}


def configure():
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="tests",
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=__name__,
            MIDDLEWARE=["di_scopes.django.ScopeMiddleware"],
            INSTALLED_APPS=[],
            DATABASES={},
            LOGGING_CONFIG=None,
        )
        django.setup()


class CurrentUser:
    def __init__(self, request):
        self.name = request.headers.get("X-User", "anonymous")


def build(twin):
    log = Log()

    class Container(containers.DeclarativeContainer):
        session = twin.ContextLocalResource(tracked_resource(log, "session"))
        repository = providers.Factory(Repository, session=session)
        user = providers.Factory(CurrentUser, request=twin.ScopeValue(di_scopes.REQUEST))

    STATE.update(container=Container(), log=log)
    return log


def _container():
    return STATE["container"]


def ok(request):
    from django.http import JsonResponse

    container = _container()
    session, repository = container.session(), container.repository()
    return JsonResponse(
        {"same": repository.session is session, "number": session.number, "user": container.user().name}
    )


async def async_ok(request):
    from django.http import JsonResponse

    container = _container()
    session = container.session()
    await asyncio.sleep(0)
    return JsonResponse({"same": container.repository().session is session, "number": session.number})


def fail(request):
    _container().session()
    raise RuntimeError("view failed")


def missing(request):
    from django.http import Http404

    _container().session()
    raise Http404("no such thing")


def status(request, code):
    from django.http import HttpResponse

    _container().session()
    return HttpResponse("status", status=code)


def stream(request):
    from django.http import StreamingHttpResponse

    container = _container()
    session = container.session()
    log = STATE["log"]

    def body():
        for index in range(3):
            log.seen.setdefault("stream", []).append((session.closed, container.session() is session))
            yield f"{index}\n"

    return StreamingHttpResponse(body())


async def async_stream(request):
    from django.http import StreamingHttpResponse

    container = _container()
    session = container.session()
    log = STATE["log"]

    async def body():
        for index in range(3):
            await asyncio.sleep(0)
            log.seen.setdefault("stream", []).append((session.closed, container.session() is session))
            yield f"{index}\n"

    return StreamingHttpResponse(body())


def slow_stream(request):
    """A long body, slowly produced: the client can leave in the middle."""
    import time

    from django.http import StreamingHttpResponse

    session = _container().session()

    def body():
        for index in range(300):
            time.sleep(0.002)
            yield f"{index} {session.number}\n"

    return StreamingHttpResponse(body())


def wsgi_application():
    configure()
    from django.core.handlers.wsgi import WSGIHandler

    return WSGIHandler()


def _urls():
    from django.urls import path

    return [
        path("ok", ok),
        path("async", async_ok),
        path("raise", fail),
        path("missing", missing),
        path("status/<int:code>", status),
        path("stream", stream),
        path("async-stream", async_stream),
        path("slow-stream", slow_stream),
    ]


def __getattr__(name):  # Django imports urlpatterns once configured
    if name == "urlpatterns":
        return _urls()
    raise AttributeError(name)
