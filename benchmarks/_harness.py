"""The loops the benchmarks time, shared by ``test_micro`` and ``callgrind``.

Each loop runs many cycles per call, to amortise the call, and checks the session ledger
afterwards: one session opened per cycle, closed, and committed or rolled back as expected.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import statistics
import sys
from collections.abc import Callable, Iterator
from typing import Any

from ._variants import COMMITTED, ROLLED_BACK
from ._workload import LEDGER, Boom


class LedgerError(AssertionError):
    pass


def check_ledger(before: tuple, cycles: int, outcome) -> None:
    opened, committed, rolled_back, closed = (
        after - start for after, start in zip(LEDGER.snapshot(), before, strict=True)
    )
    if outcome is None:
        expected = (0, 0, 0, 0)
    else:
        expected = (cycles, cycles if outcome == COMMITTED else 0, cycles if outcome == ROLLED_BACK else 0, cycles)
    if (opened, committed, rolled_back, closed) != expected:
        raise LedgerError(
            f"{cycles} cycles opened {opened} sessions, committed {committed}, rolled back "
            f"{rolled_back}, closed {closed}; expected {expected}"
        )


def looped(cycle, cycles: int, outcome=COMMITTED, sessions: int = 1):
    """``cycles`` cycles of ``cycle``, each opening ``sessions`` sessions."""
    passes = range(cycles)

    def run() -> None:
        before = LEDGER.snapshot()
        for _ in passes:
            cycle()
        check_ledger(before, cycles * sessions, outcome)

    return run


def looped_raising(cycle, cycles: int, outcome):
    passes = range(cycles)

    def run() -> None:
        before = LEDGER.snapshot()
        for _ in passes:
            try:
                cycle()
            except Boom:
                pass
            else:
                raise AssertionError("the cycle's exception did not propagate")
        check_ledger(before, cycles, outcome)

    return run


def looped_async(loop, cycle, cycles: int, outcome=COMMITTED, sessions: int = 1):
    passes = range(cycles)

    async def many() -> None:
        for _ in passes:
            await cycle()

    def run() -> None:
        before = LEDGER.snapshot()
        loop.run_until_complete(many())
        check_ledger(before, cycles * sessions, outcome)

    return run


def unrolled(resolve, key, passes: int):
    """A loop calling ``resolve()`` (or ``resolve(key)``) ten times per pass; returns the last."""
    call = "resolve()" if key is None else "resolve(key)"
    source = f"def run():\n    for _ in passes:\n        {'; '.join([call] * 9)}; last = {call}\n    return last\n"
    namespace = {"resolve": resolve, "key": key, "passes": range(passes)}
    exec(source, namespace)
    return namespace["run"]


# Scenario key: (method of the variant, title, what the time is per, cycles per timed call)
SCENARIOS = {
    "cached_resolve": ("cached", "1. cached resolve", "resolve", 100),
    "empty_scope": ("empty", "2. empty scope enter + exit", "cycle", 100),
    "request_cycle": ("cycle", "3. request cycle (3 resolves)", "cycle", 100),
    "service_graph": ("graph", "4. service graph", "cycle", 100),
    "nested_graph": ("ngraph", "4b. nested service graph", "cycle", 100),
    "chain": ("chain", "4c. three-level chain", "cycle", 100),
    "chain_1": ("chain1", "4d. one-level chain", "cycle", 100),
    "chain_10": ("chain10", "4e. ten-level chain", "cycle", 100),
    "async_request_cycle": ("acycle", "5a. async request cycle", "cycle", 100),
    "async_service_graph": ("agraph", "5b. async service graph", "cycle", 100),
    "async_nested_graph": ("angraph", "5c. async nested service graph", "cycle", 100),
    "async_chain": ("achain", "5d. async three-level chain", "cycle", 100),
    "async_chain_1": ("achain1", "5e. async one-level chain", "cycle", 100),
    "async_chain_10": ("achain10", "5f. async ten-level chain", "cycle", 100),
    "error_path": ("error_cycle", "6. error path (rollback)", "cycle", 100),
    "threads": ("thread_cycle", "7. worker thread + caller", "cycle", 20),
}
# The scaling rows: N distinct scoped resources per request, each resolved once (then once more,
# found in the scope), torn down at the scope's end. A fit over the counts shows the cost per
# resource and whether it grows with N (see benchmarks.callgrind --fit).
RESOURCE_COUNTS = (1, 5, 20, 100)
_WHAT = {1: "resource"}  # else "resources"
for _count in RESOURCE_COUNTS:
    SCENARIOS[f"resources_{_count}"] = (
        "many",
        f"8. {_count} {_WHAT.get(_count, 'resources')} per request",
        "cycle",
        max(10, 100 // _count),
    )
for _count in RESOURCE_COUNTS:
    SCENARIOS[f"async_resources_{_count}"] = (
        "amany",
        f"9. {_count} async {_WHAT.get(_count, 'resources')} per request",
        "cycle",
        max(10, 100 // _count),
    )
del _count, _WHAT


def quadratic_fit(points: list[tuple[int, float]]) -> tuple[float, float, float]:
    """The least-squares ``a + b·N + c·N²`` through ``(N, cost)`` points (three at least): the
    fixed cost, the cost per resource and the quadratic term, zero for a cost linear in N."""
    sums = [sum(n**power for n, _ in points) for power in range(5)]
    rhs = [sum(cost * n**power for n, cost in points) for power in range(3)]
    matrix = [[sums[row + column] for column in range(3)] + [rhs[row]] for row in range(3)]
    for pivot in range(3):  # Gauss-Jordan on the 3x3 normal equations
        matrix[pivot] = [value / matrix[pivot][pivot] for value in matrix[pivot]]
        for row in range(3):
            if row != pivot:
                factor = matrix[row][pivot]
                matrix[row] = [value - factor * top for value, top in zip(matrix[row], matrix[pivot], strict=True)]
    return matrix[0][3], matrix[1][3], matrix[2][3]


def resource_fits(rows: list[dict]) -> list[tuple[str, str, tuple[float, float, float]]]:
    """``(variant, "sync" or "async", fit)`` for each variant with three or more scaling rows
    among callgrind's ``rows``."""
    points: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for row in rows:
        count = resource_count(row["scenario"])
        if count is not None:
            kind = "async" if row["scenario"].startswith("async") else "sync"
            points.setdefault((row["variant"], kind), []).append((count, row["instructions"]))
    return [(variant, kind, quadratic_fit(found)) for (variant, kind), found in points.items() if len(found) >= 3]


