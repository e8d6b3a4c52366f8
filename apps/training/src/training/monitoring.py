"""Prometheus: read the signals retrain decides on; Pushgateway: report how the run went."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import requests
from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

from training.errors import TrainingError

# Metric names from docs/contracts.md (exported by serving). A pod that has had no feedback
# yet exports NaN; `>= 0` drops those series (NaN compares false) so one idle replica cannot
# turn the fleet's average into NaN and hide an accuracy drop.
DRIFT_QUERY = "max(serving_feature_drift_psi >= 0)"
ONLINE_ACCURACY_QUERY = "avg(serving_online_accuracy_ratio >= 0)"
OFFLINE_ACCURACY_QUERY = "avg(serving_model_offline_accuracy_ratio >= 0)"
OUTCOMES = ("skipped", "promoted", "rejected", "failed")
PUSH_JOB = "retrain"


@dataclass(frozen=True, kw_only=True)
class Signals:
    """What Prometheus knows right now; None where no series exists yet."""

    max_psi: float | None
    online_accuracy: float | None
    offline_accuracy: float | None


def query_scalar(base_url: str, promql: str, timeout: float = 5.0) -> float | None:
    """Run an instant query that yields at most one sample; None when it yields none."""
    url = f"{base_url.rstrip('/')}/api/v1/query"
    try:
        resp = requests.get(url, params={"query": promql}, timeout=timeout)
    except requests.ConnectionError as exc:
        raise TrainingError(f"Prometheus at {base_url}: connection refused or unreachable") from exc
    except requests.Timeout as exc:
        raise TrainingError(f"Prometheus at {base_url}: no answer within {timeout:g} s") from exc
    if resp.status_code != 200:
        raise TrainingError(
            f"Prometheus at {base_url}: query {promql!r} answered HTTP {resp.status_code}"
        )
    try:
        body = resp.json()
        result = body["data"]["result"]
    except (ValueError, KeyError, TypeError) as exc:
        raise TrainingError(f"Prometheus at {base_url}: unexpected answer to {promql!r}") from exc
    if not result:
        return None
    value = float(result[0]["value"][1])
    return None if math.isnan(value) else value


def read_signals(base_url: str) -> Signals:
    """Max drift PSI over features and pods, and online vs offline accuracy."""
    return Signals(
        max_psi=query_scalar(base_url, DRIFT_QUERY),
        online_accuracy=query_scalar(base_url, ONLINE_ACCURACY_QUERY),
        offline_accuracy=query_scalar(base_url, OFFLINE_ACCURACY_QUERY),
    )


def push_outcome(gateway_url: str, outcome: str, started: float, finished: float) -> None:
    """Push the run's outcome (contracts.md, job="retrain"); pushadd keeps the last success time.

    `retrain_last_success_timestamp_seconds` is only pushed when the run succeeded, and
    pushadd (POST) replaces only the metrics pushed, so a failure leaves it in place.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    reg = CollectorRegistry()
    Gauge(
        "retrain_last_run_timestamp_seconds", "When the last retrain run finished.", registry=reg
    ).set(finished)
    Gauge("retrain_last_duration_seconds", "Duration of the last retrain run.", registry=reg).set(
        finished - started
    )
    Gauge(
        "retrain_last_outcome", "Outcome of the last retrain run (=1).", ["outcome"], registry=reg
    ).labels(outcome=outcome).set(1)
    if outcome != "failed":
        Gauge(
            "retrain_last_success_timestamp_seconds",
            "When the last retrain run succeeded.",
            registry=reg,
        ).set(finished)
    try:
        pushadd_to_gateway(gateway_url, job=PUSH_JOB, registry=reg, timeout=5)
    except OSError as exc:
        raise TrainingError(f"Pushgateway at {gateway_url}: {exc}") from exc


def now() -> float:
    """Wall-clock seconds (the timestamps Prometheus expects)."""
    return time.time()
