"""One class per variant; each method builds the callable that one scenario times.

Every variant runs the same generator body (``_workload.session_gen``/``asession_gen``), resolves
the same number of times per cycle and checks, after the cycle, that the resolves shared one
session. The peers are written in their own idiom; what each idiom is, and what the
dependency-injector rows have to do by hand, is said where it happens.

Scenario methods (a variant lacking one does not take part in that scenario):

- ``cached()``: a context manager that opens a scope, resolves once, and gives ``(resolve, key)``:
  a resolve is ``resolve()``, or ``resolve(key)`` for the peers that resolve by type;
- ``empty()``: one empty scope, entered and exited;
- ``cycle()``: enter, resolve the session 3 times, exit with teardown;
- ``graph()``: enter, resolve Service(Repo(Session), Session), exit with teardown;
- ``ngraph()``: the same for RepoService(Repo(Session)), a service made from its repository alone;
- ``chain()``: the same for Handler(RepoService(Repo(Session))), a three-level chain;
- ``chain1()``, ``chain10()``: the same for Repo(Session) alone and for a ten-level chain
  (seven more levels over Handler), the chain-depth rows;
- ``acycle()``, ``agraph()``, ``angraph()``, ``achain()``, ``achain1()``, ``achain10()``: the
  same with ``async with`` and an async-generator session;
- ``error_cycle()``: ``cycle()`` raising ``Boom`` inside the scope (the caller's ``except`` catches it);
- ``many(n)``, ``amany(n)``: enter, resolve ``n`` distinct scoped sessions once each, then each
  again (found in the scope), exit with ``n`` teardowns; sync and async;
- ``thread_cycle(executor)``: the first two resolves run in a worker thread, in a copy of the
  scope's context (as a sync dependency runs in a web framework's thread pool), the third in the
  calling thread, which then exits the scope.

``cannot`` maps a scenario to the reason a variant cannot run it correctly; the benchmark checks
that it indeed fails, and reports the row as skipped with that reason.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar, copy_context
from typing import Any

import pytest

from ._workload import LEVELS, Boom, Handler, Repo, RepoService, Service, Session, asession_gen, session_gen

# What the error-path scenario ends with: the variant's teardown path when the scope raises.
COMMITTED, ROLLED_BACK = "committed", "rolled back"


class SharingError(AssertionError):
    pass


def _same(a: Any, b: Any, c: Any) -> None:
    if not (a is b is c and type(a) is Session):
        distinct = len({id(a), id(b), id(c)})
        raise SharingError(f"the three resolves of one cycle gave {distinct} different objects")


def _same_graph(service: Any) -> None:
    if not (type(service) is Service and service.repo.session is service.session and type(service.session) is Session):
        raise SharingError(f"the service graph does not share one session: {service!r}")


def _same_nested(service: Any) -> None:
    if not (type(service) is RepoService and type(service.repo) is Repo and type(service.repo.session) is Session):
        raise SharingError(f"the nested service graph is not RepoService(Repo(Session)): {service!r}")


def _same_chain(handler: Any) -> None:
    if type(handler) is not Handler:
        raise SharingError(f"the chain is not Handler(RepoService(Repo(Session))): {handler!r}")
    _same_nested(handler.service)


def _same_repo(repo: Any) -> None:
    if not (type(repo) is Repo and type(repo.session) is Session):
        raise SharingError(f"the one-level chain is not Repo(Session): {repo!r}")


def _same_chain10(top: Any) -> None:
    for level in reversed(LEVELS):
        if type(top) is not level:
            raise SharingError(f"the ten-level chain has {top!r} where a {level.__name__} belongs")
        top = top.inner
    _same_chain(top)


# Each graph shape: the top class of its Factory chain and the check of what it gave.
SHAPES = {
    "graph": (Service, _same_graph),
    "ngraph": (RepoService, _same_nested),
    "chain": (Handler, _same_chain),
    "chain1": (Repo, _same_repo),
    "chain10": (LEVELS[-1], _same_chain10),
}
# The classes a container that resolves by type provides for each shape.
GRAPH_CLASSES = {
    "graph": (Repo, Service),
    "ngraph": (Repo, RepoService),
    "chain": (Repo, RepoService, Handler),
    "chain1": (Repo,),
    "chain10": (Repo, RepoService, Handler, *LEVELS),
}


def di_graph(session: Any, shape: str) -> Any:
    """The top ``providers.Factory`` of a graph shape over the ``session`` provider."""
    from dependency_injector import providers

    repo = providers.Factory(Repo, session)
    if shape == "graph":
        return providers.Factory(Service, repo, session)
    if shape == "chain1":
        return repo
    top = providers.Factory(RepoService, repo)
    for cls in GRAPH_CLASSES[shape][2:]:
        top = providers.Factory(cls, top)
    return top


def hand_built(session: Session, shape: str) -> Any:
    # Written out: a loop over the classes would charge the floor for the loop.
    if shape == "graph":
        return Service(Repo(session), session)
    if shape == "ngraph":
        return RepoService(Repo(session))
    if shape == "chain":
        return Handler(RepoService(Repo(session)))
    if shape == "chain1":
        return Repo(session)
    l4, l5, l6, l7, l8, l9, l10 = LEVELS
    return l10(l9(l8(l7(l6(l5(l4(Handler(RepoService(Repo(session))))))))))


def _distinct(first: list, again: list, count: int) -> None:
    if not (
        len(first) == count
        and all(a is b and type(a) is Session for a, b in zip(first, again, strict=True))
        and len({id(a) for a in first}) == count
    ):
        raise SharingError(f"{count} resources in one scope did not give {count} sessions, each found again")


def _resolve2(resolve: Callable[[], Any]) -> tuple:
    return resolve(), resolve()


class Variant:
    name = ""
    label = ""
    error_outcome = ROLLED_BACK
    cannot: dict[str, str] = {}


class GraphShapes(Variant):
    """The graph scenarios, one per shape, for a variant that builds any shape with
    ``_graph(shape)`` and ``_agraph(shape)``."""

    def _graph(self, shape: str) -> Callable[[], None]:
        raise NotImplementedError

    def _agraph(self, shape: str) -> Callable[[], Any]:
        raise NotImplementedError

    def graph(self):
        return self._graph("graph")

    def ngraph(self):
        return self._graph("ngraph")

    def chain(self):
        return self._graph("chain")

    def chain1(self):
        return self._graph("chain1")

    def chain10(self):
        return self._graph("chain10")

    def agraph(self):
        return self._agraph("graph")

    def angraph(self):
        return self._agraph("ngraph")

    def achain(self):
        return self._agraph("chain")

    def achain1(self):
        return self._agraph("chain1")

    def achain10(self):
        return self._agraph("chain10")


# di-scopes: both twins --------------------------------------------------------------------------


class Twin(GraphShapes):
    """di_scopes' compiled (``_scope_c``) or pure (``_scope_py``) twin, imported directly."""

    def __init__(self, name: str, module: Any) -> None:
        self.name = name
        self.label = f"di-scopes {'pure-Python' if name == 'py' else 'compiled'} twin"
        self.m = module

    def cached(self):
        scope, session = self.m.scope, self.m.ContextLocalResource(session_gen)

        @contextlib.contextmanager
        def opened() -> Iterator[Callable[[], Any]]:
            with scope():
                session()
                yield session, None

        return opened()

    def empty(self):
        scope = self.m.scope

        def cycle() -> None:
            with scope():
                pass

        return cycle

    def cycle(self):
        scope, session = self.m.scope, self.m.ContextLocalResource(session_gen)

        def cycle() -> None:
            with scope():
                a = session()
                b = session()
                c = session()
            _same(a, b, c)

        return cycle

    def _graph(self, shape: str):
        scope, session = self.m.scope, self.m.ContextLocalResource(session_gen)
        top, check = di_graph(session, shape), SHAPES[shape][1]

        def cycle() -> None:
            with scope():
                built = top()
            check(built)

        return cycle

    def acycle(self):
        scope, session = self.m.scope, self.m.ContextLocalResource(asession_gen)

        async def cycle() -> None:
            async with scope():
                a = await session()
                b = await session()
                c = await session()
            _same(a, b, c)

        return cycle

    def _agraph(self, shape: str):
        scope, session = self.m.scope, self.m.ContextLocalResource(asession_gen)
        top, check = di_graph(session, shape), SHAPES[shape][1]

        async def cycle() -> None:
            async with scope():
                built = await top()
            check(built)

        return cycle

    def many(self, count: int):
        scope = self.m.scope
        sessions = [self.m.ContextLocalResource(session_gen) for _ in range(count)]

        def cycle() -> None:
            with scope():
                first = [session() for session in sessions]
                again = [session() for session in sessions]
            _distinct(first, again, count)

        return cycle

    def amany(self, count: int):
        scope = self.m.scope
        sessions = [self.m.ContextLocalResource(asession_gen) for _ in range(count)]

        async def cycle() -> None:
            async with scope():
                first = [await session() for session in sessions]
                again = [await session() for session in sessions]
            _distinct(first, again, count)

        return cycle

    def error_cycle(self):
        scope, session = self.m.scope, self.m.ContextLocalResource(session_gen)

        def cycle() -> None:
            with scope():
                a = session()
                b = session()
                c = session()
                _same(a, b, c)
                raise Boom()

        return cycle

    def thread_cycle(self, executor):
        scope, session = self.m.scope, self.m.ContextLocalResource(session_gen)
        submit = executor.submit

        def cycle() -> None:
            with scope():
                a, b = submit(copy_context().run, _resolve2, session).result()
                c = session()
            _same(a, b, c)

        return cycle


