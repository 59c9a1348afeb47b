"""benchmarks.callgrind takes the difference of two runs, with more cycles where a cycle is cheap."""

from __future__ import annotations

from . import callgrind


def test_the_count_per_cycle_is_the_difference_of_two_runs_over_their_cycles(monkeypatch) -> None:
    runs: list[tuple[str, int]] = []

    def fake_callgrind(scenario: str, variant: str, cycles: int, out: str) -> int:
        runs.append((scenario, cycles))
        return 50_000 + 7 * cycles  # one-off work, then 7 per cycle

    monkeypatch.setattr(callgrind, "callgrind", fake_callgrind)
    assert callgrind.measure("request_cycle", "c", 200, 1200, profile=False) == (7.0, None)
    assert callgrind.measure("cached_resolve", "c", 200, 1200, profile=False) == (7.0, None)
    assert runs == [
        ("request_cycle", 200),
        ("request_cycle", 1200),
        ("cached_resolve", 2000),
        ("cached_resolve", 12000),
    ]


def test_the_chain_rows_fit_a_cost_per_level() -> None:
    from ._harness import chain_fits

    rows = [
        {"scenario": scenario, "variant": variant, "instructions": fixed + per * depth + noise}
        for variant, fixed, per in (("c-fast", 20_000, 2_300), ("dishka", 23_000, 3_500))
        for scenario, depth, noise in (("chain_1", 1, 40), ("chain", 3, -80), ("chain_10", 10, 40))
    ]
    rows += [{"scenario": "async_chain", "variant": "c-fast", "instructions": 37_000}]  # one depth: no fit
    fits = {(variant, kind): fit for variant, kind, fit in chain_fits(rows)}
    assert set(fits) == {("c-fast", "sync"), ("dishka", "sync")}
    fixed, per = fits["c-fast", "sync"]
    assert abs(per - 2_300) < 20 and abs(fixed - 20_000) < 100
    assert fits["dishka", "sync"][1] > fits["c-fast", "sync"][1]
