"""Turn pytest-benchmark results into ``docs/benchmarks.md`` and ``docs/benchmarks.png``.

    pytest benchmarks/ --benchmark-json=.benchmarks/latest.json   # or --benchmark-autosave
    python -m benchmarks.report                                   # newest JSON under .benchmarks/
    python -m benchmarks.report --json results.json --stat median

Times are per cycle (per resolve for the cached resolve): a row's statistic divided by the inner
loop length recorded with it. Ratios compare rows of the same run only. The report also includes
``docs/callgrind.json`` (from ``python -m benchmarks.callgrind --json``), the per-version files
``docs/callgrind-versions/X.Y.json`` (the same, run with each CPython) and, when it exists,
``docs/http.json`` (written by ``python -m benchmarks.http``; ``--http FILE`` reads another).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
from typing import Any

from ._harness import RESOURCE_COUNTS, SCENARIOS, chain_fits, resource_fits
from ._variants import VARIANTS, variant_class
from .callgrind import SCALE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")

# (scenario, numerator, denominator, comparison, bound, wording)
TARGETS = [
    ("request_cycle", "c", "dishka", "<=", 0.35, "request cycle: compiled ≤ 0.35× dishka"),
    ("request_cycle", "c", "floor", "<=", 2.0, "request cycle: compiled ≤ 2× the hand-written floor"),
    ("request_cycle", "py", "c", ">=", 3.0, "request cycle: compiled ≥ 3× faster than the pure twin"),
    ("service_graph", "c", "dishka", "<=", 0.5, "service graph: compiled ≤ 0.5× dishka"),
    ("cached_resolve", "c", "object", "<=", 1.1, "cached resolve: compiled ≤ 1.1× `providers.Object(x)()`"),
    ("empty_scope", "c", "object", "<=", 2.5, "empty scope: compiled ≤ 2.5× `providers.Object(x)()`"),
    ("async_request_cycle", "c", "dishka", "<=", 0.6, "async request cycle: compiled ≤ 0.6× dishka"),
    ("async_request_cycle", "c", "floor", "<=", 2.5, "async request cycle: compiled ≤ 2.5× the hand-driven floor"),
    ("async_service_graph", "c-fast", "dishka", "<=", 1.0, "async service graph, fast path: ≤ 1.0× dishka"),
    ("async_nested_graph", "c-fast", "dishka", "<=", 1.0, "async nested service graph, fast path: ≤ 1.0× dishka"),
    ("async_chain", "c-fast", "dishka", "<=", 1.0, "async three-level chain, fast path: ≤ 1.0× dishka"),
    (
        "async_service_graph",
        "c",
        "dishka",
        "<=",
        1.0,
        "async service graph, `await container.service()`: ≤ 1.0× dishka",
    ),
]

NOTES = {
    "c": "`with di_scopes.scope():`, `ContextLocalResource(session_gen)`",
    "c-fast": "the service graphs as `di_scopes.fastapi.inject` resolves an endpoint's "
    "`Provide[Container.top]`: the same `Factory` providers, built without dependency-injector's gather "
    "(async), or, once latched to sync mode, as dependency-injector's sync call builds them (sync)",
    "py": "the same code on the pure-Python twin",
    "di-factory-floor": "dependency-injector's own async `Factory` graph over a `providers.Callable` "
    "returning a done future of a hand-driven session: what `await container.service()` costs "
    "whatever the session provider does",
    "di-contextlocal-singleton": "no teardown of its own: the generator is driven in the factory and "
    "finished by hand after `reset()`; no scope, so the empty scope row is one `reset()`",
    "di-contextlocal-resource": "`shutdown()` in the same context ends a cycle (the empty scope row is "
    "one `shutdown()`); tears down as on success, so the error path **commits**",
    "dishka": "`Scope.REQUEST` for the session and every class of the graph; `with container() as request:`",
    "dishka-fastapi": "the `dishka` rows' container, its graphs injected into an endpoint's `FromDishka[T]` "
    "parameter by `dishka.integrations.fastapi.inject` (`inject_sync` for `def`): the counterpart of "
    "`c-fast`, the endpoint called directly with the request its middleware fills",
    "wireup": '`lifetime="scoped"` for the session and every class of the graph; `with container.enter_scope():`',
    "that-depends": "`ContextResource` in a `BaseContainer` (`default_scope = None`), "
    "`with container_context(Container):`; closes without the exception, so the error path **commits**",
    "floor": "the generator driven by hand (`g = gen(); s = next(g); ...; next(g)`); "
    "for the cached resolve a `ContextVar.get()`, for the empty scope a `ContextVar.set()` + `reset()`",
    "object": "`providers.Object(x)()`",
}


SCENARIO_NOTES = {
    "threads": "Each cycle hands work to a worker thread and waits for it; that handoff dominates "
    "and varies with the scheduler, so these rows show that no variant adds much to it, not how the "
    "variants rank.",
}


def latest_json() -> str:
    candidates = glob.glob(os.path.join(ROOT, ".benchmarks", "**", "*.json"), recursive=True)
    if not candidates:
        raise SystemExit(
            "no results: run `pytest benchmarks/ --benchmark-autosave` (or --benchmark-json=FILE and pass --json FILE)"
        )
    return max(candidates, key=os.path.getmtime)


def load(path: str, stat: str) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, Any]]:
    """Results as {scenario: {variant: {"us": per-cycle µs, "median": ..., "min": ...}}}."""
    with open(path) as data:
        document = json.load(data)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for bench in document["benchmarks"]:
        info = bench.get("extra_info") or {}
        if "scenario" not in info:
            continue
        per = info["per"]
        stats = bench["stats"]
        results.setdefault(info["scenario"], {})[info["variant"]] = {
            "us": stats[stat] / per * 1e6,
            "min": stats["min"] / per * 1e6,
            "median": stats["median"] / per * 1e6,
            "rounds": stats["rounds"],
            "label": info.get("label", info["variant"]),
        }
    return results, document


def fmt_us(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def ratio(rows: dict[str, dict[str, float]], a: str, b: str) -> float | None:
    if a in rows and b in rows:
        return rows[a]["us"] / rows[b]["us"]
    return None


def environment(document: dict[str, Any]) -> list[str]:
    machine = document.get("machine_info", {})
    commit = document.get("commit_info", {})
    packages = machine.get("packages", {})
    cpu = machine.get("cpu_model") or (machine.get("cpu") or {}).get("brand_raw") or machine.get("processor")
    lines = [
        f"- Machine: {cpu or 'unknown CPU'}, {machine.get('cpu_count', '?')} cores "
        f"({machine.get('platform') or machine.get('system', '')}); shared and noisy, so only ratios "
        "within this run mean anything.",
        f"- Python: {machine.get('python_implementation', '')} {machine.get('python_version', '')} "
        f"({machine.get('python_compiler', '')})",
        "- Packages: " + ", ".join(f"{name} {ver}" for name, ver in packages.items() if ver),
    ]
    if commit.get("id"):
        dirty = " (uncommitted changes)" if commit.get("dirty") else ""
        lines.append(f"- di-scopes commit: `{commit['id'][:12]}`{dirty}, run {document.get('datetime', '')}")
    return lines


def targets_section(results, stat: str) -> list[str]:
    lines = [
        "| target | measured | |",
        "|---|---|---|",
    ]
    for scenario, a, b, comparison, bound, wording in TARGETS:
        value = ratio(results.get(scenario, {}), a, b)
        if value is None:
            lines.append(f"| {wording} | not measured | |")
            continue
        met = value <= bound if comparison == "<=" else value >= bound
        shown = f"{a} / {b} = {value:.2f}"
        lines.append(f"| {wording} | {shown} | {'met' if met else '**missed**'} |")
    return lines


def matrix_section(results) -> list[str]:
    scenarios = [key for key in SCENARIOS if key in results]
    lines = [
        "| variant | " + " | ".join(SCENARIOS[key][1] for key in scenarios) + " |",
        "|---|" + "---:|" * len(scenarios),
    ]
    for name in VARIANTS:
        cells = [fmt_us(results[key][name]["us"]) if name in results[key] else "—" for key in scenarios]
        if any(cell != "—" for cell in cells):
            lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return lines


def scenario_section(key: str, rows: dict[str, dict[str, float]], stat: str) -> list[str]:
    _, title, unit, _ = SCENARIOS[key]
    lines = [
        f"### {title}",
        "",
        f"| variant | µs per {unit} ({stat}) | median | × compiled | × floor | × Object |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in VARIANTS:
        if name not in rows:
            continue
        row = rows[name]
        lines.append(
            f"| `{name}` {row['label']} | {fmt_us(row['us'])} | {fmt_us(row['median'])} | "
            f"{fmt_ratio(ratio(rows, name, 'c'))} | {fmt_ratio(ratio(rows, name, 'floor'))} | "
            f"{fmt_ratio(ratio(rows, name, 'object'))} |"
        )
    return lines


def own_counts(rows: list[dict]) -> list[str]:
    """A sentence on the rows measured with cycle counts of their own (``n1``, ``n2`` in the row:
    the scaling rows, whose cycles are long)."""
    own = sorted({(row["n1"], row["n2"]) for row in rows if "n1" in row})
    if not own:
        return []
    counts = " and ".join(f"{n1} and {n2} cycles" for n1, n2 in own)
    return [f"The rows with resources per request: the difference between runs of {counts}."]


def scaled_rows() -> str:
    """Which rows callgrind ran with more cycles (``benchmarks.callgrind.SCALE``), as a clause."""
    return ", ".join(
        f"{factor}× the cycles for the {SCENARIOS[key][1].split('. ', 1)[1]}" for key, factor in SCALE.items()
    )


def callgrind_section(path: str) -> list[str]:
    if not os.path.exists(path):
        return [
            "Not measured yet: `python -m benchmarks.callgrind --json docs/callgrind.json` "
            "(the commands of the full table are under Reproducing in docs/performance.md)."
        ]
    with open(path) as data:
        document = json.load(data)
    by_scenario: dict[str, dict[str, int]] = {}
    for row in document["results"]:
        by_scenario.setdefault(row["scenario"], {})[row["variant"]] = row["instructions"]
    measured_only = ("c-unindexed",)  # callgrind-only variants (see _variants.make)
    order = {name: index for index, name in enumerate((*VARIANTS, *measured_only))}
    variants = [name for name in (*VARIANTS, *measured_only) if any(name in rows for rows in by_scenario.values())]
    lines = [
        f"Instructions per cycle (per resolve for the cached resolve), Python {document.get('python', '?')}: "
        f"the difference between runs of {document['n1']} and {document['n2']} cycles, divided by "
        f"{document['n2'] - document['n1']} ({scaled_rows()}: `benchmarks.callgrind.SCALE`)."
        " Repeatable to a few per cent between runs (more where a variant leaves "
        "reference cycles to the garbage collector).",
        *own_counts(document["results"]),
        "",
        "| scenario | "
        + " | ".join(f"`{name}`" for name in variants)
        + " | compiled / floor | compiled / Object | compiled / dishka | fast path / dishka"
        + " | fast path / dishka's FastAPI `@inject` |",
        "|---|" + "---:|" * (len(variants) + 5),
    ]
    for key in SCENARIOS:
        rows = by_scenario.get(key)
        if not rows:
            continue
        cells = [f"{rows[name]:,}" if name in rows else "—" for name in variants]
        against = [
            fmt_ratio(rows["c"] / rows[other]) if "c" in rows and other in rows else "—"
            for other in ("floor", "object", "dishka")
        ]
        for other in ("dishka", "dishka-fastapi"):
            against.append(fmt_ratio(rows["c-fast"] / rows[other]) if "c-fast" in rows and other in rows else "—")
        lines.append(f"| {SCENARIOS[key][1]} | " + " | ".join(cells + against) + " |")
    fits = resource_fits(document["results"])
    if fits:
        lines += [
            "",
            "The scaling rows fitted by least squares as `a + b·N + c·N²` over the resource counts "
            f"{', '.join(map(str, RESOURCE_COUNTS))}: `c` near zero is a cost linear in the number of "
            "resources per request.",
            "",
            "| variant | resources | a (fixed) | b (per resource) | c (× N²) |",
            "|---|---|---:|---:|---:|",
        ]
        for variant, kind, (fixed, per, square) in sorted(fits, key=lambda fit: (fit[1] != "sync", order[fit[0]])):
            lines.append(f"| `{variant}` | {kind} | {fixed:,.0f} | {per:,.0f} | {square:,.2f} |")
    depth_fits = chain_fits(document["results"])
    if depth_fits:
        lines += [
            "",
            "The chain rows (one, three and ten levels of `Factory` over the session) fitted by least "
            "squares as `a + b·depth`: `b` is the cost of a level.",
            "",
            "| variant | chains | a (fixed) | b (per level) |",
            "|---|---|---:|---:|",
        ]
        for variant, kind, (fixed, per) in sorted(depth_fits, key=lambda fit: (fit[1] != "sync", order[fit[0]])):
            lines.append(f"| `{variant}` | {kind} | {fixed:,.0f} | {per:,.0f} |")
    return lines


# The per-version table: (scenario, numerator, denominator, target bound or None).
VERSION_RATIOS = [
    ("cached_resolve", "c", "object", 0.6),
    ("empty_scope", "c", "object", 3.0),
    ("request_cycle", "c", "dishka", 0.40),
    ("async_request_cycle", "c", "dishka", 0.6),
    ("service_graph", "c-fast", "dishka", None),
    ("async_service_graph", "c-fast", "dishka", 0.8),
    # Chains through the fast path, ahead of dishka's container at depths 1, 3 and 10.
    ("chain_1", "c-fast", "dishka", 1.0),
    ("chain", "c-fast", "dishka", 1.0),
    ("chain_10", "c-fast", "dishka", 1.0),
    ("async_chain_1", "c-fast", "dishka", 1.0),
    ("async_chain", "c-fast", "dishka", 1.0),
    ("async_chain_10", "c-fast", "dishka", 1.0),
    # The fast path against dishka's own FastAPI injection, the layer the rows above charge to
    # di-scopes alone.
    ("service_graph", "c-fast", "dishka-fastapi", None),
    ("async_service_graph", "c-fast", "dishka-fastapi", None),
    ("chain", "c-fast", "dishka-fastapi", None),
    ("async_chain", "c-fast", "dishka-fastapi", None),
    ("resources_100", "c", "dishka", 0.7),
    ("async_resources_100", "c", "dishka", 0.7),
]


def versions_section(paths: list[str]) -> list[str]:
    """One table over the CPython versions: what ``python -m benchmarks.callgrind --json
    docs/callgrind-versions/X.Y[-name].json`` wrote with each interpreter (the files of one
    version are read together)."""
    by_version: dict[str, dict[str, dict[str, int]]] = {}
    cycles: dict[tuple[int, int], set[str]] = {}
    for path in paths:
        with open(path) as data:
            document = json.load(data)
        rows = by_version.setdefault(document["python"], {})
        for row in document["results"]:
            rows.setdefault(row["scenario"], {})[row["variant"]] = row["instructions"]
            cycles.setdefault((document["n1"], document["n2"]), set()).add(row["scenario"])
    if not by_version:
        return ["Not measured yet: `python -m benchmarks.callgrind --json docs/callgrind-versions/X.Y.json`."]
    versions = sorted(by_version, key=lambda version: tuple(int(part) for part in version.split(".")))
    counts = [
        f"{n1} and {n2} cycles"
        + (
            " for the rows with resources per request"
            if all(key.startswith(("resources_", "async_resources_")) for key in keys)
            else ""
        )
        for (n1, n2), keys in sorted(cycles.items(), reverse=True)
    ]
    lines = [
        "The same counts with each CPython (3.14 and 3.15 are Debian sid's), each the difference "
        f"between runs of {', '.join(counts)} ({scaled_rows()}): the ratio, "
        "then the two counts it divides. "
        "`c-fast` is the fast path (`di_scopes.fastapi.inject`, its endpoint scope included); "
        "`dishka-fastapi` is dishka through its FastAPI `@inject`.",
        "",
        "| ratio | target | " + " | ".join(f"CPython {version}" for version in versions) + " |",
        "|---|---:|" + "---:|" * len(versions),
    ]
    for scenario, top, bottom, bound in VERSION_RATIOS:
        cells = []
        for version in versions:
            row = by_version[version].get(scenario, {})
            if top in row and bottom in row:
                cells.append(f"{fmt_ratio(row[top] / row[bottom])} ({row[top]:,} / {row[bottom]:,})")
            else:
                cells.append("—")
        if all(cell == "—" for cell in cells):
            continue
        name = f"{SCENARIOS[scenario][1]}: `{top}` / `{bottom}`"
        lines.append(f"| {name} | {'—' if bound is None else f'≤ {bound:.2f}×'} | " + " | ".join(cells) + " |")
    return lines


HTTP_ENDPOINTS = {
    "sync": "The sync-session endpoint (two injected sessions and a repository sharing them, a query, "
    "commit and close)",
    "async": "The async-session endpoint (an `async def` endpoint taking an `AsyncSession` and a service "
    "over a repository that share it, a query awaited through the repository, commit and close; "
    "aiosqlite)",
}


def http_tables(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The results file's tables, one per endpoint; a file from before the async endpoint holds
    only the sync endpoint's rows."""
    if "endpoints" in document:
        return document["endpoints"]
    rows = [
        {**row, "share_of_floor": row["share_of_manual"], "min": min(row["runs"]), "max": max(row["runs"])}
        for row in document["rows"]
    ]
    return [{"endpoint": "sync", "floor": "manual", "rows": rows}]