# The chain-depth rows: the levels of Factory chain each chain scenario builds.
CHAIN_DEPTHS = {"chain_1": 1, "chain": 3, "chain_10": 10, "async_chain_1": 1, "async_chain": 3, "async_chain_10": 10}


def chain_fits(rows: list[dict]) -> list[tuple[str, str, tuple[float, float]]]:
    """``(variant, "sync" or "async", (a, b))`` for each variant measured at every chain depth
    among callgrind's ``rows``: the least-squares ``a + b·depth``, b the cost of a level."""
    points: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for row in rows:
        depth = CHAIN_DEPTHS.get(row["scenario"])
        if depth is not None:
            kind = "async" if row["scenario"].startswith("async") else "sync"
            points.setdefault((row["variant"], kind), []).append((depth, row["instructions"]))
    fits = []
    for (variant, kind), found in points.items():
        if len(found) == 3:
            slope, intercept = statistics.linear_regression(*zip(*found, strict=True))
            fits.append((variant, kind, (intercept, slope)))
    return fits


def resource_count(scenario: str) -> int | None:
    """N of a scaling row (``resources_N``, ``async_resources_N``), else None."""
    prefix, _, count = scenario.rpartition("_")
    return int(count) if prefix in ("resources", "async_resources") else None


@contextlib.contextmanager
def build(scenario: str, variant, cycles: int, *, loop=None, executor=None) -> Iterator[Callable[[], Any]]:
    """The callable that runs ``cycles`` cycles of ``scenario`` with ``variant`` and checks them.

    For the cached resolve, a cycle is one resolve, and the callable returns the last one.
    Everything runs in a fresh, empty ``contextvars.Context``: the cost of ``ContextVar.set`` and
    ``reset`` grows with the variables already set in the context (and their hashes, which vary
    between processes), so a context shared by all benchmarks would make every scope's cost depend
    on what ran before it.
    """
    context = contextvars.Context()
    if scenario == "cached_resolve":
        opened = variant.cached()
        resolve, key = context.run(opened.__enter__)
        try:
            expected = context.run(resolve) if key is None else context.run(resolve, key)
            run = unrolled(resolve, key, cycles // 10)

            def checked() -> Any:
                result = run()
                if result is not expected:
                    raise AssertionError("the cached resolve returned another instance")
                return result

            yield functools.partial(context.run, checked)
        except BaseException:
            if not context.run(opened.__exit__, *sys.exc_info()):
                raise
        else:
            context.run(opened.__exit__, None, None, None)
        return
    if scenario == "empty_scope":
        run = looped(variant.empty(), cycles, None)
    elif scenario == "request_cycle":
        run = looped(variant.cycle(), cycles)
    elif scenario == "service_graph":
        run = looped(variant.graph(), cycles)
    elif scenario == "nested_graph":
        run = looped(variant.ngraph(), cycles)
    elif scenario == "chain":
        run = looped(variant.chain(), cycles)
    elif scenario in ("chain_1", "chain_10"):
        run = looped(getattr(variant, SCENARIOS[scenario][0])(), cycles)
    elif scenario == "async_request_cycle":
        run = looped_async(loop, variant.acycle(), cycles)
    elif scenario == "async_service_graph":
        run = looped_async(loop, variant.agraph(), cycles)
    elif scenario == "async_nested_graph":
        run = looped_async(loop, variant.angraph(), cycles)
    elif scenario == "async_chain":
        run = looped_async(loop, variant.achain(), cycles)
    elif scenario in ("async_chain_1", "async_chain_10"):
        run = looped_async(loop, getattr(variant, SCENARIOS[scenario][0])(), cycles)
    elif scenario == "error_path":
        run = looped_raising(variant.error_cycle(), cycles, variant.error_outcome)
    elif scenario == "threads":
        run = looped(variant.thread_cycle(executor), cycles)
    elif scenario.startswith("resources_"):
        count = resource_count(scenario)
        run = looped(variant.many(count), cycles, sessions=count)
    elif scenario.startswith("async_resources_"):
        count = resource_count(scenario)
        run = looped_async(loop, variant.amany(count), cycles, sessions=count)
    else:
        raise ValueError(f"unknown scenario {scenario!r}")
    yield functools.partial(context.run, run)
