"""Drive a server with wrk (Debian) and a Lua script that POSTs one fixed JSON body."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class LoadResult:
    """What one wrk run measured."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx responses plus socket errors


def wrk_binary() -> str:
    """The wrk binary, or a clear error (scripts/bootstrap.sh installs it)."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("bench: wrk not found; run `make setup` (apt-get install wrk)")
    return path


def lua_script(directory: Path, body: bytes) -> Path:
    """A wrk script that POSTs ``body`` as JSON on every request."""
    text = body.decode()
    if "]==]" in text:
        raise ValueError("body contains the Lua long-bracket terminator")
    path = directory / f"post-{abs(hash(body))}.lua"
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = [==[{text}]==]\n"
        'wrk.headers["Content-Type"] = "application/json"\n',
        encoding="utf-8",
    )
    return path


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS[unit]


def parse_wrk(output: str) -> LoadResult:
    """Parse ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and total):
        raise RuntimeError(f"cannot parse wrk output:\n{output}")
    errors = 0
    if non_2xx := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        errors += int(non_2xx.group(1))
    if sock := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(g) for g in sock.groups())
    return LoadResult(
        requests_per_second=float(rps.group(1)),
        p50_ms=_ms(*p50.groups()),
        p99_ms=_ms(*p99.groups()),
        requests=int(total.group(1)),
        errors=errors,
    )


def run_wrk(url: str, script: Path, connections: int, seconds: int) -> LoadResult:
    """``connections`` concurrent single-request clients for ``seconds`` seconds."""
    threads = min(2, connections)  # two cores: more wrk threads only steal from the server
    argv = [
        wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "--latency", "-s", str(script), url,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 60)
    return parse_wrk(done.stdout)