# dependency-injector's own context-local providers ----------------------------------------------


def _finish(generator: Any, error: Any = None) -> None:
    """Hand-written teardown of a generator resource (what ContextLocalSingleton users write)."""
    try:
        if error is None:
            next(generator)
        else:
            generator.throw(error)
    except StopIteration:
        return
    except BaseException as raised:
        if raised is error:
            return
        raise
    raise RuntimeError("the session generator yielded twice")


async def _afinish(generator: Any, error: Any = None) -> None:
    try:
        if error is None:
            await generator.__anext__()
        else:
            await generator.athrow(error)
    except StopAsyncIteration:
        return
    except BaseException as raised:
        if raised is error:
            return
        raise
    raise RuntimeError("the session generator yielded twice")


def _open_session() -> Session:
    generator = session_gen()
    session = next(generator)
    session.generator = generator
    return session


async def _aopen_session() -> Session:
    generator = asession_gen()
    session = await generator.__anext__()
    session.generator = generator
    return session


class DiContextLocalSingleton(Variant):
    """``providers.ContextLocalSingleton`` + ``reset()``.

    It has no teardown: the instance is opened by driving the generator in the factory, and the
    cycle ends with ``reset()`` and the generator finished by hand (the error thrown in on failure).
    Its "scope" is the current contextvars context; ``reset()`` is what ends a request.
    """

    name = "di-contextlocal-singleton"
    label = "dependency-injector ContextLocalSingleton + reset()"
    cannot = {
        "threads": "an instance set in the worker's copy of the context is invisible to the calling "
        "thread, which creates a second session",
    }

    def __init__(self) -> None:
        from dependency_injector import providers

        self.providers = providers

    def cached(self):
        session = self.providers.ContextLocalSingleton(_open_session)

        @contextlib.contextmanager
        def opened():
            instance = session()
            try:
                yield session, None
            finally:
                session.reset()
                _finish(instance.generator)

        return opened()

    def empty(self):
        reset = self.providers.ContextLocalSingleton(_open_session).reset

        def cycle() -> None:
            reset()

        return cycle

    def cycle(self):
        session = self.providers.ContextLocalSingleton(_open_session)

        def cycle() -> None:
            a = session()
            b = session()
            c = session()
            session.reset()
            _finish(a.generator)
            _same(a, b, c)

        return cycle

    def graph(self):
        p = self.providers
        session = p.ContextLocalSingleton(_open_session)
        repo = p.Factory(Repo, session)
        service = p.Factory(Service, repo, session)

        def cycle() -> None:
            svc = service()
            session.reset()
            _finish(svc.session.generator)
            _same_graph(svc)

        return cycle

    def acycle(self):
        session = self.providers.ContextLocalSingleton(_aopen_session)

        async def cycle() -> None:
            a = await session()
            b = await session()
            c = await session()
            session.reset()
            await _afinish(a.generator)
            _same(a, b, c)

        return cycle

    def agraph(self):
        p = self.providers
        session = p.ContextLocalSingleton(_aopen_session)
        repo = p.Factory(Repo, session)
        service = p.Factory(Service, repo, session)

        async def cycle() -> None:
            svc = await service()
            session.reset()
            await _afinish(svc.session.generator)
            _same_graph(svc)

        return cycle

    def error_cycle(self):
        session = self.providers.ContextLocalSingleton(_open_session)

        def cycle() -> None:
            a = session()
            try:
                b = session()
                c = session()
                _same(a, b, c)
                raise Boom()
            except BaseException as error:
                session.reset()
                _finish(a.generator, error)
                raise

        return cycle

    def thread_cycle(self, executor):
        session = self.providers.ContextLocalSingleton(_open_session)
        submit = executor.submit

        def cycle() -> None:
            a, b = submit(copy_context().run, _resolve2, session).result()
            c = session()  # the instance was set in the worker's copy of the context: a second one
            session.reset()
            _finish(a.generator)
            _finish(c.generator)
            _same(a, b, c)

        return cycle


