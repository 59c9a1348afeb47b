"""The providers inside dependency-injector: containers, copying, overriding, injection, wiring."""

from __future__ import annotations

import asyncio
import copy
import sys

import pytest
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide, inject

from di_scopes import ScopeError


class Session:
    def __init__(self, url="sqlite://"):
        self.url = url
        self.state = "open"


class Repository:
    def __init__(self, session):
        self.session = session


class Service:
    def __init__(self, repository, session):
        self.repository = repository
        self.session = session


def session_resource(url):
    session = Session(url)
    try:
        yield session
        session.state = "committed"
    except Exception:
        session.state = "rolled back"
        raise


def make_container(impl):
    class Container(containers.DeclarativeContainer):
        url = providers.Object("sqlite://memory")
        session = impl.ContextLocalResource(session_resource, url)
        repository = providers.Factory(Repository, session=session)
        service = providers.Factory(Service, repository, session=session)
        per_scope = impl.ContextLocalSingleton(Repository, session)

    return Container


def test_both_providers_are_dependency_injector_providers(impl):
    assert isinstance(impl.ContextLocalResource(session_resource), providers.Provider)
    assert isinstance(impl.ContextLocalSingleton(Session), providers.Provider)
    assert providers.is_provider(impl.ContextLocalSingleton(Session))


def test_declarative_container_shares_the_session_across_the_graph(impl):
    container = make_container(impl)()
    with impl.scope():
        service = container.service()
        assert service.session is service.repository.session is container.session()
        assert container.per_scope() is container.per_scope()
        assert container.per_scope().session is service.session
        assert service.session.url == "sqlite://memory"
    assert service.session.state == "committed"


def test_container_instances_do_not_share_providers(impl):
    Container = make_container(impl)
    one, two = Container(), Container()
    assert one.session is not two.session
    assert type(one.session) is impl.ContextLocalResource
    with impl.scope():
        assert one.session() is not two.session()
        assert one.service().session is one.session()


def test_dynamic_container(impl):
    container = containers.DynamicContainer()
    container.session = impl.ContextLocalResource(session_resource, "dyn://")
    container.repository = providers.Factory(Repository, container.session)
    with impl.scope():
        assert container.repository().session is container.session()


def test_deepcopy_keeps_injections_binding_and_overrides(impl):
    url = providers.Object("a://")
    session = impl.ContextLocalResource(session_resource, url).in_scope("job")
    session.override(providers.Object("overridden"))
    copied, copied_url = copy.deepcopy([session, url])
    assert copied is not session
    assert copied.args[0] is copied_url
    assert copied.scope_name == "job"
    assert copied.overridden and copied() == "overridden"


def test_override_as_context_manager_and_reset(impl):
    container = make_container(impl)()
    fake = Session("fake://")
    with container.session.override(providers.Object(fake)):
        assert container.service().session is fake  # no scope needed: the override answers
    with impl.scope():
        assert container.session() is not fake
    with pytest.raises(ScopeError):
        container.session()


def test_container_override_providers(impl):
    container = make_container(impl)()
    fake = Session("fake://")
    with container.override_providers(session=providers.Object(fake)):
        assert container.repository().session is fake


def test_overriding_with_another_scoped_provider(impl):
    container = make_container(impl)()
    container.session.override(impl.ContextLocalSingleton(Session, "other://"))
    with impl.scope():
        assert container.session().url == "other://"
        assert container.session() is container.repository().session


def test_provided_attribute_access(impl):
    class Container(containers.DeclarativeContainer):
        session = impl.ContextLocalResource(session_resource, "p://")
        url = session.provided.url

    container = Container()
    with impl.scope():
        assert container.url() == "p://"


def test_traverse_and_related(impl):
    container = make_container(impl)()
    related = list(container.session.related)
    assert container.url in related
    found = list(container.service.traverse())
    assert container.session in found and container.url in found
    assert container.per_scope in list(container.traverse(types=[impl.ContextLocalSingleton]))


def test_argument_injection_api(impl):
    provider = impl.ContextLocalResource(session_resource)
    assert provider.add_args("x://") is provider
    assert provider.args == ("x://",)
    provider.set_args().add_kwargs(url="k://")
    assert provider.kwargs == {"url": "k://"}
    with impl.scope():
        assert provider().url == "k://"
    provider.clear_kwargs().set_kwargs(url="y://")
    provider.set_provides(session_resource)
    assert provider.provides is session_resource
    singleton = impl.ContextLocalSingleton(Session).add_attributes(state="set")
    assert singleton.attributes == {"state": "set"}
    with impl.scope():
        assert singleton().state == "set"


def test_repr_names_what_it_provides(impl):
    assert "session_resource" in repr(impl.ContextLocalResource(session_resource))
    assert "ContextLocalSingleton" in str(impl.ContextLocalSingleton(Session))


def test_wiring_with_inject_and_provide(impl):
    Container = make_container(impl)
    container = Container()
    module = sys.modules[__name__]
    container.wire(modules=[module])
    try:
        with impl.scope():
            service, session = wired_endpoint()
            assert service.session is session
            assert service.repository.session is session
    finally:
        container.unwire()


@inject
def wired_endpoint(
    service: Service = Provide["service"],
    session: Session = Provide["session"],
):
    return service, session


