"""Micro-benchmarks: one test per scenario, one row per variant.

Run with ``pytest benchmarks/ --benchmark-json=results.json`` (or ``--benchmark-autosave``), then
``python -m benchmarks.report``. Each timed call runs an inner loop of cycles (``per`` in the
row's extra info), so the report divides by it to give the time per cycle (or per resolve).
After each loop the session ledger is checked: exactly one session opened per cycle, closed, and
committed (rolled back on the error path, where the variant can).
"""

from __future__ import annotations

import pytest

from ._harness import RESOURCE_COUNTS, SCENARIOS, build
from ._variants import VARIANTS, supports


def variants_for(scenario: str):
    method = SCENARIOS[scenario][0]
    return pytest.mark.parametrize(
        "variant",
        [pytest.param(name, id=name) for name in VARIANTS if supports(name, method)],
        indirect=True,
    )


def run_benchmark(benchmark, variant, scenario: str, **resources) -> None:
    """Check one untimed call, then time it. A variant listed as unable to run the scenario
    correctly must fail the check, and is skipped with its reason."""
    _, title, _, cycles = SCENARIOS[scenario]
    with build(scenario, variant, cycles, **resources) as run:
        reason = variant.cannot.get(scenario)
        if reason is not None:
            try:
                run()
            except AssertionError as error:
                pytest.skip(f"{variant.name} cannot run this scenario: {reason} (seen: {error})")
            pytest.fail(f"{variant.name} now runs {scenario} correctly: drop it from its `cannot` list")
        run()
        benchmark.group = title
        benchmark.extra_info.update(scenario=scenario, variant=variant.name, label=variant.label, per=cycles)
        benchmark(run)


@variants_for("cached_resolve")
def test_cached_resolve(benchmark, variant):
    run_benchmark(benchmark, variant, "cached_resolve")


@variants_for("empty_scope")
def test_empty_scope(benchmark, variant):
    run_benchmark(benchmark, variant, "empty_scope")


@variants_for("request_cycle")
def test_request_cycle(benchmark, variant):
    run_benchmark(benchmark, variant, "request_cycle")


@variants_for("service_graph")
def test_service_graph(benchmark, variant):
    run_benchmark(benchmark, variant, "service_graph")


@variants_for("nested_graph")
def test_nested_graph(benchmark, variant):
    run_benchmark(benchmark, variant, "nested_graph")


@variants_for("chain")
def test_chain(benchmark, variant):
    run_benchmark(benchmark, variant, "chain")


@pytest.mark.parametrize("depth", [1, 10])
@variants_for("chain_1")
def test_chain_depth(benchmark, variant, depth):
    run_benchmark(benchmark, variant, f"chain_{depth}")


@variants_for("async_request_cycle")
def test_async_request_cycle(benchmark, variant, loop):
    run_benchmark(benchmark, variant, "async_request_cycle", loop=loop)


@variants_for("async_service_graph")
def test_async_service_graph(benchmark, variant, loop):
    run_benchmark(benchmark, variant, "async_service_graph", loop=loop)


@variants_for("async_nested_graph")
def test_async_nested_graph(benchmark, variant, loop):
    run_benchmark(benchmark, variant, "async_nested_graph", loop=loop)


@variants_for("async_chain")
def test_async_chain(benchmark, variant, loop):
    run_benchmark(benchmark, variant, "async_chain", loop=loop)


@pytest.mark.parametrize("depth", [1, 10])
@variants_for("async_chain_1")
def test_async_chain_depth(benchmark, variant, loop, depth):
    run_benchmark(benchmark, variant, f"async_chain_{depth}", loop=loop)


@variants_for("error_path")
def test_error_path(benchmark, variant):
    run_benchmark(benchmark, variant, "error_path")


@variants_for("threads")
def test_threads(benchmark, variant, executor):
    run_benchmark(benchmark, variant, "threads", executor=executor)


@pytest.mark.parametrize("count", RESOURCE_COUNTS)
@variants_for("resources_1")
def test_resources(benchmark, variant, count):
    run_benchmark(benchmark, variant, f"resources_{count}")


@pytest.mark.parametrize("count", RESOURCE_COUNTS)
@variants_for("async_resources_1")
def test_async_resources(benchmark, variant, loop, count):
    run_benchmark(benchmark, variant, f"async_resources_{count}", loop=loop)
