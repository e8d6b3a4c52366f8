"""Time to recover: from a drift onset to the new champion serving on every replica, by phase.

Read from the state folder alone: the events (drift, retrain_start, promotion, swap) and the
scheduler's log, where every line a retrain run prints carries its arrival time and run number
(sandbox.scheduler). The phases follow each other without gaps, so they add up to the total:

    detection  drift onset -> start of the scheduled run that retrains (the skipped checks and
               the wait for the next schedule time are in here)
    data       run start -> the training set's snapshot is stored (interpreter start, reading
               the inference log and Prometheus, the decision, the holdout and training snapshots)
    training   -> the version is registered (fit, logging to MLflow, registration)
    gate       -> PROMOTED (candidate and champion scored on the recent holdout, aliases moved)
    swap       -> the last replica answers with the new version (the traffic's swap events)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PHASES = ("detection", "data", "training", "gate", "swap")
_LOG_LINE = re.compile(r"^\[(?P<stamp>[0-9T:.\-]+Z)\] run (?P<run>\d+): (?P<text>.*)$")
# Milestones in `python -m training retrain`'s progress lines (training.cli, training.recipe).
_DECISION = re.compile(r"\] decision: retrain \((?P<reason>.*)\)$")
_SNAPSHOT = re.compile(r"^\[retrain \+[\d.]+s\] snapshot s3://")
_REGISTERED = re.compile(r"\] registered \S+ version (?P<version>\d+) ")
_PROMOTED = re.compile(r"\] PROMOTED: ")


class RecoveryError(LookupError):
    """The events or the log lack a step of the recovery; the message names it."""


def parse_log_line(line: str) -> tuple[float, int, str] | None:
    """(epoch seconds, run number, text) of a run's output line in the scheduler log, else None."""
    found = _LOG_LINE.match(line)
    if found is None:
        return None
    moment = datetime.strptime(found["stamp"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    return moment, int(found["run"]), found["text"]


def run_output(log_text: str, run: int) -> list[tuple[float, str]]:
    """(time, text) of every line one run printed, oldest first."""
    lines = (parse_log_line(line) for line in log_text.splitlines())
    return [(moment, text) for moment, number, text in filter(None, lines) if number == run]


@dataclass(frozen=True)
class Recovery:
    """One recovery: the version that took over, the run that made it, seconds per phase."""

    onset: float
    version: str
    run: int
    reason: str
    phases: dict[str, float]

    @property
    def total(self) -> float:
        """Drift onset -> the last replica serving the new version."""
        return sum(self.phases.values())


def _first(lines: list[tuple[float, str]], pattern: re.Pattern[str], what: str) -> float:
    for moment, text in lines:
        if pattern.search(text):
            return moment
    raise RecoveryError(f"the retrain run's output has no {what} line")


def recovery(
    events: Sequence[dict[str, Any]], log_text: str, replicas: Sequence[str], onset: float
) -> Recovery:
    """The first promotion by a scheduled run after `onset`, timed phase by phase.

    Raises:
        RecoveryError: naming the missing event or log line.
    """
    promotion = next(
        (
            e
            for e in events
            if e["kind"] == "promotion" and e["time"] > onset and isinstance(e.get("run"), int)
        ),
        None,
    )
    if promotion is None:
        raise RecoveryError("no promotion by a scheduled retrain after the drift onset")
    run, version = int(promotion["run"]), str(promotion["version"])
    start = next(
        (e["time"] for e in events if e["kind"] == "retrain_start" and e.get("run") == run), None
    )
    if start is None:
        raise RecoveryError(f"no retrain_start event for run {run}")
    lines = run_output(log_text, run)
    reason = next((m["reason"] for _, t in lines if (m := _DECISION.search(t))), None)
    if reason is None:
        raise RecoveryError(f"run {run} printed no `decision: retrain (...)` line")
    snapshot = _first(lines, _SNAPSHOT, "training-set `snapshot s3://...`")
    registered = _first(lines, _REGISTERED, f"`registered ... version {version}`")
    promoted = _first(lines, _PROMOTED, "`PROMOTED:`")
    serving: dict[str, float] = {}
    for e in events:
        if e["kind"] == "swap" and str(e.get("version")) == version and e["time"] >= start:
            serving.setdefault(str(e["replica"]), float(e["time"]))
    missing = [r for r in replicas if r not in serving]
    if missing:
        raise RecoveryError(f"no swap to version {version} seen on {', '.join(missing)}")
    swapped = max(serving[r] for r in replicas)
    marks = [onset, start, snapshot, registered, promoted, swapped]
    phases = {name: marks[i + 1] - marks[i] for i, name in enumerate(PHASES)}
    return Recovery(onset=onset, version=version, run=run, reason=reason, phases=phases)
