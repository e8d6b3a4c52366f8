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
from prometheus_client import CollectorRegistry, Gauge, start_http_server
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
    """A real HTTP exporter with serving's drift metric; the test sets the values."""

    drift: Gauge
    prometheus: services.PrometheusServer
    pushgateway: services.Pushgateway

    def set(self, *, psi: float) -> None:
        """Publish PSI values and wait until Prometheus has scraped exactly them."""
        self.drift.labels(feature="recent_speed_kmh").set(psi)
        self.drift.labels(feature="weather").set(psi / 4)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if query(self.prometheus.url, monitoring.DRIFT_QUERY) == psi:
                return
            time.sleep(0.5)
        raise AssertionError(f"Prometheus never showed max PSI {psi}")


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
    port = services.free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    # A second replica whose drift window is not full yet: serving exports NaN until it is.
    idle_registry = CollectorRegistry()
    idle = Gauge(m.FEATURE_DRIFT_PSI, "PSI", ["feature"], registry=idle_registry)
    idle.labels(feature="recent_speed_kmh").set(math.nan)
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
        yield FakeServing(drift, prometheus, gateway)
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
    serving.set(psi=0.45)
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
    serving.set(psi=0.05)
    proc = run_training("retrain", "--policy", "drift", *FAST_TRAIN, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "decision: skip (max PSI 0.050 <= 0.200)" in proc.stdout
    client = MlflowClient(tracking_uri=mlflow_server.tracking_uri)
    assert client.search_registered_models(f"name = '{name}'") == []
    assert pushed(serving.pushgateway)["retrain_last_outcome"] == {"skipped": 1.0}


def test_the_accuracy_policy_needs_the_inference_log_and_says_so(
    serving: FakeServing, mlflow_server: services.MlflowServer
) -> None:
    name = unique_model_name()
    env = {**cli_env(mlflow_server, name), "PROMETHEUS_URL": serving.prometheus.url}
    # The default policy (drift,accuracy): online accuracy comes from serving's inference log.
    proc = run_training("retrain", *FAST_TRAIN, env=env)
    assert proc.returncode == 1
    assert error_lines(proc) == [
        "error: INFERENCE_LOG_BUCKET is not set; policy 'drift,accuracy' needs serving's "
        "inference log for online accuracy (set it to the log's bucket, or drop `accuracy` "
        "from the policy)"
    ]
    client = MlflowClient(tracking_uri=mlflow_server.tracking_uri)
    assert client.search_registered_models(f"name = '{name}'") == []


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
