"""Fixtures for the training tests (helpers live in tests/training/helpers.py)."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from tests import services
from tests.training.helpers import cli_env, unique_model_name


@pytest.fixture
def model_name() -> str:
    """A registered-model name no other test uses (one MLflow serves the whole session)."""
    return unique_model_name()


@pytest.fixture
def training_env(mlflow_server: services.MlflowServer, model_name: str) -> dict[str, str]:
    """Environment for the CLI: the session MLflow and S3, this test's model name."""
    return cli_env(mlflow_server, model_name)


@pytest.fixture
def client(mlflow_server: services.MlflowServer) -> MlflowClient:
    """A client on the session MLflow, for asserting on the real registry state."""
    mlflow.set_tracking_uri(mlflow_server.tracking_uri)
    return MlflowClient(tracking_uri=mlflow_server.tracking_uri)
