"""The HTTP benchmark's runner picks each endpoint's floor, summarises per endpoint, and the
report renders both its results file and one from before the async endpoint."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("fastapi")

from . import report  # noqa: E402
from .http import __main__ as runner  # noqa: E402


def test_selection_adds_each_endpoints_floor() -> None:
    assert runner.selected("both", ["dishka", "async-dishka"]) == ["manual", "dishka", "async-manual", "async-dishka"]
    assert runner.selected("async", None)[0] == "async-manual"
    assert "manual" not in runner.selected("async", None)
    with pytest.raises(SystemExit, match="async endpoint"):
        runner.selected("async", ["dishka"])


def test_summary_is_per_endpoint_against_its_own_floor(tmp_path) -> None:
    samples = {
        "manual": [100.0, 120.0, 110.0],
        "dishka": [50.0, 60.0, 55.0],
        "async-manual": [200.0, 180.0, 220.0],
        "async-dishka": [100.0, 90.0, 95.0],
    }
    tables = runner.summary(samples)
    assert [table["endpoint"] for table in tables] == ["sync", "async"]
    sync, async_ = ({row["variant"]: row for row in table["rows"]} for table in tables)
    assert sync["dishka"]["share_of_floor"] == pytest.approx(55 / 110)
    assert (sync["dishka"]["min"], sync["dishka"]["max"]) == (50.0, 60.0)
    assert async_["async-dishka"]["share_of_floor"] == pytest.approx(95 / 200)

    path = tmp_path / "http.json"
    settings = {"duration": 1, "rounds": 3, "connections": 32, "pinned": True}
    document = {"machine": "m", "python": "3", "implementation": "cython", "versions": {}, "settings": settings}
    path.write_text(json.dumps({**document, "endpoints": tables}))
    text = "\n".join(report.http_section(str(path)))
    assert "| `async-dishka` | 95 | 90–100 | 47.5% | 100, 90, 95 |" in text
    assert "| `dishka` | 55 | 50–60 | 50.0% | 50, 60, 55 |" in text

    old_rows = [
        {"variant": "manual", "requests_per_second": 110.0, "share_of_manual": 1.0, "runs": samples["manual"]},
        {"variant": "dishka", "requests_per_second": 55.0, "share_of_manual": 0.5, "runs": samples["dishka"]},
    ]
    path.write_text(json.dumps({**document, "rows": old_rows}))
    text = "\n".join(report.http_section(str(path)))
    assert "| `dishka` | 55 | 50–60 | 50.0% | 50, 60, 55 |" in text
    assert "async" not in text
