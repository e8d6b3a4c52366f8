"""The rendered CronJob, run on this machine: its schedule, command, env and concurrency policy.

    python -m sandbox.scheduler --state .sandbox --job retrain

reads jobs/<job>.json (written by `up` from the rendered CronJob: schedule, timeZone,
concurrencyPolicy, activeDeadlineSeconds, the localized argv and env), then fires like the
CronJob controller: at each schedule time (croniter) it starts one run; with `Forbid` a time that
comes while a run is still going is skipped (and logged), with `Replace` the running one is
stopped first, with `Allow` runs overlap; while the job is suspended (`spec.suspend`; here
jobs/<job>.suspended, set by `Sandbox.suspend`) every time is skipped. Every run is logged and
recorded as events (retrain_start, retrain_end with exit code and seconds, promotion when the
alias moved). Each line a run prints is copied to the log behind its arrival time and run number
(`[2026-01-01T12:00:01.234Z] run 3: [retrain +1.2s] decision: ...`), so the phases of a run can be
timed against the events (sandbox.recovery).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]  # ships no type information

from sandbox.state import StateDir
from sandbox.stopping import stop_requested

POLICIES = ("Forbid", "Replace", "Allow")
# A run with no activeDeadlineSeconds is still bounded: the sandbox stops it after this.
DEFAULT_DEADLINE_SECONDS = 900.0


class ScheduleError(ValueError):
    """The rendered CronJob cannot be run as written; the message names the field."""


def parse_schedule(
    expression: str, time_zone: str | None = None, where: str = "CronJob"
) -> Callable[[datetime], datetime]:
    """Return `next_after(t)` for a cron expression, as the CronJob controller reads it.

    Raises:
        ScheduleError: naming `where`, the field and the value.
    """
    if not croniter.is_valid(expression):
        raise ScheduleError(
            f"{where} spec.schedule {expression!r} is not a cron expression "
            "(five fields: minute hour day-of-month month day-of-week)"
        )
    try:
        zone = ZoneInfo(time_zone) if time_zone else UTC
    except (ValueError, KeyError) as exc:
        raise ScheduleError(f"{where} spec.timeZone {time_zone!r} is unknown: {exc}") from exc

    def next_after(moment: datetime) -> datetime:
        fire: datetime = croniter(expression, moment.astimezone(zone)).get_next(datetime)
        return fire

    return next_after


def champion_version(tracking_uri: str, model: str, alias: str) -> str | None:
    """The version `alias` points at in the registry, None when unset or unreachable."""
    query = urllib.parse.urlencode({"name": model, "alias": alias})
    url = f"{tracking_uri.rstrip('/')}/api/2.0/mlflow/registered-models/alias?{query}"
    try:
        # The loopback MLflow the sandbox started.
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            body = json.loads(response.read())
    except (urllib.error.URLError, OSError, json.JSONDecodeError):
        return None
    version = body.get("model_version", {}).get("version")
    return str(version) if version is not None else None


@dataclass
class Run:
    """One started run of the job."""

    number: int
    proc: subprocess.Popen[bytes]
    started: float
    champion_before: str | None
    copier: threading.Thread | None = None


@dataclass
class Scheduler:
    """Fires a command on a cron schedule with a CronJob's concurrency policy."""

    name: str
    schedule: str
    argv: list[str]
    env: dict[str, str]
    log: IO[bytes]
    record: Callable[..., Any]
    policy: str = "Forbid"
    time_zone: str | None = None
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    champion: Callable[[], str | None] = lambda: None
    # A CronJob's spec.suspend: while true, schedule times pass without a run (a run going on
    # finishes). The sandbox reads it from a file, so another process can set it.
    suspended: Callable[[], bool] = lambda: False
    active: list[Run] = field(default_factory=list)
    runs: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        """Check the schedule and policy up front: a bad CronJob fails at start, not at 3am."""
        self.next_after = parse_schedule(self.schedule, self.time_zone, f"CronJob {self.name}")
        if self.policy not in POLICIES:
            raise ScheduleError(
                f"CronJob {self.name} spec.concurrencyPolicy {self.policy!r} is not one of "
                f"{', '.join(POLICIES)}"
            )

    def _write(self, source: str, line: bytes) -> None:
        """One log line behind its arrival time; runs and the scheduler share the log."""
        head = f"[{log_stamp(time.time())}] {source}: ".encode()
        with self._lock:
            self.log.write(head + line.rstrip(b"\n") + b"\n")
            self.log.flush()

    def _say(self, line: str) -> None:
        self._write("scheduler", line.encode())

    def _copy(self, number: int, stream: IO[bytes]) -> None:
        """Copy a run's output to the log line by line, as it arrives (a thread per run)."""
        for line in iter(stream.readline, b""):
            self._write(f"run {number}", line)
        stream.close()

    def fire(self) -> str:
        """One schedule time has come: start a run, or skip it; returns started|skipped."""
        self.reap()
        if self.suspended():
            self._say("skipped: suspended")
            self.record(f"{self.name}_skipped", reason="suspended")
            return "skipped"
        if self.active and self.policy == "Forbid":
            running = ", ".join(str(run.number) for run in self.active)
            self._say(f"skipped: run {running} still running (concurrencyPolicy Forbid)")
            self.record(f"{self.name}_skipped", reason="Forbid", running=running)
            return "skipped"
        if self.active and self.policy == "Replace":
            for run in self.active:
                self._say(f"stopping run {run.number} (concurrencyPolicy Replace)")
                self._stop(run)
            self.reap()
        self.runs += 1
        before = self.champion()
        self._say(f"run {self.runs}: {' '.join(self.argv)}")
        proc = subprocess.Popen(
            self.argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        output = cast(IO[bytes], proc.stdout)  # stdout=PIPE: never None
        copier = threading.Thread(target=self._copy, args=(self.runs, output), daemon=True)
        copier.start()
        self.active.append(Run(self.runs, proc, time.time(), before, copier))
        self.record(f"{self.name}_start", run=self.runs, pid=proc.pid, champion=before)
        return "started"

    def _stop(self, run: Run) -> None:
        run.proc.terminate()
        try:
            run.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            run.proc.kill()
            run.proc.wait(timeout=15)

    def reap(self) -> list[int]:
        """Record every finished run (and stop runs past their deadline); return exit codes."""
        codes = []
        for run in list(self.active):
            if run.proc.poll() is None and time.time() - run.started > self.deadline_seconds:
                self._say(f"run {run.number} exceeded {self.deadline_seconds:.0f}s: stopping it")
                self._stop(run)
            code = run.proc.poll()
            if code is None:
                continue
            self.active.remove(run)
            if run.copier is not None:
                run.copier.join(timeout=10)  # the run's last lines before its end is recorded
            seconds = round(time.time() - run.started, 1)
            after = self.champion()
            self._say(f"run {run.number} exited {code} after {seconds}s")
            self.record(
                f"{self.name}_end", run=run.number, exit_code=code, seconds=seconds, champion=after
            )
            if after is not None and after != run.champion_before:
                self.record(
                    "promotion", run=run.number, previous=run.champion_before, version=after
                )
            codes.append(code)
        return codes

    def run_until(self, stop: Callable[[], bool], now: Callable[[], float] = time.time) -> None:
        """Fire at every schedule time until `stop()`; each wait is at most one second."""
        self._say(f"schedule {self.schedule!r} policy {self.policy}")
        due = self.next_after(datetime.fromtimestamp(now(), UTC))
        while not stop():
            if now() >= due.timestamp():
                self.fire()
                due = self.next_after(datetime.fromtimestamp(now(), UTC))
                self._say(f"next run at {due.isoformat()}")
            self.reap()
            time.sleep(min(1.0, max(0.05, due.timestamp() - now())))
        for run in self.active:
            self._stop(run)
        self.reap()


def log_stamp(moment: float) -> str:
    """The log's time stamp: UTC with milliseconds (sandbox.recovery parses it back)."""
    stamp = datetime.fromtimestamp(moment, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def from_job(job: Mapping[str, Any], log: IO[bytes], record: Callable[..., Any]) -> Scheduler:
    """A Scheduler for a job file written by `up` (see sandbox.stack)."""
    env = dict(job["env"])
    tracking_uri = job.get("tracking_uri")
    model, alias = job.get("model_name"), job.get("model_alias")

    def champion() -> str | None:
        if not (tracking_uri and model and alias):
            return None
        return champion_version(tracking_uri, model, alias)

    return Scheduler(
        name=str(job["name"]),
        schedule=str(job["schedule"]),
        argv=list(job["argv"]),
        env=env,
        log=log,
        record=record,
        policy=str(job.get("concurrency_policy") or "Allow"),
        time_zone=job.get("time_zone"),
        deadline_seconds=float(job.get("deadline_seconds") or DEFAULT_DEADLINE_SECONDS),
        champion=champion,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scheduler until SIGTERM (the sandbox's `down`)."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.scheduler", description=__doc__)
    parser.add_argument("--state", type=Path, required=True, help="the sandbox state folder")
    parser.add_argument("--job", default="retrain", help="jobs/<job>.json to run")
    args = parser.parse_args(argv)
    state = StateDir(args.state)
    stopping = stop_requested()
    scheduler = from_job(state.read_job(args.job), sys.stdout.buffer, state.add_event)
    scheduler.suspended = lambda: state.suspended(args.job)
    scheduler.run_until(stopping)
    return 0


if __name__ == "__main__":
    sys.exit(main())
