"""Instruction counts per cycle, with valgrind's callgrind: repeatable where wall time is noisy.

Each (scenario, variant) runs twice under callgrind, with N1 and N2 cycles; the difference of
the two totals, divided by N2 - N1, is the count per cycle (imports and setup cancel out).
With ``--profile``, the same difference is taken per function (self cost; ``--inclusive`` for
inclusive cost), which shows where a cycle's instructions go. The cached resolve runs ten times
as many resolves (``SCALE``): between 200 and 1,200 of them, one-off work that differs between
the two runs (about a hundred thousand instructions) moved the count per resolve by a third from
one run to the next; from 2,000 resolves on it stays within one per cent.

    python -m benchmarks.callgrind                       # scenarios 1-3: c, floor, object, dishka
    python -m benchmarks.callgrind -s request_cycle -v c --profile
    python -m benchmarks.callgrind -s ... -v ... --json docs/callgrind.json [--append]
                                    # read by benchmarks.report; the full table's commands are
                                    # under Reproducing in docs/performance.md

``python -m benchmarks.callgrind run SCENARIO VARIANT N`` is what runs under valgrind.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile

DEFAULT_SCENARIOS = ("cached_resolve", "empty_scope", "request_cycle")
DEFAULT_VARIANTS = ("c", "floor", "object", "dishka")
# Scenarios run with this many times N1 and N2 cycles: a cycle too cheap for the run-to-run
# difference of one-off work to vanish in a thousand of them.
SCALE = {"cached_resolve": 10}


def run(scenario: str, variant_name: str, cycles: int) -> None:
    """Run ``cycles`` cycles of one scenario (the process that valgrind measures)."""
    import asyncio
    import gc

    from ._harness import SCENARIOS, build
    from ._variants import make

    variant = make(variant_name)
    loop = asyncio.new_event_loop() if scenario.startswith("async") else None
    method = SCENARIOS[scenario][0]
    if not callable(getattr(variant, method, None)):
        raise SystemExit(f"{variant_name} has no {scenario} scenario")
    # Warm up with a first loop of the same length (fills caches, specialises bytecode), so that
    # only the measured loop differs between the N1 and N2 runs.
    with build(scenario, variant, 10, loop=loop) as warm:
        warm()
    if cycles:
        with build(scenario, variant, cycles, loop=loop) as measured:
            # Older objects out of the collector's way: a full collection's cost depends on the
            # heap and on when it happens to fall, not on the cycle.
            gc.collect()
            gc.freeze()
            measured()
    if loop is not None:
        loop.close()


_TOTALS = re.compile(r"^(?:summary|totals):\s*(\d+)", re.MULTILINE)


def callgrind(scenario: str, variant: str, cycles: int, out: str) -> int:
    return count(["benchmarks.callgrind", "run", scenario, variant, str(cycles)], out)


def count(module_args: list[str], out: str) -> int:
    """Total instructions of ``python -m MODULE ARGS...`` under callgrind (output in ``out``)."""
    # A fixed hash seed, and no .pyc written by one run and read by the other.
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m", *module_args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=_root())
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    with open(out) as data:
        match = _TOTALS.search(data.read())
    if match is None:
        raise RuntimeError(f"no totals in {out}")
    return int(match.group(1))


def _root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


_FUNCTION = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+(.*?):(\S+?)(?:'\d+)?(?:\s+\[(.*)\])?\s*$")


def functions(out: str, inclusive: bool = False) -> dict[str, int]:
    """Self (or inclusive) cost of each function in a callgrind output file, named
    ``function (library)``."""
    result = subprocess.run(
        ["callgrind_annotate", "--threshold=100", f"--inclusive={'yes' if inclusive else 'no'}", "--auto=no", out],
        capture_output=True,
        text=True,
        check=True,
    )
    costs: dict[str, int] = {}
    for line in result.stdout.splitlines():
        match = _FUNCTION.match(line)
        if match is None:
            continue
        cost, source, function, library = match.groups()
        name = f"{function} ({os.path.basename(library or source)})"
        costs[name] = costs.get(name, 0) + int(cost.replace(",", ""))
    return costs


def measure(
    scenario: str, variant: str, n1: int, n2: int, profile: bool, inclusive: bool = False
) -> tuple[float, list[tuple[str, float]] | None]:
    scale = SCALE.get(scenario, 1)
    n1, n2 = n1 * scale, n2 * scale
    with tempfile.TemporaryDirectory() as tmp:
        first, second = os.path.join(tmp, "n1.out"), os.path.join(tmp, "n2.out")
        total1 = callgrind(scenario, variant, n1, first)
        total2 = callgrind(scenario, variant, n2, second)
        per_cycle = (total2 - total1) / (n2 - n1)
        top = None
        if profile:
            before, after = functions(first, inclusive), functions(second, inclusive)
            names = set(before) | set(after)
            diffs = [(name, (after.get(name, 0) - before.get(name, 0)) / (n2 - n1)) for name in names]
            top = sorted((d for d in diffs if d[1] >= 1), key=lambda d: -d[1])
    return per_cycle, top


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "run":
        _, scenario, variant, cycles = argv
        run(scenario, variant, int(cycles))
        return
    parser = argparse.ArgumentParser(prog="python -m benchmarks.callgrind", description=__doc__.split("\n\n")[0])
    parser.add_argument("-s", "--scenario", action="append", help="scenario key (repeatable)")
    parser.add_argument("-v", "--variant", action="append", help="variant name (repeatable)")
    parser.add_argument("--n1", type=int, default=200)
    parser.add_argument("--n2", type=int, default=1200)
    parser.add_argument("--profile", action="store_true", help="per-function instructions per cycle")
    parser.add_argument("--inclusive", action="store_true", help="with --profile: inclusive costs")
    parser.add_argument("--only", help="with --profile: functions whose name contains this")
    parser.add_argument("--top", type=int, default=25, help="functions shown with --profile")
    parser.add_argument("--json", help="write the counts to this file")
    parser.add_argument("--append", action="store_true", help="add to the --json file's rows (same N1, N2)")
    args = parser.parse_args(argv)
    from ._harness import SCENARIOS
    from ._variants import supports

    results = []
    for scenario in args.scenario or DEFAULT_SCENARIOS:
        for variant in args.variant or DEFAULT_VARIANTS:
            if not supports(variant, SCENARIOS[scenario][0]):
                continue
            per_cycle, top = measure(scenario, variant, args.n1, args.n2, args.profile, args.inclusive)
            print(f"{scenario:24} {variant:28} {per_cycle:12,.0f} instructions per cycle", flush=True)
            row = {"scenario": scenario, "variant": variant, "instructions": round(per_cycle)}
            if top is not None and args.only:
                top = [item for item in top if args.only in item[0]]
            if top is not None:
                row["functions"] = [[name, round(cost, 1)] for name, cost in top[: args.top]]
                for name, cost in top[: args.top]:
                    print(f"    {cost:10,.1f}  {name}")
            results.append(row)
    from ._harness import chain_fits, resource_fits

    for variant, kind, (fixed, per, square) in resource_fits(results):
        print(f"{kind} resources, {variant}: {fixed:,.0f} + {per:,.0f} per resource + {square:,.2f} × N² instructions")
    for variant, kind, (fixed, per) in chain_fits(results):
        print(f"{kind} chains, {variant}: {fixed:,.0f} + {per:,.0f} per level instructions")
    if args.json:
        if args.append and os.path.exists(args.json):
            with open(args.json) as existing:
                previous = json.load(existing)
            if (previous["n1"], previous["n2"]) != (args.n1, args.n2):
                raise SystemExit(f"{args.json} was measured with other N1, N2")
            measured = {(row["scenario"], row["variant"]) for row in results}
            results = [
                row for row in previous["results"] if (row["scenario"], row["variant"]) not in measured
            ] + results
        document = {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "n1": args.n1,
            "n2": args.n2,
            "results": results,
        }
        with open(args.json, "w") as out:
            json.dump(document, out, indent=1)
            out.write("\n")


if __name__ == "__main__":
    main()
