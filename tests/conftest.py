"""Session fixtures: the real servers the integration tests talk to, on 127.0.0.1.

They start lazily (only when a test asks for them) and stop by PID when the session ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import services


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect `smoke` tests (they need a live cluster) unless asked for with -m smoke."""
    if "smoke" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="needs a live cluster after `pulumi up`: run pytest -m smoke")
    for item in items:
        if "smoke" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.PostgresServer]:
    """A real PostgreSQL 15 server with an `mlflow` database."""
    server = services.start_postgres(tmp_path_factory.mktemp("postgres"))
    with services.running(server):
        yield server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.S3Server]:
    """A real S3 server (SeaweedFS) with the `mlflow-artifacts` and `datasets` buckets."""
    server = services.start_s3(tmp_path_factory.mktemp("s3"))
    with services.running(server):
        yield server


@pytest.fixture(scope="session")
def mlflow_server(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: services.PostgresServer,
    s3_server: services.S3Server,
) -> Iterator[services.MlflowServer]:
    """A real MLflow 3 server: registry on Postgres, artifacts proxied to S3."""
    server = services.start_mlflow(tmp_path_factory.mktemp("mlflow"), postgres_server, s3_server)
    with services.running(server):
        yield server
