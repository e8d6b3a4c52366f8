"""Helpers for the training tests: run the CLI as a subprocess against the session servers."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from tests import services

# Small and fast: a train+register takes a few seconds, most of it interpreter start-up.
FAST_TRAIN = ["--rows", "1500", "--n-estimators", "20", "--max-depth", "8"]
FIXED_HOLDOUT = ["--holdout-rows", "1000", "--holdout-seed", "123"]
GIT_COMMIT = "0123456789abcdef0123456789abcdef01234567"

RunCli = Callable[..., subprocess.CompletedProcess[str]]


def clean_env() -> dict[str, str]:
    """The parent environment without anything that could point the CLI elsewhere."""
    prefixes = ("MLFLOW_", "AWS_", "MODEL_", "PROMETHEUS_", "PUSHGATEWAY_", "GATE_", "RETRAIN_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.pop("TRAINING_DATA", None)
    env.pop("DATASETS_BUCKET", None)
    return env


def run_training(
    *args: str, env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """`python -m training <args>` with exactly `env`; never raises on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "training", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """Non-empty stderr lines (a failure must produce exactly one, starting `error:`)."""
    return [line for line in proc.stderr.splitlines() if line.strip()]


@pytest.fixture
def model_name() -> str:
    """A registered-model name no other test uses (one MLflow serves the whole session)."""
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def training_env(mlflow_server: services.MlflowServer, model_name: str) -> dict[str, str]:
    """Environment for the CLI: the session MLflow and S3, this test's model name."""
    return {
        **clean_env(),
        **mlflow_server.env(),
        "MODEL_NAME": model_name,
        "GIT_COMMIT": GIT_COMMIT,
    }


@pytest.fixture
def client(mlflow_server: services.MlflowServer) -> MlflowClient:
    """A client on the session MLflow, for asserting on the real registry state."""
    mlflow.set_tracking_uri(mlflow_server.tracking_uri)
    return MlflowClient(tracking_uri=mlflow_server.tracking_uri)


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version an alias points at, or None."""
    aliases: dict[str, Any] = client.get_registered_model(name).aliases
    value = aliases.get(alias)
    return None if value is None else str(value)


def version_count(client: MlflowClient, name: str) -> int:
    """How many versions a registered model has."""
    return len(client.search_model_versions(f"name = '{name}'"))
