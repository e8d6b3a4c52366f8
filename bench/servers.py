"""Start the two servers under test and sample their peak RSS."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from mlops_contract import env as contract_env

from sandbox.services import LOOPBACK, free_port


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants (what a pod would be charged)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                stack.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


class Server:
    """One server process (group) with a background peak-RSS sampler."""

    def __init__(self, label: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.label = label
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            argv, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.log = log
        self.peak_rss = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_rss = max(self.peak_rss, tree_rss_bytes(self.proc.pid))

    def wait_ok(self, path: str, timeout: float = 180.0) -> None:
        """Wait until ``path`` answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.label} not ready:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        """Stop the process group (the mlflow CLI runs uvicorn as a child)."""
        self._stop.set()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()


def start_mlflow_serve(model_uri: str, tracking_uri: str, log: Path) -> Server:
    """The baseline: ``mlflow models serve`` with one worker in this environment."""
    env = {**os.environ, contract_env.MLFLOW_TRACKING_URI: tracking_uri}
    argv = [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri,
        "--env-manager", "local", "--workers", "1", "--host", LOOPBACK, "--port", "{port}",
    ]  # fmt: skip
    server = Server("mlflow models serve", argv, env, log)
    server.wait_ok("/ping")
    return server


def start_ours(
    model_name: str, tracking_uri: str, log: Path, extra_env: dict[str, str] | None = None
) -> Server:
    """Our app, started as the Dockerfile's CMD starts it (one uvicorn worker)."""
    env = {
        **os.environ,
        contract_env.MLFLOW_TRACKING_URI: tracking_uri,
        contract_env.MODEL_NAME: model_name,
    }
    env.update(extra_env or {})
    argv = [
        sys.executable, "-m", "uvicorn", "serving.main:app", "--host", LOOPBACK,
        "--port", "{port}", "--workers", "1",
    ]  # fmt: skip
    server = Server("serving", argv, env, log)
    server.wait_ok("/readyz")
    return server