class TestAsyncMode:
    def test_async_resource_injected_into_factories(self, impl):
        async def async_session():
            yield Session("async://")

        class Container(containers.DeclarativeContainer):
            session = impl.ContextLocalResource(async_session)
            repository = providers.Factory(Repository, session=session)
            service = providers.Factory(Service, repository, session=session)

        container = Container()

        async def main():
            async with impl.scope():
                service = await container.service()
                assert service.session is service.repository.session
                assert service.session is await container.session()
                assert container.session.is_async_mode_enabled()

        asyncio.run(main())

    def test_sync_resource_with_async_injection(self, impl):
        async def make_url():
            await asyncio.sleep(0)
            return "from-async://"

        class Container(containers.DeclarativeContainer):
            url = providers.Coroutine(make_url)
            session = impl.ContextLocalResource(session_resource, url)
            singleton = impl.ContextLocalSingleton(Session, url)

        container = Container()

        async def main():
            async with impl.scope():
                results = await asyncio.gather(*(container.session() for _ in range(5)))
                assert all(r is results[0] for r in results)
                assert results[0].url == "from-async://"
                assert (await container.singleton()).url == "from-async://"
            assert results[0].state == "committed"

        asyncio.run(main())

    def test_sync_provider_is_not_in_async_mode(self, impl):
        container = make_container(impl)()
        with impl.scope():
            container.session()
        assert container.session.is_async_mode_disabled()


class TestResourceApi:
    def test_init_shutdown_initialized(self, impl):
        log = []

        def resource():
            log.append("open")
            yield len(log)
            log.append("close")

        provider = impl.ContextLocalResource(resource)
        assert not provider.initialized
        assert provider.shutdown() is None  # nothing to shut down, no scope: fine
        with impl.scope():
            assert not provider.initialized
            first = provider.init()
            assert provider.initialized
            provider.shutdown()
            assert log == ["open", "close"]
            assert not provider.initialized
            assert provider() != first
        assert log == ["open", "close", "open", "close"]

    def test_shutdown_raises_the_teardown_error(self, impl):
        def resource():
            yield 1
            raise OSError("close failed")

        provider = impl.ContextLocalResource(resource)
        with impl.scope():
            provider()
            with pytest.raises(OSError, match="close failed"):
                provider.shutdown()

    def test_async_shutdown_is_awaitable(self, impl):
        log = []

        async def resource():
            yield 1
            log.append("closed")

        provider = impl.ContextLocalResource(resource)

        async def main():
            async with impl.scope():
                await provider.init()
                await provider.shutdown()
                assert log == ["closed"]
                await provider.shutdown()  # async mode: still awaitable when there is nothing

        asyncio.run(main())

    def test_plain_callable_and_context_manager(self, impl):
        class Handle:
            closed = False

            def __enter__(self):
                return self

            def __exit__(self, *exc_info):
                self.closed = True

        plain = impl.ContextLocalResource(dict, a=1)
        managed = impl.ContextLocalResource(Handle)
        with impl.scope():
            assert plain() == {"a": 1}
            handle = managed()
        assert handle.closed

    def test_singleton_reset(self, impl):
        provider = impl.ContextLocalSingleton(Session)
        with impl.scope():
            first = provider()
            context = provider.reset()
            second = provider()
            assert second is not first
            with context:
                pass
            assert provider() is not second
            provider.full_reset()
        assert provider.reset() is not None  # no scope: nothing to drop


def test_a_subclass_that_overrides_provide_is_called_on_every_resolve(impl):
    calls = []

    class Counted(impl.ContextLocalSingleton):
        def _provide(self, args, kwargs):
            calls.append(args)
            return super()._provide(args, kwargs)

    class Tagged(impl.ContextLocalResource):
        def _provide(self, args, kwargs):
            return ("tagged", super()._provide(args, kwargs))

    def session():
        yield "session"

    counted = Counted(dict)
    tagged = Tagged(session)
    with impl.scope():
        first = counted()
        assert counted() is first
        assert counted(1) is first
        assert tagged() == ("tagged", "session")
    assert calls == [(), (), (1,)]
    plain = impl.ContextLocalSingleton(dict)
    with impl.scope():
        assert plain() is plain()


def test_an_argument_a_container_cannot_copy_is_named_with_the_provider(impl):
    """The seed issue's ContextLocalResource(transaction, SessionLocal), with a module-level
    sessionmaker bound to an engine: the error names the scoped provider and what to pass."""
    from dependency_injector import errors
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from di_scopes.sqlalchemy import transaction

    engine = create_engine("sqlite://")
    SessionLocal = sessionmaker(bind=engine)

    class Container(containers.DeclarativeContainer):
        session = impl.ContextLocalResource(transaction, SessionLocal)
        keyed = impl.ContextLocalResource(transaction, session_factory=SessionLocal)

    with pytest.raises(errors.NonCopyableArgumentError) as raised:
        Container()
    message = str(raised.value)
    assert message.startswith("ContextLocalResource(transaction) was given an object that cannot be copied")
    assert "providers.Singleton(sessionmaker, bind=engine)" in message
    assert "Callable" not in message

    class Fixed(containers.DeclarativeContainer):
        engine_ = providers.Object(engine)
        session_factory = providers.Singleton(sessionmaker, bind=engine_)
        session = impl.ContextLocalResource(transaction, session_factory)

    container = Fixed()
    with impl.scope():
        assert container.session().bind is engine
    engine.dispose()
