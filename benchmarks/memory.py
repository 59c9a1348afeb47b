"""Memory held per open scope: bytes that ``tracemalloc`` sees per task waiting inside an open
scope that holds one session, above the same task waiting without one.

    python -m benchmarks.memory [--tasks N] [-v VARIANT ...]

Each variant starts N tasks; each enters its scope (dishka: a request container), resolves the
session and waits on an event. With every task waiting, the traced memory above a run of bare
tasks (the same coroutine, without a scope), divided by N, is the cost of one open scope: the
median of five such differences. The sessions are then released and the ledger checked: one
session opened and committed per task.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tracemalloc
from collections.abc import Awaitable, Callable

from ._harness import COMMITTED, check_ledger
from ._variants import make
from ._workload import LEDGER, Session, asession_gen


def _bare() -> Callable[[asyncio.Event], Awaitable[None]]:
    async def task(release: asyncio.Event) -> None:
        await release.wait()

    return task


def _twin(name: str) -> Callable[[asyncio.Event], Awaitable[None]]:
    twin = make(name).m  # the twin's module, imported directly (as every benchmark row does)
    session = twin.ContextLocalResource(asession_gen)
    scope = twin.scope

    async def task(release: asyncio.Event) -> None:
        async with scope():
            await session()
            await release.wait()

    return task


def _dishka() -> Callable[[asyncio.Event], Awaitable[None]]:
    container = make("dishka")._container(asession_gen, asynchronous=True)  # the rows' container

    async def task(release: asyncio.Event) -> None:
        async with container() as request:
            await request.get(Session)
            await release.wait()

    return task


REPEATS = 5  # the median of this many differences is reported

VARIANTS: dict[str, Callable[[], Callable[[asyncio.Event], Awaitable[None]]]] = {
    "c": lambda: _twin("c"),
    "py": lambda: _twin("py"),
    "dishka": _dishka,
}


async def _held(task: Callable[[asyncio.Event], Awaitable[None]], count: int) -> int:
    """Traced bytes with ``count`` tasks waiting in ``task``, above the same before they start."""
    release = asyncio.Event()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    tasks = [asyncio.ensure_future(task(release)) for _ in range(count)]
    await asyncio.sleep(0)  # each runs up to its wait
    await asyncio.sleep(0)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    release.set()
    await asyncio.gather(*tasks)
    return held


def measure(variant: str, count: int) -> float:
    """Bytes per task above a bare task, for one variant."""
    task = VARIANTS[variant]()
    bare = _bare()

    async def main() -> float:
        await _held(task, count)  # warm up: caches, free lists, the event loop's structures
        await _held(bare, count)
        differences = []
        for _ in range(REPEATS):
            ledger = LEDGER.snapshot()
            held = await _held(task, count)
            check_ledger(ledger, count, COMMITTED)
            differences.append((held - await _held(bare, count)) / count)
        return statistics.median(differences)

    tracemalloc.start()
    try:
        return asyncio.run(main())
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("-v", "--variant", action="append", choices=sorted(VARIANTS))
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}, {args.tasks} tasks")
    for variant in args.variant or list(VARIANTS):
        print(f"{variant:8} {measure(variant, args.tasks):8,.0f} bytes per open scope above a bare task")


if __name__ == "__main__":
    main()