def http_section(path: str) -> list[str]:
    """The tables of ``python -m benchmarks.http``'s results file, if there is one."""
    if not os.path.exists(path):
        return ["Not measured in this checkout: run `python -m benchmarks.http` (writes `docs/http.json`)."]
    with open(path) as data:
        document = json.load(data)
    settings = document["settings"]
    versions = ", ".join(f"{name} {version}" for name, version in document["versions"].items())
    tables = http_tables(document)
    lines = [
        "Each endpoint wired several ways (SQLite in memory), served by uvicorn with one worker and "
        f"loaded by wrk with {settings['connections']} connections on 127.0.0.1 "
        f"({settings['rounds']} round{'s' if settings['rounds'] != 1 else ''} "
        f"of {settings['duration']:g} s per variant, interleaved"
        f"{' over both endpoints' if len(tables) > 1 else ''}; the median, the lowest and highest round, "
        "and the median's share of the endpoint's hand-wired floor; server and load generator "
        f"{'pinned to separate cores' if settings['pinned'] else 'unpinned'}).",
        "",
        f"Machine: {document['machine']}; Python {document['python']}, "
        f"di-scopes' {document['implementation']} twin; {versions}.",
    ]
    for table in tables:
        lines += [
            "",
            f"{HTTP_ENDPOINTS.get(table['endpoint'], table['endpoint'])}:",
            "",
            f"| variant | requests/s | lowest–highest | share of `{table['floor']}` | runs |",
            "|---|---:|---:|---:|---|",
        ]
        for row in table["rows"]:
            runs = ", ".join(f"{run:,.0f}" for run in row["runs"])
            lines.append(
                f"| `{row['variant']}` | {row['requests_per_second']:,.0f} | {row['min']:,.0f}–{row['max']:,.0f} "
                f"| {row['share_of_floor']:.1%} | {runs} |"
            )
    return lines


