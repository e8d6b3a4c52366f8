"""Fixtures for the serving tests: one registered model and the in-process app that serves it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from serving.settings import Settings

from tests.services import MlflowServer
from tests.serving.helpers import (
    DRIFT_WINDOW_ROWS,
    MAX_BATCH_ROWS,
    MAX_BODY_BYTES,
    Registered,
    register_model,
    serve_ready,
    unique_name,
)


@pytest.fixture(scope="module")
def registered(mlflow_server: MlflowServer) -> Registered:
    """A champion registered for this module only."""
    return register_model(mlflow_server.tracking_uri, unique_name())


@pytest.fixture(scope="module")
def client(mlflow_server: MlflowServer, registered: Registered) -> Iterator[TestClient]:
    """The real app in-process (lifespan, registry follower, batcher), ready to serve."""
    settings = Settings(
        mlflow_tracking_uri=mlflow_server.tracking_uri,
        model_name=registered.name,
        model_poll_interval_seconds=0.5,
        max_batch_rows=MAX_BATCH_ROWS,
        max_body_bytes=MAX_BODY_BYTES,
        drift_window_rows=DRIFT_WINDOW_ROWS,
    )
    with serve_ready(settings) as test_client:
        yield test_client


OUTAGE_MODULE = "test_serving_mlflow_outage.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the MLflow outage test last in the session, so no other test sees MLflow down."""
    items.sort(key=lambda item: item.path.name == OUTAGE_MODULE)
