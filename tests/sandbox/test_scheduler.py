"""The local CronJob: schedule parsing, Forbid/Replace/Allow, runs recorded as events."""

from __future__ import annotations

import io
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sandbox.recovery import parse_log_line
from sandbox.scheduler import ScheduleError, Scheduler, parse_schedule
from sandbox.state import StateDir

pytestmark = pytest.mark.unit

SLEEP = [sys.executable, "-c", "import time; time.sleep(30)"]


def test_every_minute_fires_at_the_next_minute() -> None:
    next_after = parse_schedule("* * * * *")
    moment = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
    assert next_after(moment) == datetime(2026, 1, 1, 12, 1, tzinfo=UTC)


def test_the_time_zone_is_the_cronjobs() -> None:
    next_after = parse_schedule("0 9 * * *", "Europe/Berlin")
    fire = next_after(datetime(2026, 1, 1, 0, 0, tzinfo=UTC))
    assert fire.astimezone(UTC) == datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["every minute", "* * * *", "61 * * * *"])
def test_a_bad_schedule_names_the_cronjob_and_the_value(bad: str) -> None:
    with pytest.raises(ScheduleError, match=r"CronJob retrain spec.schedule"):
        parse_schedule(bad, where="CronJob retrain")


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ScheduleError, match="concurrencyPolicy 'Sometimes'"):
        Scheduler("retrain", "* * * * *", SLEEP, {}, io.BytesIO(), print, policy="Sometimes")


def _scheduler(
    policy: str, argv: list[str], events: list[tuple[str, dict[str, Any]]], log: Path
) -> Scheduler:
    def record(kind: str, **details: Any) -> None:
        events.append((kind, details))

    # The runs write to the log file (a real file: it is the run's stdout).
    out = log.open("ab")
    return Scheduler("retrain", "* * * * *", argv, {}, out, record, policy=policy)


def test_forbid_skips_a_time_that_comes_while_a_run_is_going(tmp_path: Path) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    scheduler = _scheduler("Forbid", SLEEP, events, tmp_path / "run.log")
    try:
        assert scheduler.fire() == "started"
        assert scheduler.fire() == "skipped"
        assert [kind for kind, _ in events] == ["retrain_start", "retrain_skipped"]
        assert events[1][1]["reason"] == "Forbid"
        assert len(scheduler.active) == 1
    finally:
        for run in scheduler.active:
            run.proc.kill()
            run.proc.wait()


def test_replace_stops_the_running_one_and_allow_overlaps(tmp_path: Path) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    replace = _scheduler("Replace", SLEEP, events, tmp_path / "run.log")
    allow = _scheduler("Allow", SLEEP, [], tmp_path / "run.log")
    try:
        replace.fire()
        first = replace.active[0].proc
        assert replace.fire() == "started"
        assert first.poll() is not None  # stopped before the new run
        assert [run.number for run in replace.active] == [2]
        allow.fire()
        allow.fire()
        assert len(allow.active) == 2
    finally:
        for run in replace.active + allow.active:
            run.proc.kill()
            run.proc.wait()


def test_a_finished_run_is_recorded_with_exit_code_and_promotion(tmp_path: Path) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    scheduler = _scheduler(
        "Forbid", [sys.executable, "-c", "raise SystemExit(3)"], events, tmp_path / "run.log"
    )
    versions = iter(["1", "2"])
    scheduler.champion = lambda: next(versions)
    scheduler.fire()
    deadline = time.monotonic() + 30
    while scheduler.active and time.monotonic() < deadline:
        scheduler.reap()
        time.sleep(0.1)
    kinds = [kind for kind, _ in events]
    assert kinds == ["retrain_start", "retrain_end", "promotion"]
    assert events[1][1]["exit_code"] == 3
    assert events[2][1] == {"run": 1, "previous": "1", "version": "2"}


def test_run_until_fires_on_schedule_and_stops_its_runs(tmp_path: Path) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    scheduler = _scheduler("Forbid", SLEEP, events, tmp_path / "run.log")
    # A clock that starts one second before a minute boundary: the first time comes at once.
    boundary = (int(time.time()) // 60 + 1) * 60
    offset = boundary - 1 - time.time()
    started = time.monotonic()
    scheduler.run_until(
        lambda: bool(events) or time.monotonic() - started > 10, lambda: time.time() + offset
    )
    assert [kind for kind, _ in events][:1] == ["retrain_start"]
    assert scheduler.active == []  # stopping the scheduler stops its run


def test_a_runs_output_is_logged_line_by_line_behind_its_time(tmp_path: Path) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    script = "import time; print('first', flush=True); time.sleep(0.3); print('second')"
    scheduler = _scheduler("Forbid", [sys.executable, "-c", script], events, tmp_path / "run.log")
    scheduler.fire()
    deadline = time.monotonic() + 30
    while scheduler.active and time.monotonic() < deadline:
        scheduler.reap()
        time.sleep(0.05)
    lines = [
        (parse_log_line(line) or (0.0, 0, ""))
        for line in (tmp_path / "run.log").read_text().splitlines()
    ]
    ran = [(number, text) for _, number, text in lines if number]
    assert ran == [(1, "first"), (1, "second")]
    first, second = (moment for moment, number, _ in lines if number)
    assert 0.25 <= second - first < 5  # each line stamped when it arrived, not at the end
    assert [kind for kind, _ in events] == ["retrain_start", "retrain_end"]


def test_a_suspended_job_skips_its_times_until_resumed(tmp_path: Path) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    scheduler = _scheduler("Forbid", SLEEP, events, tmp_path / "run.log")
    state = StateDir(tmp_path / "state")
    scheduler.suspended = lambda: state.suspended("retrain")
    state.suspend("retrain")
    try:
        assert scheduler.fire() == "skipped"
        assert events == [("retrain_skipped", {"reason": "suspended"})]
        state.suspend("retrain", False)
        assert scheduler.fire() == "started"
    finally:
        for run in scheduler.active:
            run.proc.kill()
            run.proc.wait()
