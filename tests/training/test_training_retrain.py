"""Integration: `retrain` reads real Prometheus, decides, trains, gates, promotes and pushes."""

from __future__ import annotations

import json
import math
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from mlops_contract import metrics as m
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.parser import text_string_to_metric_families
from training import monitoring

from tests import services
from tests.training.helpers import (
    FAST_TRAIN,
    FIXED_HOLDOUT,
    alias_version,
    cli_env,
    error_lines,
    run_in_process,
    run_training,
    unique_model_name,
    version_count,
)

pytestmark = pytest.mark.integration


@dataclass
class FakeServing:
    """A real HTTP exporter with serving's metric names; the test sets the values."""

    drift: Gauge
    online: Gauge
    offline: Gauge
    feedback: Counter
    prometheus: services.PrometheusServer
    pushgateway: services.Pushgateway
    labelled_total: int = 0

    def set(self, *, psi: float, online: float, offline: float, labelled: int = 0) -> None:
        """Publish values and wait until Prometheus has scraped exactly them.

        labelled is the total of labelled feedback rows so far (the counter only grows, so
        tests in this module raise it in order); Prometheus' increase() extrapolates a little,
        so the labelled signal is waited for as at least that many.
        """
        self.drift.labels(feature="recent_speed_kmh").set(psi)
        self.drift.labels(feature="weather").set(psi / 4)
        self.online.set(online)
        self.offline.set(offline)
        if labelled > self.labelled_total:
            self.feedback.labels(result="incorrect").inc(labelled - self.labelled_total)
            self.labelled_total = labelled
        # The app's own queries: the fleet also has an idle replica (no feedback yet, NaN
        # online accuracy), which must not hide the busy replica's numbers.
        want = {
            monitoring.DRIFT_QUERY: psi,
            monitoring.ONLINE_ACCURACY_QUERY: online,
            monitoring.OFFLINE_ACCURACY_QUERY: offline,
        }
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            scraped = (query(self.prometheus.url, monitoring.LABELLED_QUERY) or 0) >= labelled
            if scraped and all(query(self.prometheus.url, q) == v for q, v in want.items()):
                return
            time.sleep(0.5)
        raise AssertionError(f"Prometheus never showed {want} and {labelled} labelled rows")