class DiContextLocalResource(Variant):
    """``providers.ContextLocalResource`` + ``shutdown()`` in the same context.

    Its teardown always takes the success path (``__exit__(None, None, None)``): on an error the
    session commits.
    """

    name = "di-contextlocal-resource"
    label = "dependency-injector ContextLocalResource + shutdown()"
    error_outcome = COMMITTED
    cannot = {
        "threads": "a state set in the worker's copy of the context is invisible to the calling "
        "thread, which creates a second session; shutdown() never sees the first",
    }

    def __init__(self) -> None:
        from dependency_injector import providers

        self.providers = providers

    def cached(self):
        session = self.providers.ContextLocalResource(session_gen)

        @contextlib.contextmanager
        def opened():
            session()
            try:
                yield session, None
            finally:
                session.shutdown()

        return opened()

    def empty(self):
        shutdown = self.providers.ContextLocalResource(session_gen).shutdown

        def cycle() -> None:
            shutdown()

        return cycle

    def cycle(self):
        session = self.providers.ContextLocalResource(session_gen)

        def cycle() -> None:
            a = session()
            b = session()
            c = session()
            session.shutdown()
            _same(a, b, c)

        return cycle

    def graph(self):
        p = self.providers
        session = p.ContextLocalResource(session_gen)
        repo = p.Factory(Repo, session)
        service = p.Factory(Service, repo, session)

        def cycle() -> None:
            svc = service()
            session.shutdown()
            _same_graph(svc)

        return cycle

    def acycle(self):
        session = self.providers.ContextLocalResource(asession_gen)

        async def cycle() -> None:
            a = await session()
            b = await session()
            c = await session()
            await session.shutdown()
            _same(a, b, c)

        return cycle

    def agraph(self):
        p = self.providers
        session = p.ContextLocalResource(asession_gen)
        repo = p.Factory(Repo, session)
        service = p.Factory(Service, repo, session)

        async def cycle() -> None:
            svc = await service()
            await session.shutdown()
            _same_graph(svc)

        return cycle

    def error_cycle(self):
        session = self.providers.ContextLocalResource(session_gen)

        def cycle() -> None:
            try:
                a = session()
                b = session()
                c = session()
                _same(a, b, c)
                raise Boom()
            finally:
                session.shutdown()

        return cycle

    def thread_cycle(self, executor):
        session = self.providers.ContextLocalResource(session_gen)
        submit = executor.submit

        def cycle() -> None:
            a, b = submit(copy_context().run, _resolve2, session).result()
            c = session()  # the state was set in the worker's copy of the context: a second one
            session.shutdown()
            _same(a, b, c)

        return cycle


