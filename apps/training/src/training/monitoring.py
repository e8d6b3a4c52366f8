"""Prometheus: read the drift signal; Pushgateway: the accuracy figures and the run's outcome."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests
from mlops_contract import metrics as m
from mlops_contract import signals
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, pushadd_to_gateway

from training.errors import TrainingError

if TYPE_CHECKING:
    from training.online import VersionFigures

# The contract's signal expression, the one the recording rule records, so retrain decides on
# the same figure the alert shows. The drift signal is the largest PSI over every feature.
DRIFT_QUERY = f"max({signals.max_psi()})"
OUTCOMES = m.RETRAIN_OUTCOMES
PUSH_JOB = m.JOB_RETRAIN


@dataclass(frozen=True, kw_only=True)
class Signals:
    """What the decision reads: drift from Prometheus, the champion's figures from the log.

    None where there is no figure (no drift series, no champion, no labelled row).
    """

    max_psi: float | None
    online_accuracy: float | None
    offline_accuracy: float | None
    # The champion's labelled log rows over the window: the accuracy drop's minimum-rows guard.
    labelled: float | None
    window: str = "window"


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


def read_max_psi(base_url: str) -> float | None:
    """The largest drift PSI over features and serving replicas (None: no drift series)."""
    return query_scalar(base_url, DRIFT_QUERY)


def push_accuracy(gateway_url: str, figures: Sequence[VersionFigures]) -> None:
    """Replace the pushed accuracy figures with these (PUT to their own group).

    PUT replaces every metric of the group, so a version that left the window disappears; the
    group (signals.ACCURACY_GROUPING_KEY) is apart from the outcome metrics, which are added to.
    """
    reg = CollectorRegistry()
    by_version = ["model_version"]
    online = Gauge(
        m.ONLINE_ACCURACY_LOGGED, "Online accuracy from the joined inference log over the window.",
        by_version, registry=reg,
    )  # fmt: skip
    offline = Gauge(
        m.OFFLINE_ACCURACY_LOGGED, "The champion version's offline accuracy (test_accuracy).",
        by_version, registry=reg,
    )  # fmt: skip
    labelled = Gauge(
        m.LABELLED_ROWS_LOGGED, "Labelled inference-log rows over the window.",
        by_version, registry=reg,
    )  # fmt: skip
    for f in figures:
        labelled.labels(f.version).set(f.labelled)
        if f.online is not None:
            online.labels(f.version).set(f.online)
        if f.offline is not None:
            offline.labels(f.version).set(f.offline)
    try:
        push_to_gateway(
            gateway_url,
            job=PUSH_JOB,
            registry=reg,
            grouping_key=dict(signals.ACCURACY_GROUPING_KEY),
            timeout=5,
        )
    except OSError as exc:
        raise TrainingError(f"Pushgateway at {gateway_url}: {exc}") from exc


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
