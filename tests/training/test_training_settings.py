"""Training reads its environment in one place, names a bad variable, and mutates nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from mlops_contract import env, registry, triggers
from training.gate import GatePolicy
from training.settings import Settings, SettingsError, load_settings

from tests.training.helpers import PREFIXES, clean_env, error_lines, run_training

pytestmark = pytest.mark.unit


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The process environment without any variable training reads."""
    import os

    for key in list(os.environ):
        if key.startswith(PREFIXES):
            monkeypatch.delenv(key)
    return monkeypatch


def test_defaults_come_from_the_contract_and_the_gate(no_env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert s.mlflow_tracking_uri is None
    assert s.model_name == registry.DEFAULT_MODEL_NAME
    assert s.model_alias == registry.CHAMPION_ALIAS
    assert s.experiment() == registry.DEFAULT_MODEL_NAME
    assert s.datasets_bucket == "datasets"
    gate = GatePolicy()
    assert (s.gate_metric, s.gate_floor, s.gate_max_regression, s.gate_max_latency_ms_per_row) == (
        gate.metric,
        gate.floor,
        gate.max_regression,
        gate.max_latency_ms_per_row,
    )
    assert s.retrain_policy == ",".join(triggers.Triggers().policy) == "drift,accuracy"
    assert s.retrain_max_psi == triggers.DEFAULT_MAX_PSI
    assert s.retrain_max_accuracy_drop == triggers.DEFAULT_MAX_ACCURACY_DROP
    assert s.retrain_min_labelled == triggers.DEFAULT_MIN_LABELLED


def test_the_environment_overrides_every_default(no_env: pytest.MonkeyPatch) -> None:
    values = {
        env.MLFLOW_TRACKING_URI: "http://mlflow:5000",
        env.MODEL_NAME: "m",
        env.MODEL_ALIAS: "custom",
        env.MLFLOW_EXPERIMENT_NAME: "exp",
        env.AWS_ENDPOINT_URL_S3: "http://s3:8333",
        env.DATASETS_BUCKET: "b",
        env.TRAINING_DRIFT: "0.5",
        env.GATE_METRIC: "f1",
        env.GATE_FLOOR: "0.8",
        env.RETRAIN_POLICY: "always",
        env.RETRAIN_MAX_PSI: "0.3",
        env.RETRAIN_MAX_ACCURACY_DROP: "0.1",
        env.RETRAIN_MIN_LABELLED: "50",
        env.TRAINING_S3_CONNECT_TIMEOUT: "2",
    }
    for key, value in values.items():
        no_env.setenv(key, value)
    s = load_settings()
    assert s.require_tracking_uri() == "http://mlflow:5000"
    assert (s.model_name, s.model_alias, s.experiment(), s.datasets_bucket) == (
        "m",
        "custom",
        "exp",
        "b",
    )
    assert s.s3_endpoint_url == "http://s3:8333"  # boto3's name when MLflow's is unset
    assert (s.drift, s.gate_metric, s.gate_floor) == (0.5, "f1", 0.8)
    assert (s.retrain_policy, s.retrain_max_psi, s.retrain_max_accuracy_drop) == (
        "always",
        0.3,
        0.1,
    )
    assert (s.retrain_min_labelled, s.s3_connect_timeout) == (50, 2.0)
    no_env.setenv(env.S3_ENDPOINT_URL, "http://first:9000")
    assert load_settings().s3_endpoint_url == "http://first:9000"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (env.GATE_FLOOR, "high", "GATE_FLOOR='high': Input should be a valid number"),
        (env.GATE_FLOOR, "1.5", "GATE_FLOOR='1.5': Input should be less than or equal to 1"),
        (env.GATE_METRIC, "loss", "GATE_METRIC='loss': Input should be 'accuracy', 'f1' or"),
        (env.TRAINING_DRIFT, "2", "TRAINING_DRIFT='2'"),
        (env.RETRAIN_POLICY, "weekly", "RETRAIN_POLICY='weekly': Value error, retrain policy"),
        (env.RETRAIN_MIN_LABELLED, "0", "RETRAIN_MIN_LABELLED='0'"),
        (env.RETRAIN_MAX_ACCURACY_DROP, "1", "RETRAIN_MAX_ACCURACY_DROP='1'"),
        (env.MODEL_ALIAS, "", "MODEL_ALIAS=''"),
        (env.TRAINING_MLFLOW_CONNECT_TIMEOUT, "0", "TRAINING_MLFLOW_CONNECT_TIMEOUT='0'"),
    ],
)
def test_a_bad_value_names_the_variable(
    no_env: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    no_env.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("invalid training configuration (fix or unset these environment")
    assert expected in message


def test_a_missing_tracking_uri_names_the_variable_when_it_is_needed(
    no_env: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(SettingsError, match="MLFLOW_TRACKING_URI is not set; point it at"):
        Settings().require_tracking_uri()


def test_the_cli_turns_a_bad_variable_into_one_error_line() -> None:
    proc = run_training("status", env={**clean_env(), env.RETRAIN_MAX_PSI: "lots"})
    assert proc.returncode == 1
    lines = error_lines(proc)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: invalid training configuration")
    assert "RETRAIN_MAX_PSI='lots': Input should be a valid number" in lines[0]


# Imports every module of both apps, then builds what a process builds (settings, the parser,
# MLflow and S3 clients, the serving app with its registry follower), and reports whether the
# environment or MLflow's process-wide URIs changed. A fresh interpreter: nothing of the apps is
# imported yet. scikit-learn is imported first because it sets two KMP_* variables itself.
PROBE = """
import importlib, json, os, pkgutil, sys
import mlflow, sklearn
before = (dict(os.environ), mlflow.get_tracking_uri(), mlflow.get_registry_uri())
import training, serving
for package in (training, serving):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if info.name != "training.__main__":
            importlib.import_module(info.name)
importlib.import_module("training.__main__")  # imported, not run: the entry point is main()
from training import cli, storage, tracking
from training.settings import load_settings
settings = load_settings()
cli.build_parser(settings)
# Servers other than the environment's: a global set to them would show in the URIs.
tracking.client("http://127.0.0.1:7")
storage.client(storage.S3Config.from_settings(settings))
from serving.main import create_app
from serving.settings import Settings, load_settings as load_serving_settings
load_serving_settings()
create_app(Settings(mlflow_tracking_uri="http://127.0.0.1:8"))
after = (dict(os.environ), mlflow.get_tracking_uri(), mlflow.get_registry_uri())
changed = sorted(k for k in set(before[0]) | set(after[0]) if before[0].get(k) != after[0].get(k))
print(json.dumps({"env": changed, "uris": [before[1:], after[1:]]}))
"""


def test_importing_and_constructing_both_apps_changes_no_process_state() -> None:
    environment = {
        **clean_env(),
        env.MLFLOW_TRACKING_URI: "http://127.0.0.1:9",
        env.MODEL_ALIAS: "custom",
        env.S3_ENDPOINT_URL: "http://127.0.0.1:9",
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["env"] == []
    before, after = report["uris"]
    assert before == after


def test_the_inference_log_settings_default_to_the_contract(no_env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert s.inference_log_bucket is None
    assert s.inference_log_endpoint_url is None
    assert s.retrain_window_minutes == triggers.DEFAULT_RETRAIN_WINDOW_MINUTES
    assert s.retrain_min_rows == triggers.DEFAULT_RETRAIN_MIN_ROWS
    assert s.retrain_max_rows == triggers.DEFAULT_RETRAIN_MAX_ROWS
    no_env.setenv(env.INFERENCE_LOG_BUCKET, "inference-log")
    no_env.setenv(env.RETRAIN_WINDOW_MINUTES, "3")
    no_env.setenv(env.RETRAIN_MIN_ROWS, "50")
    no_env.setenv(env.RETRAIN_MAX_ROWS, "1000")
    s = load_settings()
    assert (s.inference_log_bucket, s.retrain_window_minutes) == ("inference-log", 3)
    assert (s.retrain_min_rows, s.retrain_max_rows) == (50, 1000)


def test_a_bad_inference_log_setting_names_its_variable(no_env: pytest.MonkeyPatch) -> None:
    no_env.setenv(env.INFERENCE_LOG_ENDPOINT_URL, "seaweedfs:8333")
    no_env.setenv(env.RETRAIN_WINDOW_MINUTES, "0")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"{env.INFERENCE_LOG_ENDPOINT_URL}='seaweedfs:8333'" in message
    assert f"{env.RETRAIN_WINDOW_MINUTES}='0'" in message
