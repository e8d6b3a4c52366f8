"""The state folder: where it is, ports reused when free, events, drift, processes by PID."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox.services import free_port
from sandbox.state import (
    DEFAULT_DIR,
    StateDir,
    StateError,
    port_listening,
    process_alive,
    process_start_time,
)
from sandbox.stopping import stop_processes

pytestmark = pytest.mark.unit


def test_sandbox_dir_overrides_the_repo_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SANDBOX_DIR", raising=False)
    assert StateDir.from_env().root == DEFAULT_DIR
    assert DEFAULT_DIR.name == ".sandbox"
    monkeypatch.setenv("SANDBOX_DIR", str(tmp_path / "state"))
    state = StateDir.from_env()
    state.create()
    assert state.root == tmp_path / "state"
    assert {p.name for p in state.root.iterdir()} >= {"render", "data", "logs", "jobs"}


def test_a_file_where_the_folder_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StateError, match="is a file"):
        StateDir(tmp_path / "file").create()


def test_the_same_port_is_chosen_again_when_free_and_another_when_taken(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    first = state.choose_port("mlflow")
    assert StateDir(tmp_path).choose_port("mlflow") == first
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", first))
        holder.listen()
        second = state.choose_port("mlflow")
    assert second != first
    assert state.ports() == {"mlflow": second}
    # Two components never share a port, even when one prefers the other's.
    assert state.choose_port("prometheus", preferred=second) != second


def test_events_are_appended_and_a_torn_line_is_skipped(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.add_event("drift", value=1.0)
    with (tmp_path / "events.jsonl").open("a") as out:
        out.write('{"time": 1, "kind": "tor')
    state.add_event("swap", replica="a")
    kinds = [event["kind"] for event in state.events()]
    assert kinds == ["drift", "swap"]


def test_drift_is_bounded_and_defaults_to_zero(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    assert state.drift() == 0.0
    state.set_drift(0.7)
    assert state.drift() == 0.7
    with pytest.raises(StateError, match=r"within \[0, 1\]"):
        state.set_drift(1.5)


def test_a_missing_job_file_says_how_to_start(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="make sandbox"):
        StateDir(tmp_path).read_job("traffic")


def test_processes_are_stopped_by_group_and_a_reused_pid_is_left_alone(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    # A leader that forks a child into its own group: stopping the group stops both.
    code = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    state.record_process("worker", proc.pid, tmp_path / "w.log", [])
    record = state.processes()["worker"]
    assert process_alive(record)
    impostor = {**record, "started": (process_start_time(proc.pid) or 0) + 1}
    assert not process_alive(impostor)  # same PID, other start time: not ours
    assert stop_processes({"impostor": impostor}) == []
    assert proc.poll() is None  # untouched
    time.sleep(0.3)
    assert stop_processes(state.processes(), timeout=10) == []
    assert proc.wait(timeout=5) is not None
    assert _group_members(proc.pid) == []


def _group_members(pgid: int, wait: float = 5.0) -> list[int]:
    """Live (non-zombie) processes of a process group, after up to `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        found = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, check=False)
        live = [
            int(pid)
            for pid in found.stdout.split()
            if process_alive({"pid": int(pid), "started": process_start_time(int(pid))})
        ]
        if not live or time.monotonic() > deadline:
            return live
        time.sleep(0.2)


def test_port_listening_sees_a_listener() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_listening(port)
    assert not port_listening(port)


def test_any_port_never_takes_the_rendered_port(tmp_path: Path) -> None:
    rendered = free_port()  # free now, as 8080 would be on a fresh machine
    assert StateDir(tmp_path / "a").choose_port("serving-0", rendered) == rendered
    assert StateDir(tmp_path / "b", any_port=True).choose_port("serving-0", rendered) != rendered