# Peers ------------------------------------------------------------------------------------------


class ResolvesByType(GraphShapes):
    """The graph scenarios of the peers that open a request scope with a callable and resolve by
    type from what it gives (``request.get(T)``, ``await request.get(T)``)."""

    def _opener(self, shape: str, asynchronous: bool) -> Callable[[], Any]:
        raise NotImplementedError

    def _graph(self, shape: str):
        open_request = self._opener(shape, False)
        top, check = SHAPES[shape]

        def cycle() -> None:
            with open_request() as request:
                built = request.get(top)
            check(built)

        return cycle

    def _agraph(self, shape: str):
        open_request = self._opener(shape, True)
        top, check = SHAPES[shape]

        async def cycle() -> None:
            async with open_request() as request:
                built = await request.get(top)
            check(built)

        return cycle


class Dishka(ResolvesByType):
    """dishka: the session, Repo and Service provided in ``Scope.REQUEST``; ``with container() as
    request:`` opens one request; ``request.get(T)`` resolves."""

    name = "dishka"
    label = "dishka (Scope.REQUEST)"

    def __init__(self) -> None:
        self.dishka = pytest.importorskip("dishka")

    def _container(self, source, graph: bool = False, asynchronous: bool = False, shape: str = "graph"):
        d = self.dishka
        provider = d.Provider()
        provider.provide(source, scope=d.Scope.REQUEST)
        if graph:
            for cls in GRAPH_CLASSES[shape]:
                provider.provide(cls, scope=d.Scope.REQUEST)
        return (d.make_async_container if asynchronous else d.make_container)(provider)

    def _opener(self, shape: str, asynchronous: bool) -> Callable[[], Any]:
        return self._container(
            asession_gen if asynchronous else session_gen, graph=True, asynchronous=asynchronous, shape=shape
        )

    def cached(self):
        container = self._container(session_gen)

        @contextlib.contextmanager
        def opened():
            with container() as request:
                request.get(Session)
                yield request.get, Session

        return opened()

    def empty(self):
        container = self._container(session_gen)

        def cycle() -> None:
            with container():
                pass

        return cycle

    def cycle(self):
        container = self._container(session_gen)

        def cycle() -> None:
            with container() as request:
                a = request.get(Session)
                b = request.get(Session)
                c = request.get(Session)
            _same(a, b, c)

        return cycle

    def acycle(self):
        container = self._container(asession_gen, asynchronous=True)

        async def cycle() -> None:
            async with container() as request:
                a = await request.get(Session)
                b = await request.get(Session)
                c = await request.get(Session)
            _same(a, b, c)

        return cycle

    def _many(self, count: int, asynchronous: bool):
        """A container providing ``count`` distinct types (subclasses of Session in name only:
        the instances are the same Session objects), each from the session generator."""
        d = self.dishka
        provider = d.Provider()
        kinds = [type(f"Session{index}", (Session,), {}) for index in range(count)]
        for kind in kinds:
            provider.provide(asession_gen if asynchronous else session_gen, provides=kind, scope=d.Scope.REQUEST)
        return (d.make_async_container if asynchronous else d.make_container)(provider), kinds

    def many(self, count: int):
        container, kinds = self._many(count, False)

        def cycle() -> None:
            with container() as request:
                get = request.get
                first = [get(kind) for kind in kinds]
                again = [get(kind) for kind in kinds]
            _distinct(first, again, count)

        return cycle

    def amany(self, count: int):
        container, kinds = self._many(count, True)

        async def cycle() -> None:
            async with container() as request:
                get = request.get
                first = [await get(kind) for kind in kinds]
                again = [await get(kind) for kind in kinds]
            _distinct(first, again, count)

        return cycle

    def error_cycle(self):
        container = self._container(session_gen)

        def cycle() -> None:
            with container() as request:
                a = request.get(Session)
                b = request.get(Session)
                c = request.get(Session)
                _same(a, b, c)
                raise Boom()

        return cycle

    def thread_cycle(self, executor):
        container = self._container(session_gen)
        submit = executor.submit

        def cycle() -> None:
            with container() as request:
                a, b = submit(copy_context().run, _get2, request.get).result()
                c = request.get(Session)
            _same(a, b, c)

        return cycle