def markdown(results, document, stat: str, source: str, http: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m benchmarks.report` from one run of `pytest benchmarks/` "
        f"(`{os.path.relpath(source, ROOT)}`); do not edit by hand.",
        "",
        "Every variant runs the same session generator (commit on success, rollback on error, close "
        "always) and the same number of resolves per cycle, and each timed call checks a ledger: one "
        "session opened, committed (or rolled back) and closed per cycle, and the resolves of a "
        "cycle shared it. Times are the "
        f"{stat} over rounds of a timed call, divided by the cycles in it (100; 20 for threads). "
        "Ratios compare rows of this run only; the absolute times depend on a shared, noisy machine.",
        "",
        *environment(document),
        "",
        "![µs per cycle, log scale](benchmarks.png)",
        "",
        "## Targets",
        "",
        *targets_section(results, stat),
        "",
        f"## All scenarios (µs per cycle, {stat})",
        "",
        *matrix_section(results),
        "",
        "## Per scenario",
        "",
    ]
    for key in SCENARIOS:
        if key in results:
            lines += scenario_section(key, results[key], stat) + [""]
            if key in SCENARIO_NOTES:
                lines += [SCENARIO_NOTES[key], ""]
    lines += [
        "Rows missing from a scenario: the variant cannot run it correctly (the benchmark checks that "
        "it fails, and skips it):",
        "",
        *[
            f"- `{name}`, {SCENARIOS[scenario][1]}: {reason}."
            for name in VARIANTS
            for scenario, reason in variant_class(name).cannot.items()
        ],
        "",
        "## Variants",
        "",
        *[f"- `{name}`: {NOTES[name]}" for name in VARIANTS],
        "",
        "## Instruction counts (callgrind)",
        "",
        *callgrind_section(os.path.join(DOCS, "callgrind.json")),
        "",
        "### Per CPython version",
        "",
        *versions_section(sorted(glob.glob(os.path.join(DOCS, "callgrind-versions", "*.json")))),
        "",
        "## HTTP",
        "",
        *http_section(http),
        "",
    ]
    return "\n".join(lines)


def chart(results, stat: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    scenarios = [key for key in SCENARIOS if key in results]
    columns = 2
    rows_count = (len(scenarios) + columns - 1) // columns
    figure, axes = plt.subplots(rows_count, columns, figsize=(13, 3.1 * rows_count), squeeze=False)
    colours = {
        "c": "#1f6fb4",
        "py": "#8fb8de",
        "floor": "#555555",
        "object": "#999999",
    }
    for index, key in enumerate(scenarios):
        axis = axes[index // columns][index % columns]
        rows = results[key]
        names = [name for name in VARIANTS if name in rows][::-1]
        values = [rows[name]["us"] for name in names]
        bars = axis.barh(names, values, color=[colours.get(name, "#e08a3c") for name in names])
        axis.set_xscale("log")
        axis.set_title(f"{SCENARIOS[key][1]} (µs per {SCENARIOS[key][2]})", fontsize=10, loc="left")
        axis.tick_params(axis="y", labelsize=8)
        axis.tick_params(axis="x", labelsize=8)
        axis.set_xlim(min(values) / 1.6, max(values) * 3.5)
        for bar, value in zip(bars, values, strict=True):
            axis.text(value * 1.05, bar.get_y() + bar.get_height() / 2, fmt_us(value), va="center", fontsize=7)
        axis.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: fmt_us(value)))
        axis.xaxis.set_minor_formatter(ticker.NullFormatter())
        axis.grid(axis="x", which="major", alpha=0.3)
    for index in range(len(scenarios), rows_count * columns):
        axes[index // columns][index % columns].axis("off")
    figure.suptitle(f"di-scopes micro-benchmarks ({stat}, log scale; shorter is faster)", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="pytest-benchmark JSON (default: newest under .benchmarks/)")
    parser.add_argument("--stat", default="min", choices=("min", "median", "mean"))
    parser.add_argument("--out", default=DOCS, help="directory for benchmarks.md and benchmarks.png")
    parser.add_argument(
        "--http",
        default=os.path.join(DOCS, "http.json"),
        help="results of python -m benchmarks.http (default docs/http.json)",
    )
    args = parser.parse_args(argv)
    source = args.json or latest_json()
    results, document = load(source, args.stat)
    if not results:
        raise SystemExit(f"{source} holds no di-scopes benchmark rows")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "benchmarks.md"), "w") as out:
        out.write(markdown(results, document, args.stat, source, args.http))
    chart(results, args.stat, os.path.join(args.out, "benchmarks.png"))
    print(f"wrote {os.path.join(args.out, 'benchmarks.md')} and benchmarks.png from {source}")


if __name__ == "__main__":
    main()
