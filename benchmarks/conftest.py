"""Fixtures for the micro-benchmarks: the variant under test, a worker thread, an event loop.

The ``variant`` fixture is parametrized indirectly by the benchmarks, so each row is named by its
variant: ``[c]`` and ``[py]`` (the two twins, each imported directly: a missing compiled twin is
an error, not a silent fallback), the peers, ``[floor]`` and ``[object]``.
"""

from __future__ import annotations

import asyncio
import platform
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version

import pytest

from ._variants import make

PACKAGES = (
    "di-scopes",
    "dependency-injector",
    "dishka",
    "wireup",
    "that-depends",
    "Cython",
    "pytest-benchmark",
)


@pytest.fixture
def variant(request: pytest.FixtureRequest):
    return make(request.param)


@pytest.fixture(scope="session")
def executor():
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


@pytest.fixture(scope="session")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    machine_info["packages"] = packages
    machine_info["platform"] = platform.platform()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
        machine_info["cpu_model"] = models[0] if models else None
        machine_info["cpu_count"] = len(models)
    except OSError:
        pass