def query(url: str, promql: str) -> float | None:
    with urllib.request.urlopen(
        f"{url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}", timeout=5
    ) as resp:
        result = json.load(resp)["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def pushed(gateway: services.Pushgateway) -> dict[str, dict[str, float]]:
    """The Pushgateway's retrain_* samples for job="retrain": name -> {outcome label: value}."""
    with urllib.request.urlopen(f"{gateway.url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("retrain_") and sample.labels.get("job") == "retrain":
                out.setdefault(sample.name, {})[sample.labels.get("outcome", "")] = sample.value
    return out


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeServing]:
    registry = CollectorRegistry()
    drift = Gauge(m.FEATURE_DRIFT_PSI, "PSI", ["feature"], registry=registry)
    online = Gauge(m.ONLINE_ACCURACY, "online accuracy", registry=registry)
    offline = Gauge(m.OFFLINE_ACCURACY, "offline accuracy", registry=registry)
    feedback = Counter(m.FEEDBACK, "feedback", ["result"], registry=registry)
    for result in m.FEEDBACK_RESULTS:
        feedback.labels(result=result)  # zeros first, as serving exports them
    port = services.free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    # A second replica that has had no feedback: serving exports NaN until it has some.
    idle_registry = CollectorRegistry()
    Gauge(m.ONLINE_ACCURACY, "online accuracy", registry=idle_registry).set(math.nan)
    idle_port = services.free_port()
    idle_server, idle_thread = start_http_server(
        idle_port, addr="127.0.0.1", registry=idle_registry
    )
    base: Path = tmp_path_factory.mktemp("retrain")
    config = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: {m.JOB_SERVING}
    static_configs: [{{targets: ["127.0.0.1:{port}", "127.0.0.1:{idle_port}"]}}]
"""
    prometheus = services.start_prometheus(base, config)
    gateway = services.start_pushgateway(base)
    try:
        yield FakeServing(drift, online, offline, feedback, prometheus, gateway)
    finally:
        gateway.stop()
        prometheus.stop()
        server.shutdown()
        thread.join(timeout=5)
        idle_server.shutdown()
        idle_thread.join(timeout=5)


def test_high_drift_retrains_promotes_and_pushes_then_prometheus_down_fails(
    serving: FakeServing, mlflow_server: services.MlflowServer
) -> None:
    name = unique_model_name()
    env = {
        **cli_env(mlflow_server, name),
        "PROMETHEUS_URL": serving.prometheus.url,
        "PUSHGATEWAY_URL": serving.pushgateway.url,
    }
    serving.set(psi=0.45, online=0.9, offline=0.91)
    proc = run_training("retrain", "--policy", "drift", *FAST_TRAIN, *FIXED_HOLDOUT, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "decision: retrain (drift: max PSI 0.450 > 0.200)" in proc.stdout
    assert "PROMOTED: first version" in proc.stdout
    client = MlflowClient(tracking_uri=mlflow_server.tracking_uri)
    assert alias_version(client, name, "champion") == "1"
    metrics = pushed(serving.pushgateway)
    assert metrics["retrain_last_outcome"] == {"promoted": 1.0}
    success = metrics["retrain_last_success_timestamp_seconds"][""]
    assert metrics["retrain_last_run_timestamp_seconds"][""] == success
    assert metrics["retrain_last_duration_seconds"][""] > 0

    closed = f"http://127.0.0.1:{services.free_port()}"
    down = run_training("retrain", "--policy", "drift", env={**env, "PROMETHEUS_URL": closed})
    assert down.returncode == 1
    lines = error_lines(down)
    assert lines == [f"error: Prometheus at {closed}: connection refused or unreachable"]
    assert alias_version(client, name, "champion") == "1"
    assert version_count(client, name) == 1
    metrics = pushed(serving.pushgateway)
    assert metrics["retrain_last_outcome"] == {"failed": 1.0}
    # a failure never advances the last-success time (pushadd keeps the old sample)
    assert metrics["retrain_last_success_timestamp_seconds"][""] == success
    assert metrics["retrain_last_run_timestamp_seconds"][""] > success


def test_low_drift_skips_under_the_drift_policy(
    serving: FakeServing, mlflow_server: services.MlflowServer
) -> None:
    name = unique_model_name()
    env = {
        **cli_env(mlflow_server, name),
        "PROMETHEUS_URL": serving.prometheus.url,
        "PUSHGATEWAY_URL": serving.pushgateway.url,
    }
    serving.set(psi=0.05, online=0.7, offline=0.93)
    proc = run_training("retrain", "--policy", "drift", *FAST_TRAIN, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "decision: skip (max PSI 0.050 <= 0.200)" in proc.stdout
    client = MlflowClient(tracking_uri=mlflow_server.tracking_uri)
    assert client.search_registered_models(f"name = '{name}'") == []
    assert pushed(serving.pushgateway)["retrain_last_outcome"] == {"skipped": 1.0}


def test_accuracy_drop_with_too_few_labelled_rows_skips(
    serving: FakeServing, mlflow_server: services.MlflowServer, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique_model_name()
    env = {**cli_env(mlflow_server, name), "PROMETHEUS_URL": serving.prometheus.url}
    serving.set(psi=0.05, online=0.5, offline=0.93, labelled=5)
    # The default policy (drift,accuracy) and thresholds, from the contract through Settings.
    code = run_in_process("retrain", *FAST_TRAIN, env=env)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "decision: skip (max PSI 0.050 <= 0.200; only " in out
    assert "labelled rows in the last 1h (< 20)" in out
    client = MlflowClient(tracking_uri=mlflow_server.tracking_uri)
    assert client.search_registered_models(f"name = '{name}'") == []


def test_accuracy_drop_retrains_under_the_accuracy_policy(
    serving: FakeServing, mlflow_server: services.MlflowServer, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique_model_name()
    env = {
        **cli_env(mlflow_server, name),
        "PROMETHEUS_URL": serving.prometheus.url,
        "RETRAIN_POLICY": "drift,accuracy",
        "RETRAIN_MIN_LABELLED": "30",
    }
    serving.set(psi=0.05, online=0.7, offline=0.93, labelled=40)
    code = run_in_process("retrain", *FAST_TRAIN, *FIXED_HOLDOUT, env=env)
    out = capsys.readouterr().out
    assert code == 0, out
    # 1 - 0.70/0.93 = 24.7% below offline: relative, as the alert rule measures it.
    assert (
        "decision: retrain (accuracy drop: online 0.70 is 24.7% below offline 0.93 (> 5%), " in out
    )
    client = MlflowClient(tracking_uri=mlflow_server.tracking_uri)
    assert alias_version(client, name, "champion") == "1"


def test_rejected_candidate_is_a_normal_outcome_and_never_champion(
    serving: FakeServing, mlflow_server: services.MlflowServer, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique_model_name()
    env = {**cli_env(mlflow_server, name), "PUSHGATEWAY_URL": serving.pushgateway.url}
    # `always` needs no Prometheus; a floor no model reaches forces the gate to reject.
    code = run_in_process(
        "retrain", "--policy", "always", "--floor", "0.999", *FAST_TRAIN, *FIXED_HOLDOUT, env=env
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "decision: retrain (policy 'always': scheduled retrain)" in out
    assert "REJECTED: accuracy" in out
    client = MlflowClient(tracking_uri=mlflow_server.tracking_uri)
    assert version_count(client, name) == 1
    assert client.get_registered_model(name).aliases == {}
    assert client.get_model_version(name, "1").tags["gate.decision"] == "rejected"
    assert pushed(serving.pushgateway)["retrain_last_outcome"] == {"rejected": 1.0}
