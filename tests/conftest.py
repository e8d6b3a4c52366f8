"""Session fixtures: the real servers the integration tests talk to, on 127.0.0.1.

They start lazily (only when a test asks for them) and stop by PID when the session ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.render import RenderedStack
from sandbox import services
from tests import wiring


def pytest_addoption(parser: pytest.Parser) -> None:
    """Smoke-test options (here so `pytest -m smoke --stack prod` works without a path).

    --stack and --kube-context select what to render and which cluster to query.
    """
    group = parser.getgroup("smoke", "live-cluster smoke tests")
    group.addoption(
        "--stack",
        default="dev",
        help="stack whose offline render gives the expectations (stacks/Pulumi.<stack>.yaml)",
    )
    group.addoption(
        "--kube-context",
        default=None,
        help="kubeconfig context to check (default: the stack file's kubeContext)",
    )


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
def rendered_dev(tmp_path_factory: pytest.TempPathFactory) -> RenderedStack:
    """The dev stack rendered offline: the wiring the integration servers are started with."""
    return wiring.render("dev", tmp_path_factory.mktemp("rendered-dev"))


@pytest.fixture(scope="session")
def mlflow_server(
    tmp_path_factory: pytest.TempPathFactory,
    rendered_dev: RenderedStack,
    postgres_server: services.PostgresServer,
    s3_server: services.S3Server,
) -> Iterator[services.MlflowServer]:
    """A real MLflow 3 server run with the dev stack's rendered command line and env names.

    Registry on the real Postgres, artifacts proxied to the real S3.
    """
    base = tmp_path_factory.mktemp("mlflow")
    upgrade, server_command = wiring.local_mlflow(rendered_dev, base, postgres_server, s3_server)
    server = services.start_mlflow(
        base,
        postgres_server,
        s3_server,
        upgrade_argv=upgrade.argv,
        server_argv=server_command.argv,
        env=server_command.env,
    )
    with services.running(server):
        yield server
