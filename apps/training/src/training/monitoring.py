"""Prometheus: read the signals retrain decides on; Pushgateway: report how the run went."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import requests
from mlops_contract import metrics as m
from mlops_contract import signals
from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

from training.errors import TrainingError

# The contract's signal expressions, the ones the recording rules record, so retrain decides on
# the same figures the alerts show. The drift signal is the largest PSI over every feature.
DRIFT_QUERY = f"max({signals.max_psi()})"
ONLINE_ACCURACY_QUERY = signals.online_accuracy()
OFFLINE_ACCURACY_QUERY = signals.offline_accuracy()
LABELLED_QUERY = signals.labelled_feedback()
OUTCOMES = m.RETRAIN_OUTCOMES
PUSH_JOB = m.JOB_RETRAIN


@dataclass(frozen=True, kw_only=True)
class Signals:
    """What Prometheus knows right now; None where no series exists yet."""

    max_psi: float | None
    online_accuracy: float | None
    offline_accuracy: float | None
    # Labelled feedback rows over signals.LABELLED_WINDOW: the accuracy drop's minimum-rows guard.
    labelled: float | None


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
    """Max drift PSI over features and pods, online vs offline accuracy, labelled rows."""
    return Signals(
        max_psi=query_scalar(base_url, DRIFT_QUERY),
        online_accuracy=query_scalar(base_url, ONLINE_ACCURACY_QUERY),
        offline_accuracy=query_scalar(base_url, OFFLINE_ACCURACY_QUERY),
        labelled=query_scalar(base_url, LABELLED_QUERY),
    )


def push_outcome(gateway_url: str, outcome: str, started: float, finished: float) -> None:
    """Push the run's outcome (job PUSH_JOB); pushadd keeps the last success time.

    The last-success timestamp is only pushed when the run succeeded, and
    pushadd (POST) replaces only the metrics pushed, so a failure leaves it in place.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    reg = CollectorRegistry()
    Gauge(m.RETRAIN_LAST_RUN, "When the last retrain run finished.", registry=reg).set(finished)
    Gauge(m.RETRAIN_LAST_DURATION, "Duration of the last retrain run.", registry=reg).set(
        finished - started
    )
    Gauge(
        m.RETRAIN_LAST_OUTCOME, "Outcome of the last retrain run (=1).", ["outcome"], registry=reg
    ).labels(outcome=outcome).set(1)
    if outcome != "failed":
        Gauge(m.RETRAIN_LAST_SUCCESS, "When the last retrain run succeeded.", registry=reg).set(
            finished
        )
    try:
        pushadd_to_gateway(gateway_url, job=PUSH_JOB, registry=reg, timeout=5)
    except OSError as exc:
        raise TrainingError(f"Pushgateway at {gateway_url}: {exc}") from exc


def now() -> float:
    """Wall-clock seconds (the timestamps Prometheus expects)."""
    return time.time()
