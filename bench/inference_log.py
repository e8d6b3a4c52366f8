"""The inference log's cost: our /predict with the log on (writing to the bench's S3) vs off."""

from __future__ import annotations

from typing import Any, Protocol

import httpx
from mlops_contract import env
from mlops_contract import inference_log as layout
from mlops_contract import metrics as names
from prometheus_client.parser import text_string_to_metric_families

# The budget: logging every prediction may cost at most 5% of serving throughput.
MAX_COST = 0.05
LOG_OFF = "serving /predict"
LOG_ON = "serving /predict, inference log on"


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
    """What the log did during the run, from the server's /metrics (checked before the ratio)."""
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


def cost_line(model: str, clients: int, off_rps: float, on_rps: float) -> str:
    """One verdict: throughput with the log on as a ratio of off, against MAX_COST."""
    ratio = on_rps / max(off_rps, 1e-9)
    verdict = "MEETS" if ratio >= 1 - MAX_COST else "MISSES"
    return (
        f"- {model}, {clients} clients, inference log: on/off throughput x{ratio:.3f} "
        f"(cost {1 - ratio:+.1%}) -> {verdict} the target (cost <= {MAX_COST:.0%})"
    )