class DishkaFastAPI(GraphShapes):
    """The service graphs as dishka's FastAPI integration injects an endpoint's ``FromDishka[T]``
    parameter (``dishka.integrations.fastapi.inject``/``inject_sync``): the counterpart of the
    ``c-fast`` rows. The endpoint is called directly, without FastAPI, with the request that
    FastAPI would pass it; each cycle opens the request container and puts it in the request's
    state, as dishka's middleware does. The Starlette ``Request`` is made once: FastAPI makes one
    per request whichever library injects."""

    name = "dishka-fastapi"
    label = "dishka, through its FastAPI `@inject`"

    def __init__(self) -> None:
        self.dishka = Dishka()

    def _endpoint(self, shape: str, asynchronous: bool):
        from dishka.integrations import fastapi as dishka_fastapi
        from starlette.requests import Request

        container = self.dishka._opener(shape, asynchronous)
        top = SHAPES[shape][0]
        if asynchronous:

            async def endpoint(top: Any) -> Any:
                return top

        else:

            def endpoint(top: Any) -> Any:  # type: ignore[misc]
                return top

        endpoint.__annotations__ = {"top": dishka_fastapi.FromDishka[top], "return": Any}
        endpoint = (dishka_fastapi.inject if asynchronous else dishka_fastapi.inject_sync)(endpoint)
        request = Request({"type": "http", "state": {}})
        return container, request, endpoint, SHAPES[shape][1]

    def _graph(self, shape: str):
        container, request, endpoint, check = self._endpoint(shape, False)
        state = request.state

        def cycle() -> None:
            with container() as opened:
                state.dishka_container = opened
                built = endpoint(___dishka_request=request)
            check(built)

        return cycle

    def _agraph(self, shape: str):
        container, request, endpoint, check = self._endpoint(shape, True)
        state = request.state

        async def cycle() -> None:
            async with container() as opened:
                state.dishka_container = opened
                built = await endpoint(___dishka_request=request)
            check(built)

        return cycle


def _get2(get: Callable[[Any], Any]) -> tuple:
    return get(Session), get(Session)


