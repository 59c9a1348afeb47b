"""The memory benchmark runs every variant with its ledger checked, and the report's
per-version table reads the files of each CPython together."""

from __future__ import annotations

import json

import pytest

from . import memory, report


@pytest.mark.parametrize("variant", sorted(memory.VARIANTS))
def test_an_open_scope_holds_memory_and_its_sessions_are_committed(variant: str) -> None:
    assert memory.measure(variant, 200) > 0  # the ledger check raises if a session went astray


def test_the_version_table_joins_the_files_of_each_version_in_version_order(tmp_path) -> None:
    def write(name: str, python: str, n1: int, n2: int, rows: list[tuple[str, str, int]]) -> str:
        path = tmp_path / name
        results = [{"scenario": s, "variant": v, "instructions": i} for s, v, i in rows]
        path.write_text(json.dumps({"python": python, "machine": "x", "n1": n1, "n2": n2, "results": results}))
        return str(path)

    paths = [
        write("3.9.json", "3.9.1", 200, 1200, [("request_cycle", "c", 100), ("request_cycle", "dishka", 400)]),
        write(
            "3.10.json",
            "3.10.2",
            200,
            1200,
            [
                ("request_cycle", "c", 150),
                ("request_cycle", "dishka", 300),
                ("service_graph", "c-fast", 90),
                ("service_graph", "dishka-fastapi", 150),
            ],
        ),
        write("3.10-scaling.json", "3.10.2", 20, 220, [("resources_100", "c", 70), ("resources_100", "dishka", 100)]),
    ]
    lines = report.versions_section(sorted(paths))
    assert lines[2].endswith("| CPython 3.9.1 | CPython 3.10.2 |")
    assert "200 and 1200 cycles, 20 and 220 cycles for the rows with resources per request" in lines[0]
    cycle = next(line for line in lines if line.startswith("| 3. request cycle"))
    assert cycle.endswith("| ≤ 0.40× | 0.25× (100 / 400) | 0.50× (150 / 300) |")
    scaling = next(line for line in lines if "100 resources" in line)
    assert scaling.endswith("| ≤ 0.70× | — | 0.70× (70 / 100) |")
    fast = next(line for line in lines if "`c-fast` / `dishka-fastapi`" in line)
    assert fast.endswith("| — | — | 0.60× (90 / 150) |")
    assert not any("`c-fast` / `dishka` |" in line for line in lines)  # dishka's container not measured
    assert not any(line.startswith("| 1. cached resolve") for line in lines)  # measured nowhere
    assert report.versions_section([])[0].startswith("Not measured yet")
