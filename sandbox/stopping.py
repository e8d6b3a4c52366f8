"""Stop recorded processes by PID and process group, and wait until they are gone."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.state import process_alive

# Postgres's fast shutdown (SIGINT) disconnects clients; SIGTERM would wait for them to leave.
STOP_SIGNALS = {"postgres": signal.SIGINT}


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our child (else it is not a zombie of ours)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _signal(name: str, pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if name in STOP_SIGNALS and sig != signal.SIGKILL:
            os.kill(pid, sig)  # the postmaster stops its own children
        else:
            os.killpg(pid, sig)  # each process leads its own group (start_new_session)


def _wait_gone(records: Mapping[str, dict[str, Any]], timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        for record in records.values():
            _reap(int(record["pid"]))
        alive = [name for name, record in records.items() if process_alive(record)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.2)


def stop_processes(records: Mapping[str, dict[str, Any]], timeout: float = 60.0) -> list[str]:
    """SIGTERM every live recorded process (SIGINT for Postgres), SIGKILL what outlives it.

    Only processes whose PID and start time match their record are signalled, so a PID reused
    since is left alone. Returns the names still alive at the end (normally none).
    """
    live = {name: r for name, r in records.items() if process_alive(r)}
    for name, record in live.items():
        _signal(name, int(record["pid"]), STOP_SIGNALS.get(name, signal.SIGTERM))
    stubborn = _wait_gone(live, timeout)
    for name in stubborn:
        _signal(name, int(live[name]["pid"]), signal.SIGKILL)
    left = _wait_gone({n: live[n] for n in stubborn}, 10.0)
    # Whatever a leader left behind in its group (a worker) goes too.
    for name, record in live.items():
        if name not in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(record["pid"]), signal.SIGKILL)
    return left


def stop_requested() -> Callable[[], bool]:
    """Install SIGTERM/SIGINT handlers; the returned function says whether one came.

    The sandbox's own processes (scheduler, traffic) finish their current step and exit.
    """
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return lambda: bool(received)