class Wireup(ResolvesByType):
    """wireup: the session ``lifetime="scoped"``, Repo and Service scoped too;
    ``with container.enter_scope() as scoped:`` opens one; ``scoped.get(T)`` resolves."""

    name = "wireup"
    label = "wireup (scoped)"

    def __init__(self) -> None:
        self.wireup = pytest.importorskip("wireup")

    def _container(self, source, graph: bool = False, asynchronous: bool = False, shape: str = "graph"):
        w = self.wireup
        injectables = [w.injectable(lifetime="scoped")(source)]
        if graph:
            injectables += [w.injectable(lifetime="scoped")(cls) for cls in GRAPH_CLASSES[shape]]
        create = w.create_async_container if asynchronous else w.create_sync_container
        return create(injectables=injectables)

    def _opener(self, shape: str, asynchronous: bool) -> Callable[[], Any]:
        source = asession_gen if asynchronous else session_gen
        return self._container(source, graph=True, asynchronous=asynchronous, shape=shape).enter_scope

    def cached(self):
        container = self._container(session_gen)

        @contextlib.contextmanager
        def opened():
            with container.enter_scope() as scoped:
                scoped.get(Session)
                yield scoped.get, Session

        return opened()

    def empty(self):
        enter_scope = self._container(session_gen).enter_scope

        def cycle() -> None:
            with enter_scope():
                pass

        return cycle

    def cycle(self):
        enter_scope = self._container(session_gen).enter_scope

        def cycle() -> None:
            with enter_scope() as scoped:
                a = scoped.get(Session)
                b = scoped.get(Session)
                c = scoped.get(Session)
            _same(a, b, c)

        return cycle

    def acycle(self):
        enter_scope = self._container(asession_gen, asynchronous=True).enter_scope

        async def cycle() -> None:
            async with enter_scope() as scoped:
                a = await scoped.get(Session)
                b = await scoped.get(Session)
                c = await scoped.get(Session)
            _same(a, b, c)

        return cycle

    def error_cycle(self):
        enter_scope = self._container(session_gen).enter_scope

        def cycle() -> None:
            with enter_scope() as scoped:
                a = scoped.get(Session)
                b = scoped.get(Session)
                c = scoped.get(Session)
                _same(a, b, c)
                raise Boom()

        return cycle

    def thread_cycle(self, executor):
        enter_scope = self._container(session_gen).enter_scope
        submit = executor.submit

        def cycle() -> None:
            with enter_scope() as scoped:
                a, b = submit(copy_context().run, _get2, scoped.get).result()
                c = scoped.get(Session)
            _same(a, b, c)

        return cycle


class ThatDepends(Variant):
    """that-depends: ``providers.ContextResource`` in a ``BaseContainer``, Repo and Service as its
    ``providers.Factory``; ``with container_context(Container):`` opens one (as its ASGI
    middleware does per request); ``resolve_sync()``/``await resolve()`` resolves.

    Its context exit closes the resource's exit stack without the exception: on an error the
    session commits.
    """

    name = "that-depends"
    label = "that-depends (ContextResource)"
    error_outcome = COMMITTED

    _containers: dict[Any, Any] = {}  # one container class per generator: they register globally

    def __init__(self) -> None:
        self.td = pytest.importorskip("that_depends")

    def _container(self, source):
        container = self._containers.get(source)
        if container is None:
            td = self.td

            # default_scope None: the resources are entered by every container_context, as by its
            # ASGI middleware without a scope argument (the cheapest of its ways to open one).
            class Container(td.BaseContainer):
                alias = f"bench-{source.__name__}"
                default_scope = None
                session = td.providers.ContextResource(source)
                repo = td.providers.Factory(Repo, session)
                service = td.providers.Factory(Service, repo, session)

            container = Container
            self._containers[source] = container
        return container

    def cached(self):
        container, context = self._container(session_gen), self.td.container_context

        @contextlib.contextmanager
        def opened():
            with context(container):
                resolve = container.session.resolve_sync
                resolve()
                yield resolve, None

        return opened()

    def empty(self):
        container, context = self._container(session_gen), self.td.container_context

        def cycle() -> None:
            with context(container):
                pass

        return cycle

    def cycle(self):
        container, context = self._container(session_gen), self.td.container_context
        session = container.session

        def cycle() -> None:
            with context(container):
                a = session.resolve_sync()
                b = session.resolve_sync()
                c = session.resolve_sync()
            _same(a, b, c)

        return cycle

    def graph(self):
        container, context = self._container(session_gen), self.td.container_context
        service = container.service

        def cycle() -> None:
            with context(container):
                svc = service.resolve_sync()
            _same_graph(svc)

        return cycle

    def acycle(self):
        container, context = self._container(asession_gen), self.td.container_context
        session = container.session

        async def cycle() -> None:
            async with context(container):
                a = await session.resolve()
                b = await session.resolve()
                c = await session.resolve()
            _same(a, b, c)

        return cycle

    def agraph(self):
        container, context = self._container(asession_gen), self.td.container_context
        service = container.service

        async def cycle() -> None:
            async with context(container):
                svc = await service.resolve()
            _same_graph(svc)

        return cycle

    def error_cycle(self):
        container, context = self._container(session_gen), self.td.container_context
        session = container.session

        def cycle() -> None:
            with context(container):
                a = session.resolve_sync()
                b = session.resolve_sync()
                c = session.resolve_sync()
                _same(a, b, c)
                raise Boom()

        return cycle

    def thread_cycle(self, executor):
        container, context = self._container(session_gen), self.td.container_context
        resolve = container.session.resolve_sync
        submit = executor.submit

        def cycle() -> None:
            with context(container):
                a, b = submit(copy_context().run, _resolve2, resolve).result()
                c = resolve()
            _same(a, b, c)

        return cycle


