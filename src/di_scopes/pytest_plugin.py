"""A pytest plugin: run a test in a fresh scope, torn down with the test's outcome.

Installed with di-scopes and registered through the ``pytest11`` entry point; nothing happens
until a test asks for it, with a fixture or a marker:

    def test_transfer(di_scope):                 # a fresh "request" scope around the test
        ...

    @pytest.mark.di_scope("job", values={di_scopes.REQUEST: fake_request})
    def test_job():                              # the marker alone opens the scope
        ...

    @pytest.mark.anyio
    async def test_async(adi_scope):             # async tests, run by anyio's pytest plugin
        ...

When the test fails, its exception is thrown into the scope's resources (a session rolls back);
when it passes, they end as on success. A marker sets the scope's name and values for the
fixtures as well. Providers are overridden the dependency-injector way, inside the test or in a
fixture: ``with container.session.override(di_scopes.ContextLocalResource(fake_session)):``.
"""

from __future__ import annotations

import inspect
from typing import Any, AsyncIterator, Dict, Iterator, Optional, Tuple

import pytest

from ._common import DEFAULT_SCOPE_NAME, aend_scope, end_scope, integration_scope

_OUTCOME = pytest.StashKey[Optional[BaseException]]()


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


def _settings(request: pytest.FixtureRequest) -> Tuple[str, Dict[Any, Any]]:
    marker = request.node.get_closest_marker("di_scope")
    if marker is None:
        return DEFAULT_SCOPE_NAME, {}
    name = marker.kwargs.get("name", marker.args[0] if marker.args else DEFAULT_SCOPE_NAME)
    return name, dict(marker.kwargs.get("values") or {})


def _outcome(request: pytest.FixtureRequest) -> Optional[BaseException]:
    outcome: Optional[BaseException] = request.node.stash.get(_OUTCOME, None)
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


@pytest.fixture
async def adi_scope(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A fresh scope around an async test, torn down on its event loop; yields the ``Scope``.
    Needs anyio's pytest plugin (``@pytest.mark.anyio``), which runs async fixtures and the test
    in one task, so the test sees the scope."""
    name, values = _settings(request)
    name, make_scope = integration_scope(name)
    entered = make_scope(name)
    for key, value in values.items():
        entered.set_value(key, value)
    await entered.__aenter__()
    yield entered
    await aend_scope(entered, _outcome(request))


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
