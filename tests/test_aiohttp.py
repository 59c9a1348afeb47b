"""di_scopes.aiohttp: a scope per request and per websocket connection, on a real aiohttp server."""

import asyncio

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer
from dependency_injector import containers, providers
from fastapi_app import Log, Repository, tracked_resource

import di_scopes
from di_scopes import aiohttp as di_aiohttp


class CurrentUser:
    def __init__(self, request):
        self.name = request.headers.get("X-User", "anonymous")


def async_tracked(log, kind):
    sync = tracked_resource(log, kind)

    async def resource():  # an async generator resource, like an AsyncSession
        generator = sync()
        instance = next(generator)
        try:
            await asyncio.sleep(0)
            yield instance
        except BaseException as error:
            try:
                generator.throw(error)
            except type(error):
                pass
            raise
        else:
            next(generator, None)

    return resource


def build(twin, **options):
    log = Log()

    class Container(containers.DeclarativeContainer):
        session = twin.ContextLocalResource(async_tracked(log, "session"))
        repository = providers.Factory(Repository, session=session)
        user = providers.Factory(CurrentUser, request=twin.ScopeValue(di_scopes.REQUEST))
        connection = twin.ContextLocalResource(async_tracked(log, "connection")).in_scope("request")
        per_message = twin.ContextLocalResource(tracked_resource(log, "message"))

    container = Container()
    routes = web.RouteTableDef()

    @routes.get("/ok")
    async def ok(request):
        session = await container.session()
        repository = await container.repository()
        return web.json_response({"same": repository.session is session, "user": container.user().name})

    @routes.get("/raise")
    async def fail(request):
        await container.session()
        raise RuntimeError("handler failed")

    @routes.get("/http/{code}")
    async def http(request):
        await container.session()
        raise {302: web.HTTPFound("/ok"), 404: web.HTTPNotFound(), 409: web.HTTPConflict()}[
            int(request.match_info["code"])
        ]

    @routes.get("/status/{code}")
    async def status(request):
        await container.session()
        return web.Response(status=int(request.match_info["code"]))

    @routes.get("/stream")
    async def stream(request):
        session = await container.session()
        response = web.StreamResponse()
        await response.prepare(request)
        for index in range(3):
            log.seen.setdefault("stream", []).append((session.closed, await container.session() is session))
            await response.write(f"{index}\n".encode())
        await response.write_eof()
        return response

    @routes.get("/ws")
    async def websocket(request):
        connection = await container.connection()
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                async with twin.scope("message"):
                    per_message = container.per_message()
                    same = await container.connection() is connection
                    await socket.send_json(
                        {"connection": connection.number, "message": per_message.number, "same": same}
                    )
        return socket

    app = web.Application()
    app.add_routes(routes)
    di_aiohttp.setup(app, **options)
    return app, log


def run(app, scenario):
    async def main():
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            return await scenario(client)

    return asyncio.run(main())


def ended(log, kind="session"):
    return [(list(s.events), s.closes) for s in log.by_kind(kind)]


def test_requests(twin):
    app, log = build(twin)

    async def scenario(client):
        results = []
        for path in ("/ok", "/raise", "/http/404", "/http/409", "/http/302", "/status/409", "/status/201"):
            response = await client.get(path, headers={"X-User": "ada"}, allow_redirects=False)
            results.append((response.status, (await response.json()) if path == "/ok" else None))
        return results

    results = run(app, scenario)
    assert results[0] == (200, {"same": True, "user": "ada"})
    assert [status for status, _ in results[1:]] == [500, 404, 409, 302, 409, 201]
    assert ended(log) == [
        (["commit"], 1),
        (["rollback RuntimeError"], 1),
        (["rollback HTTPNotFound"], 1),
        (["rollback HTTPConflict"], 1),
        (["commit"], 1),  # a redirect is a success
        (["rollback ErrorResponse"], 1),
        (["commit"], 1),
    ]


def test_failure_status_off(twin):
    app, log = build(twin, failure_status=None)

    async def scenario(client):
        return [(await client.get(path)).status for path in ("/status/409", "/http/404")]

    assert run(app, scenario) == [409, 404]
    assert ended(log) == [(["commit"], 1)] * 2


def test_stream_keeps_the_scope(twin):
    app, log = build(twin)

    async def scenario(client):
        return await (await client.get("/stream")).text()

    assert run(app, scenario) == "0\n1\n2\n"
    assert log.seen["stream"] == [(False, True)] * 3
    assert ended(log) == [(["commit"], 1)]


def test_websocket_scope_per_connection(twin):
    app, log = build(twin)

    async def scenario(client):
        replies = []
        for _ in range(2):
            async with client.ws_connect("/ws") as socket:
                for text in ("a", "b"):
                    await socket.send_str(text)
                    replies.append(await socket.receive_json())
        return replies

    replies = run(app, scenario)
    assert all(reply["same"] for reply in replies)
    assert [r["connection"] for r in replies[:2]] == [replies[0]["connection"]] * 2
    assert replies[2]["connection"] != replies[0]["connection"]
    assert len({r["message"] for r in replies}) == 4  # one per message
    assert ended(log, "connection") == [(["commit"], 1)] * 2
    assert ended(log, "message") == [(["commit"], 1)] * 4


def test_app_scope_spans_the_application(twin):
    log = Log()
    pool = twin.ContextLocalResource(tracked_resource(log, "pool")).in_scope("app")
    session = twin.ContextLocalResource(tracked_resource(log, "session"))
    app_value = twin.ScopeValue(di_aiohttp.APP)

    async def handler(request):
        return web.json_response(
            {"pool": pool().number, "session": session().number, "app": app_value() is request.app}
        )

    app = web.Application()
    app.router.add_get("/", handler)
    di_aiohttp.setup(app, app_scope_name="app")

    async def scenario(client):
        first = await (await client.get("/")).json()
        second = await (await client.get("/")).json()
        return first, second, ended(log, "pool")

    first, second, pool_while_serving = run(app, scenario)
    assert first["pool"] == second["pool"] and first["session"] != second["session"]
    assert first["app"] and second["app"]
    assert pool_while_serving == [([], 0)]
    assert ended(log, "pool") == [(["commit"], 1)]  # torn down at cleanup
    assert ended(log) == [(["commit"], 1)] * 2


def test_cancelled_handler_still_rolls_back(twin):
    from aiohttp.test_utils import make_mocked_request

    log = Log()
    session = twin.ContextLocalResource(async_tracked(log, "session"))
    middleware = di_aiohttp.scope_middleware()

    async def main():
        started = asyncio.Event()

        async def handler(request):
            await session()
            started.set()
            await asyncio.sleep(60)

        task = asyncio.create_task(middleware(make_mocked_request("GET", "/"), handler))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(main(), 30))
    assert ended(log) == [(["rollback CancelledError"], 1)]


def test_bad_arguments():
    with pytest.raises(ValueError, match="failure_status"):
        di_aiohttp.scope_middleware(failure_status=1000)
