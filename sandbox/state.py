"""The sandbox's one state folder: data dirs, logs, PIDs, ports, events and the drift control.

    .sandbox/                      (SANDBOX_DIR overrides; gitignored)
      render/                      the dev stack rendered by `infra.render`
      data/<component>/            Postgres, SeaweedFS, MLflow, Prometheus data (kept on down)
      logs/<process>.log           one log per process
      processes.json               name -> pid, process start time, log, ports
      ports.json                   component -> port (reused by the next `up` when free)
      events.jsonl                 one JSON object a line: time, kind, details
      drift                        the traffic generator's drift knob, read every second
      jobs/<name>.json             what the scheduler and the traffic process run (argv, env)
      jobs/<name>.suspended        present while a scheduled job is suspended

Everything here is plain files, so `down`, `status`, `timeline` and tests read the state of a
sandbox that another process started.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.services import LOOPBACK, free_port

ENV_DIR = "SANDBOX_DIR"
# The repository root (this file is sandbox/state.py); not imported from wiring, which pulls
# in Pulumi: the traffic and scheduler processes read the state without it.
DEFAULT_DIR = Path(__file__).resolve().parents[1] / ".sandbox"


class StateError(RuntimeError):
    """The state folder is unusable or holds something unexpected; the message says which."""


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port and it can be bound now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As servers bind: a port whose old connections linger in TIME_WAIT is free for them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
        return False
    return True


def port_listening(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:port."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class StateDir:
    """Paths and small JSON files of one sandbox."""

    root: Path
    # Tests and benchmarks: never the rendered ports (8080, 5000, ...), which a person's own
    # sandbox, or another test's started at the same moment, may be about to bind.
    any_port: bool = False

    @classmethod
    def from_env(cls) -> StateDir:
        """SANDBOX_DIR when set, else .sandbox at the repository root."""
        raw = os.environ.get(ENV_DIR, "").strip()
        return cls(Path(raw).resolve() if raw else DEFAULT_DIR)

    def create(self) -> None:
        """Make the folder and its subfolders (idempotent)."""
        if self.root.exists() and not self.root.is_dir():
            raise StateError(f"{ENV_DIR}={self.root} is a file, not a folder")
        for sub in ("render", "data", "logs", "jobs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    @property
    def render_dir(self) -> Path:
        """Where the dev stack is rendered."""
        return self.root / "render"

    def data(self, component: str) -> Path:
        """The kept data folder of one component."""
        return self.root / "data" / component

    def log(self, process: str) -> Path:
        """The log file of one process."""
        return self.root / "logs" / f"{process}.log"

    def job(self, name: str) -> Path:
        """A JSON job description (argv, env) read by a sandbox process."""
        return self.root / "jobs" / f"{name}.json"

    # --- JSON files ---------------------------------------------------------------------------

    def _read(self, name: str, default: Any) -> Any:
        path = self.root / name
        if not path.exists():
            return default
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise StateError(f"{path} is not valid JSON ({exc}); delete it and retry") from exc

    def _write(self, name: str, value: Any, private: bool = False) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if private:  # holds local credentials
            tmp.chmod(0o600)
        tmp.replace(path)

    def write_job(self, name: str, value: dict[str, Any]) -> Path:
        """Write jobs/<name>.json (owner-only: it carries the local credentials)."""
        self._write(f"jobs/{name}.json", value, private=True)
        return self.job(name)

    def read_job(self, name: str) -> dict[str, Any]:
        """Read jobs/<name>.json."""
        job: dict[str, Any] | None = self._read(f"jobs/{name}.json", None)
        if job is None:
            raise StateError(f"{self.job(name)} is missing: start the sandbox with `make sandbox`")
        return job

    def suspend(self, name: str, suspended: bool = True) -> None:
        """Suspend a scheduled job or let it run again (a CronJob's spec.suspend)."""
        flag = self.root / "jobs" / f"{name}.suspended"
        if suspended:
            flag.parent.mkdir(parents=True, exist_ok=True)
            flag.touch()
        else:
            flag.unlink(missing_ok=True)

    def suspended(self, name: str) -> bool:
        """True while the scheduled job is suspended."""
        return (self.root / "jobs" / f"{name}.suspended").exists()

    # --- ports --------------------------------------------------------------------------------

    def ports(self) -> dict[str, int]:
        """Component -> port recorded by the last `up`."""
        return {str(k): int(v) for k, v in self._read("ports.json", {}).items()}

    def choose_port(self, component: str, preferred: int | None = None) -> int:
        """The port recorded for `component` if free, else `preferred` if free, else any free one.

        `any_port` skips `preferred`. The choice is recorded, so the next `up` picks the same
        port when it is free.
        """
        ports = self.ports()
        taken = {p for name, p in ports.items() if name != component}
        for candidate in (ports.get(component), None if self.any_port else preferred):
            if candidate and candidate not in taken and port_is_free(candidate):
                break
        else:
            candidate = free_port()
            while candidate in taken:
                candidate = free_port()
        ports[component] = candidate
        self._write("ports.json", ports)
        return candidate

    # --- processes ----------------------------------------------------------------------------

    def processes(self) -> dict[str, dict[str, Any]]:
        """Name -> {pid, started, log, ports, url} of every process `up` started."""
        return dict(self._read("processes.json", {}))

    def record_process(
        self, name: str, pid: int, log: Path, ports: list[int], url: str | None = None
    ) -> None:
        """Remember a started process (its start time tells it from a later one with its PID)."""
        processes = self.processes()
        processes[name] = {
            "pid": pid,
            "started": process_start_time(pid),
            "log": str(log),
            "ports": ports,
            "url": url,
        }
        self._write("processes.json", processes)

    def forget_processes(self) -> None:
        """Drop the process records (after `down`)."""
        (self.root / "processes.json").unlink(missing_ok=True)

    # --- events and drift ---------------------------------------------------------------------

    def add_event(self, kind: str, **details: Any) -> dict[str, Any]:
        """Append one event (time in epoch seconds) to events.jsonl and return it."""
        event = {"time": time.time(), "kind": kind, **details}
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "events.jsonl"
        with path.open("a+b") as out:
            # A line torn by a crash must not swallow this event: start on a new line.
            torn = out.tell() > 0 and out.seek(-1, os.SEEK_END) >= 0 and out.read(1) != b"\n"
            line = json.dumps(event, sort_keys=True) + "\n"
            out.write((("\n" + line) if torn else line).encode())
        return event

    def events(self) -> list[dict[str, Any]]:
        """Every event, oldest first (a torn last line from a crash is skipped)."""
        path = self.root / "events.jsonl"
        if not path.exists():
            return []
        events = []
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                events.append(json.loads(line))
        return events

    def set_drift(self, value: float) -> None:
        """Set the traffic generator's drift knob (0 = reference data, 1 = fully drifted)."""
        if not 0.0 <= value <= 1.0:
            raise StateError(f"drift must be within [0, 1], got {value}")
        tmp = self.root / "drift.tmp"
        tmp.write_text(f"{value}\n", encoding="utf-8")
        tmp.replace(self.root / "drift")

    def drift(self) -> float:
        """The drift knob (0 when never set or unreadable mid-write)."""
        try:
            return float((self.root / "drift").read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return 0.0


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def process_alive(record: dict[str, Any]) -> bool:
    """True when the recorded process still runs (same PID and start time, not a zombie)."""
    pid = int(record["pid"])
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state != "Z" and process_start_time(pid) == record.get("started")
