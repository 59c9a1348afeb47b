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
