"""Per-scope values: Scope.set_value / get_value and the ScopeValue provider, on both twins."""

import asyncio
import copy
import threading

import pytest
from dependency_injector import containers, providers

from di_scopes import REQUEST, ScopeError


class CurrentUser:
    def __init__(self, request):
        self.name = request["user"]


def container_for(twin):
    class Container(containers.DeclarativeContainer):
        request = twin.ScopeValue(REQUEST)
        user = providers.Factory(CurrentUser, request=request)
        user_per_scope = twin.ContextLocalSingleton(CurrentUser, request=request)

    return Container()


def test_factory_builds_on_the_scope_value(impl):
    container = container_for(impl)
    request_scope = impl.scope()
    request_scope.set_value(REQUEST, {"user": "ada"})
    with request_scope:
        assert container.user().name == "ada"
        assert container.user_per_scope() is container.user_per_scope()
        assert request_scope.get_value(REQUEST) == {"user": "ada"}
    with impl.scope() as other:
        other.set_value(REQUEST, {"user": "bob"})  # while active works too
        assert container.user().name == "bob"


def test_nested_scopes_see_outer_values_and_can_hide_them(impl):
    container = container_for(impl)
    with impl.scope() as outer:
        outer.set_value(REQUEST, {"user": "ada"})
        outer.set_value("tenant", 7)
        with impl.scope("message") as inner:
            assert container.request() == {"user": "ada"}
            inner.set_value(REQUEST, {"user": "bob"})
            assert container.user().name == "bob"
            assert inner.get_value("tenant") == 7
            assert inner.get_value("absent", "fallback") == "fallback"
        assert container.user().name == "ada"


def test_threads_and_tasks_of_the_scope_see_the_value(impl):
    container = container_for(impl)

    async def main():
        async with impl.scope() as request_scope:
            request_scope.set_value(REQUEST, {"user": "ada"})
            in_thread = await asyncio.to_thread(lambda: container.user().name)
            in_task = await asyncio.create_task(asyncio.sleep(0, container.user().name))
            return in_thread, in_task

    assert asyncio.run(main()) == ("ada", "ada")


def test_outside_any_scope_is_a_scope_error(impl):
    container = container_for(impl)
    with pytest.raises(ScopeError, match=r"ScopeValue\('request'\) was resolved outside any scope"):
        container.user()


def test_no_value_set_is_a_scope_error_naming_the_key(impl):
    container = container_for(impl)
    with impl.scope("job"):
        with pytest.raises(
            ScopeError,
            match=r"ScopeValue\('request'\): no active scope holds a value for 'request' \(the active scopes are 'job'",
        ):
            container.user()


def test_closed_scope_takes_no_value(impl):
    with impl.scope() as closed:
        pass
    with pytest.raises(ScopeError, match="closed or closing"):
        closed.set_value("key", 1)


def test_override_copy_and_repr(impl):
    container = container_for(impl)
    with container.request.override(providers.Object({"user": "test"})):
        assert container.user().name == "test"  # no scope needed once overridden
    duplicate = copy.deepcopy(container.request)
    assert type(duplicate) is impl.ScopeValue and duplicate.key == REQUEST
    assert "ScopeValue" in repr(container.request) and "'request'" in repr(container.request)
    assert list(container.user.traverse()) == [container.request]


def test_twins_agree_on_values_across_threads(impl):
    values = []
    with impl.scope() as request_scope:
        request_scope.set_value("n", 1)
        import contextvars

        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(lambda: values.append(impl.ScopeValue("n")()),))
        thread.start()
        thread.join(10)
    assert values == [1]


def test_asgi_and_wsgi_middlewares_store_the_request(twin):
    import httpx
    from starlette.requests import Request

    from di_scopes import asgi, wsgi

    class Container(containers.DeclarativeContainer):
        request = providers.Factory(Request, twin.ScopeValue(REQUEST))  # a Request over the ASGI scope
        environ = twin.ScopeValue(REQUEST)

    container = Container()

    async def asgi_app(scope, receive, send):
        body = container.request().url.path.encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    def wsgi_app(environ, start_response):
        start_response("200 OK", [])
        return [container.environ()["PATH_INFO"].encode()]

    async def over_asgi():
        transport = httpx.ASGITransport(asgi.ScopeMiddleware(asgi_app))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.get("/asgi/path")).text

    assert asyncio.run(over_asgi()) == "/asgi/path"
    with httpx.Client(transport=httpx.WSGITransport(wsgi.ScopeMiddleware(wsgi_app)), base_url="http://test") as client:
        assert client.get("/wsgi/path").text == "/wsgi/path"