# References -------------------------------------------------------------------------------------


class Floor(GraphShapes):
    """The least any variant can do: the generator driven by hand, the session kept in a local.

    For the cached resolve, a ``ContextVar.get()``; for the empty scope, a ``ContextVar.set()`` and
    ``reset()``: the least a context-local lookup and a context-local scope cost.
    """

    name = "floor"
    label = "hand-written floor"

    def cached(self):
        var: ContextVar[Session] = ContextVar("floor")

        @contextlib.contextmanager
        def opened():
            token = var.set(Session())
            try:
                yield var.get, None
            finally:
                var.reset(token)

        return opened()

    def empty(self):
        var: ContextVar[Any] = ContextVar("floor", default=None)
        set_, reset = var.set, var.reset

        def cycle() -> None:
            reset(set_(cycle))

        return cycle

    def cycle(self):
        def cycle() -> None:
            generator = session_gen()
            session = next(generator)
            try:
                next(generator)
            except StopIteration:
                pass
            _same(session, session, session)

        return cycle

    def many(self, count: int):
        """The generators driven by hand, newest closed first; the sessions kept in a list."""
        places = range(count)

        def cycle() -> None:
            generators = [session_gen() for _ in places]
            first = [next(generator) for generator in generators]
            again = list(first)
            for generator in reversed(generators):
                try:
                    next(generator)
                except StopIteration:
                    pass
            _distinct(first, again, count)

        return cycle

    def amany(self, count: int):
        places = range(count)

        async def cycle() -> None:
            generators = [asession_gen() for _ in places]
            first = [await generator.__anext__() for generator in generators]
            again = list(first)
            for generator in reversed(generators):
                try:
                    await generator.__anext__()
                except StopAsyncIteration:
                    pass
            _distinct(first, again, count)

        return cycle

    def _graph(self, shape: str):
        check = SHAPES[shape][1]

        def cycle() -> None:
            generator = session_gen()
            session = next(generator)
            built = hand_built(session, shape)
            try:
                next(generator)
            except StopIteration:
                pass
            check(built)

        return cycle

    def acycle(self):
        async def cycle() -> None:
            generator = asession_gen()
            session = await generator.__anext__()
            try:
                await generator.__anext__()
            except StopAsyncIteration:
                pass
            _same(session, session, session)

        return cycle

    def _agraph(self, shape: str):
        check = SHAPES[shape][1]

        async def cycle() -> None:
            generator = asession_gen()
            session = await generator.__anext__()
            built = hand_built(session, shape)
            try:
                await generator.__anext__()
            except StopAsyncIteration:
                pass
            check(built)

        return cycle

    def error_cycle(self):
        def cycle() -> None:
            generator = session_gen()
            session = next(generator)
            try:
                _same(session, session, session)
                raise Boom()
            except Boom as error:
                try:
                    generator.throw(error)
                except Boom:
                    pass
                raise

        return cycle

    def thread_cycle(self, executor):
        submit = executor.submit

        def cycle() -> None:
            generator = session_gen()
            session = next(generator)
            a, b = submit(copy_context().run, _resolve2, lambda: session).result()
            c = session
            try:
                next(generator)
            except StopIteration:
                pass
            _same(a, b, c)

        return cycle


class Object(Variant):
    """``providers.Object(x)()``: dependency-injector's cheapest provider call."""

    name = "object"
    label = "dependency-injector Object(x)()"

    def cached(self):
        from dependency_injector import providers

        return contextlib.nullcontext((providers.Object(Session()), None))

    def empty(self):
        from dependency_injector import providers

        obj = providers.Object(None)

        def cycle() -> None:
            obj()

        return cycle


