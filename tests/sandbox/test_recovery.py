"""Time to recover from events and the scheduler log: phases back to back, gaps named."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.recovery import PHASES, RecoveryError, parse_log_line, recovery
from sandbox.scheduler import log_stamp

pytestmark = pytest.mark.unit

ONSET = 1_800_000_000.0
REPLICAS = ["http://127.0.0.1:8080", "http://127.0.0.1:8081"]


def _log(run: int, lines: list[tuple[float, str]]) -> str:
    return "\n".join(f"[{log_stamp(ONSET + t)}] run {run}: {text}" for t, text in lines)


def _events(swaps: list[tuple[float, str]]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"time": ONSET - 100, "kind": "promotion", "run": "bootstrap", "version": "1"},
        {"time": ONSET, "kind": "drift", "value": 1.0},
        {"time": ONSET + 20, "kind": "retrain_start", "run": 1},
        {"time": ONSET + 21, "kind": "retrain_end", "run": 1},  # skipped: PSI not over yet
        {"time": ONSET + 80, "kind": "retrain_start", "run": 2},
        {"time": ONSET + 95, "kind": "promotion", "run": 2, "previous": "1", "version": "2"},
    ]
    events += [{"time": ONSET + t, "kind": "swap", "replica": r, "version": "2"} for t, r in swaps]
    return sorted(events, key=lambda e: e["time"])


RUN_2 = [
    (80.7, "[retrain +0.3s] decision: retrain (drift: max PSI 0.622 > 0.200)"),
    (83.2, "[retrain +2.8s] holdout snapshot s3://datasets/inference-log-holdout-x/ab.parquet"),
    (
        84.0,
        "[retrain +3.6s] snapshot s3://datasets/inference-log-x-last-3min/cd.parquet (uploaded)",
    ),
    (88.5, "[retrain +8.1s] registered traffic-congestion version 2 (run 16b8)"),
    (90.0, "[retrain +9.6s] PROMOTED: accuracy 0.7460 vs champion 0.5873 within tolerance"),
]


def test_the_phases_run_back_to_back_from_onset_to_the_last_replica() -> None:
    swaps = [(91.0, REPLICAS[1]), (92.5, REPLICAS[0])]
    timed = recovery(_events(swaps), _log(2, RUN_2), REPLICAS, ONSET)
    assert (timed.version, timed.run) == ("2", 2)
    assert timed.reason == "drift: max PSI 0.622 > 0.200"
    expected = {"detection": 80.0, "data": 4.0, "training": 4.5, "gate": 1.5, "swap": 2.5}
    assert list(timed.phases) == list(PHASES)
    assert timed.phases == pytest.approx(expected, abs=0.002)
    assert timed.total == pytest.approx(92.5, abs=0.002)


def test_a_replica_that_never_swapped_is_named() -> None:
    with pytest.raises(RecoveryError, match="8081"):
        recovery(_events([(92.5, REPLICAS[0])]), _log(2, RUN_2), REPLICAS, ONSET)


def test_no_promotion_after_the_onset_is_not_a_recovery() -> None:
    with pytest.raises(RecoveryError, match="no promotion"):
        recovery(_events([]), _log(2, RUN_2), REPLICAS, ONSET + 100)


def test_another_runs_lines_do_not_count() -> None:
    with pytest.raises(RecoveryError, match="run 2 printed no"):
        recovery(_events([(92.5, r) for r in REPLICAS]), _log(1, RUN_2), REPLICAS, ONSET)


def test_scheduler_lines_are_not_run_output() -> None:
    assert parse_log_line(f"[{log_stamp(ONSET)}] scheduler: run 2: python -m training") is None
    parsed = parse_log_line(f"[{log_stamp(ONSET + 1.25)}] run 2: [retrain +0.1s] hello")
    assert parsed == (pytest.approx(ONSET + 1.25, abs=0.002), 2, "[retrain +0.1s] hello")
