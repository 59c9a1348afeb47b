"""Every behavioural test runs against both twins, each imported directly.

The ``impl`` fixture hands a test the module of one twin. The compiled half imports
``di_scopes._scope_c`` itself: if the extension was not built, those tests error instead of
quietly testing the pure twin twice. ``--no-c-extensions`` deselects the compiled half.
"""

from __future__ import annotations

import importlib
import os

import pytest

TWINS = ("c", "py")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-c-extensions",
        action="store_true",
        default=False,
        help="test only the pure-Python twin (for installs without the compiled extension)",
    )


def c_extensions_expected(config: pytest.Config) -> bool:
    return not config.getoption("--no-c-extensions") and os.environ.get("DI_SCOPES_NO_EXTENSIONS", "") in ("", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    if c_extensions_expected(config):
        return
    selected, deselected = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("impl") == "c":
            deselected.append(item)
        else:
            selected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture(scope="session", params=TWINS)
def impl(request: pytest.FixtureRequest):
    """The module of one twin: ``di_scopes._scope_c`` or ``di_scopes._scope_py``."""
    return importlib.import_module(f"di_scopes._scope_{request.param}")


@pytest.fixture
def twin(impl, monkeypatch):
    """``impl``, also made the twin that the integrations (asgi, wsgi, fastapi) build on."""
    from di_scopes import _select

    monkeypatch.setattr(_select, "_active", impl)
    return impl


@pytest.fixture(scope="session")
def postgres_server_url():
    """A throwaway PostgreSQL server for the whole run (see servers.postgres_server)."""
    import servers

    bindir = servers.postgres_binaries()
    if bindir is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
        if os.environ.get("DI_SCOPES_REQUIRE_POSTGRES", "") not in ("", "0"):
            pytest.fail(message)
        pytest.skip(message + "; .ci/run installs them")
    with servers.postgres_server(bindir) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url():
    """A throwaway Redis server for the whole run (see servers.redis_server)."""
    import shutil

    import servers

    if shutil.which("redis-server") is None:
        message = "the Redis server (redis-server) is not installed"
        if os.environ.get("DI_SCOPES_REQUIRE_REDIS", "") not in ("", "0"):
            pytest.fail(message)
        pytest.skip(message + "; .ci/run installs it")
    with servers.redis_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server_url, request):
    """The URL of a fresh, empty database on the throwaway server."""
    import re
    import uuid

    import psycopg

    name = "t_" + re.sub(r"\W", "_", request.node.name.lower())[:40] + "_" + uuid.uuid4().hex[:6]
    host = postgres_server_url.split("host=", 1)[1]
    with psycopg.connect(host=host, user="postgres", dbname="postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return postgres_server_url.replace("/postgres?", f"/{name}?")


@pytest.fixture
def twin_name(impl):
    """``"c"`` or ``"py"``: the twin a child process should use."""
    return impl.__name__.rsplit("_", 1)[1]
