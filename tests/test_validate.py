"""di_scopes.validate(): captive dependencies and scope names nothing opens, on both twins."""

import time

import pytest
from dependency_injector import containers, providers
from dependency_injector.wiring import Provide

import di_scopes
from di_scopes import ScopeError, validate
from di_scopes._shared import forget_opened_scope_names


@pytest.fixture(autouse=True)
def fresh_scope_names():
    """validate() knows the scope names opened so far in the process: each test starts afresh,
    so that no test passes on a name another one opened."""
    forget_opened_scope_names()
    yield
    forget_opened_scope_names()


class Repository:
    def __init__(self, session, **extra):
        self.session = session


def session_resource():
    yield object()


def test_a_clean_container_passes(impl):
    class Container(containers.DeclarativeContainer):
        session = impl.ContextLocalResource(session_resource)
        repository = providers.Factory(Repository, session=session)
        per_scope = impl.ContextLocalSingleton(Repository, session=session)
        settings = providers.Singleton(dict, debug=True)
        lazy = providers.Singleton(Repository, session=session.provider)  # a Delegate: resolved per call

    validate(Container)
    validate(Container())


def test_singleton_on_a_scoped_provider_directly(impl):
    class Container(containers.DeclarativeContainer):
        session = impl.ContextLocalResource(session_resource)
        cached = providers.Singleton(Repository, session=session)

    with pytest.raises(ScopeError) as raised:
        validate(Container())
    message = str(raised.value)
    assert "found 1 problem:" in message
    assert "Singleton `cached` (Singleton(Repository)) depends on ContextLocalResource `session`" in message
    assert "(path: cached -> session)" in message
    assert "Make cached a providers.Factory" in message


def test_captive_through_factory_callable_and_provided(impl):
    class Container(containers.DeclarativeContainer):
        session = impl.ContextLocalResource(session_resource)
        request = impl.ScopeValue(di_scopes.REQUEST)
        repository = providers.Factory(Repository, session=session)
        through_factory = providers.ThreadSafeSingleton(Repository, session=repository)
        through_provided = providers.Singleton(Repository, session=repository.provided.session)
        through_callable = providers.Resource(Repository, session=providers.Callable(Repository, request))

    with pytest.raises(ScopeError) as raised:
        validate(Container)
    message = str(raised.value)
    assert "found 3 problems:" in message
    assert "(path: through_factory -> repository -> session)" in message
    assert "ThreadSafeSingleton `through_factory`" in message
    assert "(path: through_provided -> " in message and " -> repository -> session)" in message
    assert "Resource `through_callable`" in message
    assert "depends on ScopeValue `request`" in message
    assert "(path: through_callable -> Callable(Repository) -> request)" in message


def test_anonymous_and_nested_container_providers(impl):
    class Data(containers.DeclarativeContainer):
        session = impl.ContextLocalResource(session_resource)

    class Container(containers.DeclarativeContainer):
        data = providers.Container(Data)
        service = providers.Factory(Repository, session=providers.Singleton(Repository, session=data.session))

    with pytest.raises(ScopeError, match=r"Singleton\(Repository\) depends on ContextLocalResource `data.session`"):
        validate(Container())


def test_unknown_scope_name(impl):
    class Container(containers.DeclarativeContainer):
        per_connection = impl.ContextLocalResource(session_resource).in_scope("validate-typo")
        per_job = impl.ContextLocalResource(session_resource).in_scope("validate-job")
        per_block = impl.ContextLocalResource(session_resource).in_scope("validate-block")

    @impl.scope("validate-job")  # a decorated function opens it
    def job():
        pass

    with pytest.raises(ScopeError) as raised:
        validate(Container, scopes=["validate-block"])
    message = str(raised.value)
    assert "found 1 problem" in message
    assert (
        "`per_connection` (ContextLocalResource(session_resource)) is bound with .in_scope('validate-typo')" in message
    )
    assert "pass scopes=['validate-typo'] to validate()" in message
    validate(Container, scopes=["validate-block", "validate-typo"])


def test_fast_enough_for_startup(impl):
    attributes = {"session": impl.ContextLocalResource(session_resource)}
    for index in range(100):
        attributes[f"repository{index}"] = providers.Factory(Repository, session=attributes["session"])
        attributes[f"service{index}"] = providers.Factory(Repository, session=attributes[f"repository{index}"])
        attributes[f"settings{index}"] = providers.Singleton(dict, index=index)
    Container = type("Container", (containers.DeclarativeContainer,), attributes)
    container = Container()
    started = time.perf_counter()
    validate(container)
    assert time.perf_counter() - started < 0.5  # some 20 ms here for 300 providers; generous for a loaded machine


def test_names_the_integrations_open_are_known(impl):
    from di_scopes import fastapi as di_fastapi
    from di_scopes import wsgi

    class Container(containers.DeclarativeContainer):
        per_endpoint = impl.ContextLocalResource(session_resource).in_scope("endpoint")
        per_request = impl.ContextLocalResource(session_resource).in_scope("validate-wsgi")

    wsgi.ScopeMiddleware(lambda environ, start_response: [], name="validate-wsgi")

    @di_fastapi.inject
    async def endpoint(session=Provide[Container.per_endpoint]):
        pass

    validate(Container)
