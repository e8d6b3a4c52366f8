"""The inference log's cost: our /predict with the log on (writing to the bench's S3) vs off.

The two servers run side by side (the idle one only waits) and take turns under the same wrk
load, in ABBA order over ROUNDS rounds: on a shared 2-core machine the load from other work
drifts over minutes, and alternating short rounds cancels that drift out of the ratio, where
two long cells one after the other would measure it.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson
from mlops_contract import env
from mlops_contract import inference_log as layout
from mlops_contract import metrics as names
from prometheus_client.parser import text_string_to_metric_families

from bench.load import lua_script, run_wrk
from bench.models import BenchModel
from bench.servers import Server, start_ours

# The budget: logging every prediction may cost at most 5% of serving throughput.
MAX_COST = 0.05
ROUNDS = 4


class ObjectStore(Protocol):
    """What the bench needs of its S3 server."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str

    def client(self) -> Any:
        """A boto3 S3 client."""


def log_env(s3: ObjectStore) -> dict[str, str]:
    """Create the log's bucket and return the environment that turns the log on."""
    s3.client().create_bucket(Bucket=layout.DEFAULT_BUCKET)
    return {
        env.INFERENCE_LOG_BUCKET: layout.DEFAULT_BUCKET,
        env.INFERENCE_LOG_ENDPOINT_URL: s3.endpoint_url,
        env.AWS_ACCESS_KEY_ID: s3.access_key,
        env.AWS_SECRET_ACCESS_KEY: s3.secret_key,
        env.AWS_DEFAULT_REGION: s3.region,
    }


def log_counters(url: str) -> str:
    """What the log did during the run, from the server's /metrics."""
    wanted = {
        f"{names.INFERENCE_LOG_ROWS_TOTAL}/predictions": "rows written",
        f"{names.INFERENCE_LOG_DROPPED_TOTAL}/predictions": "dropped",
        f"{names.INFERENCE_LOG_FLUSH_FAILURES_TOTAL}/": "failed flushes",
    }
    found = dict.fromkeys(wanted.values(), 0.0)
    for family in text_string_to_metric_families(httpx.get(url + "/metrics", timeout=10).text):
        for sample in family.samples:
            key = f"{sample.name}/{sample.labels.get('kind', '')}"
            if key in wanted:
                found[wanted[key]] = sample.value
    return ", ".join(f"{value:.0f} {label}" for label, value in found.items())


def cost_line(label: str, clients: int, off: list[float], on: list[float]) -> str:
    """One verdict: pooled throughput with the log on as a ratio of off, against MAX_COST."""
    ratio = sum(on) / max(sum(off), 1e-9)
    rounds = [b / max(a, 1e-9) for a, b in zip(off, on, strict=True)]
    verdict = "MEETS" if ratio >= 1 - MAX_COST else "MISSES"
    return (
        f"- {label}, {clients} clients, /predict with the inference log on vs off: "
        f"{statistics.mean(on):.0f} vs {statistics.mean(off):.0f} req/s, x{ratio:.3f} "
        f"(cost {1 - ratio:+.1%}; rounds x{min(rounds):.2f}..x{max(rounds):.2f}) "
        f"-> {verdict} the target (cost <= {MAX_COST:.0%})"
    )


def measure_cost(
    model: BenchModel,
    tracking_uri: str,
    clients: list[int],
    seconds: int,
    work: Path,
    extra_env: dict[str, str],
) -> list[str]:
    """Interleaved rounds of our /predict, log off and on; one verdict line per client count."""
    script = lua_script(work, orjson.dumps({"instances": [model.row]}))
    round_seconds = max(2, seconds // 2)
    servers: list[Server] = []
    try:
        servers.append(start_ours(model.name, tracking_uri, work / "log-off.log"))
        servers.append(start_ours(model.name, tracking_uri, work / "log-on.log", extra_env))
        off, on = servers
        for server in servers:
            run_wrk(server.url + "/predict", script, clients[0], 2)  # warm-up
        lines = []
        for c in clients:
            rps: dict[str, list[float]] = {"off": [], "on": []}
            for index in range(ROUNDS):
                order = [("off", off), ("on", on)] if index % 2 == 0 else [("on", on), ("off", off)]
                for name, server in order:
                    result = run_wrk(server.url + "/predict", script, c, round_seconds)
                    rps[name].append(result.requests_per_second)
            lines.append(cost_line(model.label, c, rps["off"], rps["on"]))
        lines.append(f"Inference log on {model.label}: {log_counters(on.url)}.")
    finally:
        for server in servers:
            server.stop()
    return lines