class FastPath(GraphShapes):
    """The service graphs as ``di_scopes.fastapi.inject`` resolves an endpoint's
    ``Provide[Container.top]`` parameter: the same providers as the compiled twin's rows, built
    without dependency-injector's gather (the endpoint is called directly, without FastAPI)."""

    name = "c-fast"
    label = "di-scopes compiled twin, fast path (`di_scopes.fastapi.inject`)"

    def _endpoint(self, shape: str, asynchronous: bool):
        from dependency_injector import containers, wiring

        import di_scopes.fastapi

        m = importlib.import_module("di_scopes._scope_c")

        class Container(containers.DeclarativeContainer):
            session = m.ContextLocalResource(asession_gen if asynchronous else session_gen)
            top = di_graph(session, shape)

        if asynchronous:

            async def endpoint(top: Any = wiring.Provide[Container.top]) -> Any:
                return top

        else:

            def endpoint(top: Any = wiring.Provide[Container.top]) -> Any:  # type: ignore[misc]
                return top

        endpoint = di_scopes.fastapi.inject(endpoint)
        Container().wire(modules=[__name__])  # binds the markers of functions defined here
        return m.scope, endpoint, SHAPES[shape][1]

    def _graph(self, shape: str):
        scope, endpoint, check = self._endpoint(shape, False)

        def cycle() -> None:
            with scope():
                built = endpoint()
            check(built)

        return cycle

    def _agraph(self, shape: str):
        scope, endpoint, check = self._endpoint(shape, True)

        async def cycle() -> None:
            async with scope():
                built = await endpoint()
            check(built)

        return cycle


class DiFactoryFloor(Variant):
    """dependency-injector's own async ``Factory`` graph over a free session provider: the session
    is opened and torn down by hand, and a ``providers.Callable`` hands the Factories a done
    future of it, as any provider of an async resource must. What ``await container.service()``
    costs with dependency-injector's Factories whatever the session provider does."""

    name = "di-factory-floor"
    label = "dependency-injector async Factory graph over a done future"

    def agraph(self):
        import asyncio

        from dependency_injector import providers

        current: list = [None]
        session = providers.Callable(lambda: current[0])
        repo = providers.Factory(Repo, session)
        service = providers.Factory(Service, repo, session)

        async def cycle() -> None:
            generator = asession_gen()
            opened = await generator.__anext__()
            done = asyncio.get_running_loop().create_future()
            done.set_result(opened)
            current[0] = done
            svc = await service()
            try:
                await generator.__anext__()
            except StopAsyncIteration:
                pass
            _same_graph(svc)

        return cycle


# Registry ---------------------------------------------------------------------------------------

VARIANTS = (
    "c",
    "c-fast",
    "py",
    "di-contextlocal-singleton",
    "di-contextlocal-resource",
    "dishka",
    "dishka-fastapi",
    "wireup",
    "that-depends",
    "di-factory-floor",
    "floor",
    "object",
)

_PEERS: dict[str, Callable[[], Variant]] = {
    "di-contextlocal-singleton": DiContextLocalSingleton,
    "di-contextlocal-resource": DiContextLocalResource,
    "dishka": Dishka,
    "dishka-fastapi": DishkaFastAPI,
    "wireup": Wireup,
    "that-depends": ThatDepends,
    "c-fast": FastPath,
    "di-factory-floor": DiFactoryFloor,
    "floor": Floor,
    "object": Object,
}


def make(name: str) -> Variant:
    """The variant called ``name``; ``label:module`` is a twin imported from ``module`` (for
    comparing builds of the compiled twin, e.g. ``c-abi3:di_scopes._scope_cabi3``)."""
    if ":" in name:
        label, module = name.split(":", 1)
        return Twin(label, importlib.import_module(module))
    if name in ("c", "py"):
        # Imported directly: a missing compiled twin is an error here, never a silent fallback.
        return Twin(name, importlib.import_module(f"di_scopes._scope_{name}"))
    if name == "c-unindexed":
        # The compiled twin with its scopes' entry index turned off, for callgrind's processes
        # only (it changes the module for the whole process): what the index saves.
        module = importlib.import_module("di_scopes._scope_c")
        module._set_index_from(sys.maxsize)
        return Twin(name, module)
    return _PEERS[name]()


def variant_class(name: str) -> type:
    return Twin if name in ("c", "py", "c-unindexed") or ":" in name else _PEERS[name]


def supports(name: str, method: str) -> bool:
    return callable(getattr(variant_class(name), method, None))
