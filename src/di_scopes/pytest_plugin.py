"""A pytest plugin: run a test in a fresh scope, torn down with the test's outcome.

Installed with di-scopes and registered through the ``pytest11`` entry point; nothing happens
until a test asks for it, with a fixture or a marker::

    def test_transfer(di_scope):                 # a fresh "request" scope around the test
        ...

    @pytest.mark.di_scope("job", values={di_scopes.REQUEST: fake_request})
    def test_job():                              # the marker alone opens the scope
        ...

    @pytest.mark.anyio                           # or @pytest.mark.asyncio (pytest-asyncio)
    async def test_async(adi_scope):             # async tests
        ...

When the test fails, its exception is thrown into the scope's resources (a session rolls back);
when it passes, they end as on success. A marker sets the scope's name and values for the
fixtures as well. Providers are overridden the dependency-injector way, inside the test or in a
fixture: ``with container.session.override(di_scopes.ContextLocalResource(fake_session)):``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ._integration_core import aend_scope, end_scope, integration_scope
from ._shared import DEFAULT_SCOPE_NAME

_OUTCOME = pytest.StashKey[BaseException | None]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "di_scope(name='request', values=None): run the test in a fresh di_scopes scope called "
        "name, holding values (a dict for ScopeValue providers); it ends with the test's outcome.",
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    if call.when == "call":
        item.stash[_OUTCOME] = None if call.excinfo is None else call.excinfo.value
    yield


def _settings(request: pytest.FixtureRequest) -> tuple[str, dict[Any, Any]]:
    marker = request.node.get_closest_marker("di_scope")
    if marker is None:
        return DEFAULT_SCOPE_NAME, {}
    name = marker.kwargs.get("name", marker.args[0] if marker.args else DEFAULT_SCOPE_NAME)
    return name, dict(marker.kwargs.get("values") or {})


def _outcome(request: pytest.FixtureRequest) -> BaseException | None:
    outcome: BaseException | None = request.node.stash.get(_OUTCOME, None)
    return outcome


@pytest.fixture
def di_scope(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh scope around the test (synchronous teardown); yields the entered ``Scope``."""
    name, values = _settings(request)
    name, make_scope = integration_scope(name)
    entered = make_scope(name)
    for key, value in values.items():
        entered.set_value(key, value)
    entered.__enter__()
    yield entered
    end_scope(entered, _outcome(request))


async def _scope_for_async_test(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    name, values = _settings(request)
    name, make_scope = integration_scope(name)
    entered = make_scope(name)
    for key, value in values.items():
        entered.set_value(key, value)
    await entered.__aenter__()
    yield entered
    await aend_scope(entered, _outcome(request))


@pytest.fixture
def adi_scope(request: pytest.FixtureRequest) -> Any:
    """A fresh scope around an async test, torn down on its event loop; gives the ``Scope``.

    Works with anyio's pytest plugin (``@pytest.mark.anyio``) and with pytest-asyncio, in its
    strict mode (``@pytest.mark.asyncio``) and in its auto mode: the scope is entered in the
    context that the plugin running the test shares between its fixtures and the test, so async
    fixtures that ask for ``adi_scope`` resolve in it too. Only an anyio test under pytest-asyncio's
    auto mode (which takes every async fixture to its own loop) gets a scope entered around the
    test function alone."""
    anyio_test = "anyio_backend" in request.fixturenames
    if anyio_test and not _asyncio_auto_mode(request.config):
        return request.getfixturevalue("_adi_scope_anyio")
    if not anyio_test and _PYTEST_ASYNCIO:
        return request.getfixturevalue("_adi_scope_asyncio")
    return _scope_around_the_test(request)


@pytest.fixture
async def _adi_scope_anyio(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """``adi_scope`` for anyio's plugin, which runs async fixtures and the test in one task."""
    async for entered in _scope_for_async_test(request):
        yield entered


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - pytest-asyncio is in the test extra
    _PYTEST_ASYNCIO = False
else:
    _PYTEST_ASYNCIO = True

    @pytest_asyncio.fixture
    async def _adi_scope_asyncio(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
        """``adi_scope`` for pytest-asyncio, which runs it and the test in one context."""
        async for entered in _scope_for_async_test(request):
            yield entered


def _asyncio_auto_mode(config: pytest.Config) -> bool:
    """Whether pytest-asyncio runs in auto mode (and so takes every async fixture)."""
    if not _PYTEST_ASYNCIO:
        return False
    mode = config.getoption("asyncio_mode", default=None)
    if mode is None:
        try:
            mode = config.getini("asyncio_mode")
        except ValueError:
            return False
    return str(mode) == "auto"


def _scope_around_the_test(request: pytest.FixtureRequest) -> Any:
    """Enter a fresh scope around the async test function itself, in its task and on its loop,
    whichever plugin runs it; gives the ``Scope`` (entered once the test starts)."""
    name, values = _settings(request)
    name, make_scope = integration_scope(name)
    scope = make_scope(name)
    for key, value in values.items():
        scope.set_value(key, value)
    item: Any = request.node
    test = item.obj

    @functools.wraps(test)
    async def in_scope(*args: Any, **kwargs: Any) -> Any:
        await scope.__aenter__()
        try:
            result = await test(*args, **kwargs)
        except BaseException as error:
            await aend_scope(scope, error)
            raise
        await aend_scope(scope, None)
        return result

    item.obj = in_scope
    request.addfinalizer(lambda: setattr(item, "obj", test))
    return scope


@pytest.fixture(autouse=True)
def _di_scope_marker(request: pytest.FixtureRequest) -> None:
    """Open the scope for a test marked ``di_scope`` that does not ask for a fixture itself."""
    if request.node.get_closest_marker("di_scope") is None:
        return
    names = request.fixturenames
    if "di_scope" in names or "adi_scope" in names:
        return
    function = getattr(request.node, "function", None)
    if function is not None and inspect.iscoroutinefunction(function):
        request.getfixturevalue("adi_scope")
    else:
        request.getfixturevalue("di_scope")
