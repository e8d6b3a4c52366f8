"""`make sandbox` end to end in a temp state folder: up, URLs answer, curl works, down is clean.

One sandbox, started once (about a minute on 2 cores): the printed URLs answer, the printed
curl line works as printed, Prometheus sees the traffic, `down` leaves no process and no
listener, and a second `up` reuses the kept data (no second bootstrap) and the same ports.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mlops_contract import metrics as m

from sandbox.stack import Sandbox
from sandbox.state import StateDir, port_listening, process_alive
from tests.sandbox.conftest import sandbox_stack_file

pytestmark = pytest.mark.integration


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Postgres runs as `postgres` when we are root: its data dir's parents must be searchable,
    # which pytest's private tmp dirs are not.
    path = Path(tempfile.mkdtemp(prefix="sandbox-test-"))
    path.chmod(0o755)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


def _wait(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(1.0)
    return False


def _prometheus_sees_traffic(prometheus: str) -> bool:
    query = f'sum(rate({m.REQUESTS_TOTAL}{{job="{m.JOB_SERVING}", route="/predict"}}[1m])) > 0'
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=10)
    return bool(answer.json()["data"]["result"])


def _assert_all_gone(state: StateDir, records: dict[str, dict[str, object]]) -> None:
    assert not [name for name, record in records.items() if process_alive(record)]
    ports = sorted({p for r in records.values() for p in r["ports"]})  # type: ignore[attr-defined]
    assert ports, records
    assert [p for p in ports if port_listening(p)] == []
    assert state.processes() == {}


def test_up_serves_the_loop_and_down_leaves_nothing(state_dir: Path) -> None:
    state = StateDir(state_dir)
    printed: list[str] = []
    sandbox = Sandbox(state, say=printed.append, stack_file=sandbox_stack_file(state_dir))
    try:
        urls = sandbox.up()
        assert any("starting postgres" in line for line in printed)  # progress lines
        for name in ("mlflow", "prometheus", "serving-0", "serving-1", "pushgateway"):
            assert any(urls[name] in line for line in printed), name
        assert httpx.get(f"{urls['mlflow']}/health", timeout=10).status_code == 200
        assert httpx.get(f"{urls['prometheus']}/-/ready", timeout=10).status_code == 200
        for replica in ("serving-0", "serving-1"):
            assert httpx.get(f"{urls[replica]}/readyz", timeout=10).status_code == 200
        assert httpx.get(f"{urls['serving-0']}/docs", timeout=10).status_code == 200

        # The curl line works exactly as printed.
        curl = next(line.strip() for line in printed if line.strip().startswith("curl "))
        answer = subprocess.run(  # noqa: S602  # the printed line, run as a user would
            curl, shell=True, capture_output=True, text=True, timeout=30, check=True
        )
        body = json.loads(answer.stdout)
        assert body["predictions"] in ([0], [1])
        assert len(body["ids"]) == 1

        # The traffic generator's requests reach Prometheus through the rendered scrape jobs.
        assert _wait(lambda: _prometheus_sees_traffic(urls["prometheus"]), 100), state.events()
        counters = json.loads((state_dir / "traffic.json").read_text())
        assert counters["ok"] > 0, counters
        assert counters["failed"] == 0, counters
        assert [e["kind"] for e in state.events()].count("promotion") == 1  # the bootstrap
    finally:
        records = state.processes()
        sandbox.down()
    _assert_all_gone(state, records)

    # State survives a restart: same ports, the champion is kept (no second bootstrap).
    ports = state.ports()
    again = Sandbox(state, say=printed.append, stack_file=sandbox_stack_file(state_dir))
    try:
        again.up()
        assert state.ports() == ports
        assert any("champion exists" in line for line in printed)
        assert [e["kind"] for e in state.events()].count("promotion") == 1
    finally:
        records = state.processes()
        again.down()
    _assert_all_gone(state, records)
    assert any((state_dir / "data").iterdir())  # data kept on down
