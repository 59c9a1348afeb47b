"""The pytest plugin, run by pytest itself (pytester, in-process) on both twins."""

import textwrap

import pytest

pytest_plugins = ["pytester"]

HEADER = """
import asyncio
import pytest
from dependency_injector import containers, providers
import di_scopes
from di_scopes._scope_{twin} import ContextLocalResource, ScopeValue, current_scope

EVENTS = []

def session_resource():
    EVENTS.append("open")
    try:
        yield "real session"
        EVENTS.append("commit")
    except BaseException as error:
        EVENTS.append("rollback " + type(error).__name__)
        raise

async def async_resource():
    try:
        yield "async"
        EVENTS.append("async commit")
    except BaseException as error:
        EVENTS.append("async rollback " + type(error).__name__)
        raise

class Container(containers.DeclarativeContainer):
    session = ContextLocalResource(session_resource)
    async_session = ContextLocalResource(async_resource)
    request = ScopeValue(di_scopes.REQUEST)

container = Container()
"""


def run(pytester, twin_name, body, *args):
    pytester.makepyfile(test_user=HEADER.format(twin=twin_name) + textwrap.dedent(body))
    # pytest-asyncio (installed with the test extra) asks for its loop scope to be set.
    return pytester.runpytest_inprocess(
        "-q", "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function", *args
    )


def test_fixture_commits_on_pass_and_rolls_back_on_failure(pytester, twin, twin_name):
    result = run(
        pytester,
        twin_name,
        """
        def test_passes(di_scope):
            assert current_scope() is di_scope and di_scope.name == "request"
            assert container.session() == "real session"

        def test_fails(di_scope):
            container.session()
            assert False, "the test failed"

        def test_outside_scope_is_an_error():
            with pytest.raises(di_scopes.ScopeError):
                container.session()

        def test_last():
            assert EVENTS == ["open", "commit", "open", "rollback AssertionError"]
    """,
    )
    result.assert_outcomes(passed=3, failed=1)


def test_marker_name_values_and_an_override(pytester, twin, twin_name):
    result = run(
        pytester,
        twin_name,
        """
        def fake_session():
            EVENTS.append("fake open")
            yield "fake session"
            EVENTS.append("fake commit")

        @pytest.fixture
        def fake():
            with container.session.override(ContextLocalResource(fake_session)):
                yield

        @pytest.mark.di_scope("job", values={di_scopes.REQUEST: {"user": "ada"}})
        def test_marked(fake):
            assert current_scope().name == "job"
            assert container.session() == "fake session"  # the override lives in the scope
            assert container.request() == {"user": "ada"}

        def test_last():
            assert EVENTS == ["fake open", "fake commit"]
            assert current_scope() is None
    """,
    )
    result.assert_outcomes(passed=2)


def test_async_tests(pytester, twin, twin_name):
    result = run(
        pytester,
        twin_name,
        """
        @pytest.fixture
        def anyio_backend():  # async resources need asyncio; anyio's plugin also runs trio if installed
            return "asyncio"

        @pytest.mark.anyio
        async def test_fixture(adi_scope):
            assert await container.async_session() == "async"
            assert container.session() == "real session"

        @pytest.mark.anyio
        @pytest.mark.di_scope
        async def test_marked():
            assert current_scope() is not None
            assert await container.async_session() == "async"
            raise LookupError("failed")

        def test_last():
            assert EVENTS == ["open", "commit", "async commit", "async rollback LookupError"]
    """,
        "-p",
        "anyio",
    )
    result.assert_outcomes(passed=2, failed=1)


ASYNC_BODY = """
    import pytest_asyncio

    @pytest.fixture
    def anyio_backend():
        return "asyncio"

    {fixture_decorator}
    async def seeded(adi_scope):  # an async fixture that resolves in the test's scope
        assert current_scope() is adi_scope
        return await container.async_session()

    {marker}
    async def test_fixture(adi_scope, seeded):
        assert current_scope() is adi_scope and seeded == "async"
        assert await container.async_session() == "async"

    {marker}
    @pytest.mark.di_scope("job")
    async def test_marked_fails():
        assert current_scope().name == "job"
        assert await container.async_session() == "async"
        raise LookupError("failed")

    @pytest.mark.anyio
    async def test_anyio_beside(adi_scope):
        assert current_scope() is adi_scope
        assert await container.async_session() == "async"

    def test_last():
        assert EVENTS == ["async commit", "async rollback LookupError", "async commit"]
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_async_tests_under_pytest_asyncio(pytester, twin, twin_name, mode):
    """pytest-asyncio's strict mode (tests and fixtures marked for it) and auto mode (every async
    test and fixture its own), with an anyio test in the same run."""
    pytest.importorskip("pytest_asyncio")
    body = ASYNC_BODY.format(
        fixture_decorator="@pytest_asyncio.fixture" if mode == "strict" else "@pytest.fixture",
        marker="@pytest.mark.asyncio" if mode == "strict" else "",
    )
    result = run(
        pytester,
        twin_name,
        body,
        "-p",
        "anyio",
        "-o",
        f"asyncio_mode={mode}",
    )
    result.assert_outcomes(passed=3, failed=1)
