"""Helpers for the training tests: run the CLI as a subprocess against the session servers."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from tests import services

# Small and fast: a train+register takes a few seconds, most of it interpreter start-up.
FAST_TRAIN = ["--rows", "1500", "--n-estimators", "20", "--max-depth", "8"]
FIXED_HOLDOUT = ["--holdout-rows", "1000", "--holdout-seed", "123"]
GIT_COMMIT = "0123456789abcdef0123456789abcdef01234567"

RunCli = Callable[..., subprocess.CompletedProcess[str]]


PREFIXES = (
    "MLFLOW_",
    "AWS_",
    "MODEL_",
    "PROMETHEUS_",
    "PUSHGATEWAY_",
    "GATE_",
    "RETRAIN_",
    "TRAINING_",
    "DATASETS_",
    "GIT_COMMIT",
    "INFERENCE_LOG_",
)


def clean_env() -> dict[str, str]:
    """The parent environment without anything that could point the CLI elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}


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


def run_in_process(*args: str, env: dict[str, str]) -> int:
    """`training.cli.main(args)` in this process with `env` applied, restored afterwards.

    Used for set-up steps (a champion to protect): the CLI's exit codes and messages are
    asserted through `run_training` subprocesses; this only saves interpreter start-ups.
    """
    from training.cli import main

    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith(PREFIXES):
                mp.delenv(key)
        for key, value in env.items():
            mp.setenv(key, value)
        return main(list(args))


def unique_model_name() -> str:
    """A registered-model name no other test uses."""
    return f"test-{uuid.uuid4().hex[:8]}"


def cli_env(mlflow_server: services.MlflowServer, name: str) -> dict[str, str]:
    """Environment for the CLI: the session MLflow and S3, one model name."""
    return {**clean_env(), **mlflow_server.env(), "MODEL_NAME": name, "GIT_COMMIT": GIT_COMMIT}


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version an alias points at, or None."""
    aliases: dict[str, Any] = client.get_registered_model(name).aliases
    value = aliases.get(alias)
    return None if value is None else str(value)


def version_count(client: MlflowClient, name: str) -> int:
    """How many versions a registered model has."""
    return len(client.search_model_versions(f"name = '{name}'"))
