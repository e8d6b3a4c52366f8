"""MLflow with its basic-auth app on, started and set up from the dev render, on real servers.

The server runs the rendered command with the rendered basic_auth.ini (local database and
admin password); the identities come from the rendered setup Job's script, run as the admin
with the Job's env. Then each identity does what the platform needs and nothing more.
"""

from __future__ import annotations

import dataclasses
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlops_contract import env
from mlops_contract import metrics as contract_metrics
from prometheus_client import CollectorRegistry
from serving.metrics import ServingMetrics
from serving.model_store import ModelStore
from serving.registry import RegistryFollower
from serving.settings import Settings

from infra.render import RenderedStack
from tests import services, wiring
from tests.serving.helpers import read_artifact, tamper_artifact
from tests.training.helpers import FAST_TRAIN, FIXED_HOLDOUT, GIT_COMMIT, clean_env, run_training

pytestmark = pytest.mark.integration

SETUP_JOB = "mlflow-auth-setup"


@dataclass(frozen=True)
class AuthServer:
    """The auth-on server, the identities' passwords and the rendered setup command."""

    server: services.MlflowServer
    passwords: dict[str, str]
    setup: wiring.LocalCommand
    model: str
    metrics_dir: Path

    def identity_env(self, user: str) -> dict[str, str]:
        """A CLI environment calling the server as `user`."""
        return {
            **clean_env(),
            **self.server.env(),
            env.MODEL_NAME: self.model,
            env.GIT_COMMIT: GIT_COMMIT,
            env.MLFLOW_TRACKING_USERNAME: user,
            env.MLFLOW_TRACKING_PASSWORD: self.passwords[user],
        }

    def run_setup(self) -> subprocess.CompletedProcess[str]:
        """Run the rendered setup Job's command (its script, its env) once."""
        return subprocess.run(
            self.setup.argv, env=self.setup.env, capture_output=True, text=True, timeout=300
        )


def _setup_command(
    rendered: RenderedStack, base: Path, uri: str, passwords: dict[str, str]
) -> wiring.LocalCommand:
    container = wiring.find_container(rendered, "Job", SETUP_JOB, SETUP_JOB)
    maps = [o for o in rendered.manifests if o["kind"] == "ConfigMap"]
    script_map = next(o for o in maps if o["metadata"]["name"] == SETUP_JOB)
    ((filename, text),) = script_map["data"].items()
    script = base / filename
    script.write_text(text, encoding="utf-8")
    secret_of = {ref: passwords[key] for ref, (_, key) in container.secret_env().items()}
    local = wiring.localize(
        container,
        secrets=secret_of,
        overrides={env.MLFLOW_TRACKING_URI: uri, "HOME": str(base)},
        flags={},
    )
    argv = [str(script) if arg.endswith(f"/{filename}") else arg for arg in local.argv]
    return wiring.LocalCommand(argv, {**clean_env(), **local.env})


@pytest.fixture(scope="module")
def auth(
    tmp_path_factory: pytest.TempPathFactory,
    rendered_dev: RenderedStack,
    postgres_server: services.PostgresServer,
    s3_server: services.S3Server,
) -> Iterator[AuthServer]:
    """One auth-on MLflow for the module, on its own tracking database, set up once."""
    base = tmp_path_factory.mktemp("mlflow-auth")
    pg = dataclasses.replace(postgres_server, database="mlflow_authtest")
    services.create_database(pg, pg.database)
    passwords = {user: secrets.token_hex(16) for user in ("admin", "training", "serving")}
    upgrade, command = wiring.local_mlflow(
        rendered_dev, base, pg, s3_server, auth=wiring.LocalAuth(passwords["admin"])
    )
    server = services.start_mlflow(
        base,
        pg,
        s3_server,
        upgrade_argv=upgrade.argv,
        server_argv=command.argv,
        env=command.env,
        start_timeout=300,
    )
    with services.running(server):
        setup = _setup_command(rendered_dev, base, server.tracking_uri, passwords)
        model = setup.env[env.MODEL_NAME]
        ready = AuthServer(server, passwords, setup, model, base / "metrics")
        first = ready.run_setup()
        assert first.returncode == 0, first.stderr[-3000:]
        yield ready


@pytest.fixture(scope="module")
def champion(auth: AuthServer) -> str:
    """Training's full lifecycle as `training`: train, then promote through the gate."""
    environment = auth.identity_env("training")
    trained = run_training("train", *FAST_TRAIN, "--seed", "1", env=environment)
    assert trained.returncode == 0, trained.stderr[-3000:]
    promoted = run_training("promote", *FIXED_HOLDOUT, env=environment)
    assert promoted.returncode == 0, promoted.stderr[-3000:]
    client = MlflowClient(tracking_uri=auth.server.tracking_uri)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(env.MLFLOW_TRACKING_USERNAME, "training")
        mp.setenv(env.MLFLOW_TRACKING_PASSWORD, auth.passwords["training"])
        return str(client.get_model_version_by_alias(auth.model, "champion").version)


def test_anonymous_requests_get_401_and_health_stays_open(auth: AuthServer) -> None:
    uri = auth.server.tracking_uri
    for path in (
        "/api/2.0/mlflow/experiments/search?max_results=1",
        f"/api/2.0/mlflow/registered-models/get?name={auth.model}",
        "/api/2.0/mlflow-artifacts/artifacts",
        "/metrics",
    ):
        assert httpx.get(f"{uri}{path}", timeout=20).status_code == 401, path
    wrong = httpx.get(f"{uri}/api/2.0/mlflow/experiments/search", auth=("serving", "x"), timeout=20)
    assert wrong.status_code == 401
    assert httpx.get(f"{uri}/health", timeout=20).status_code == 200


def test_training_identity_runs_the_full_lifecycle(auth: AuthServer, champion: str) -> None:
    client = MlflowClient(tracking_uri=auth.server.tracking_uri)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(env.MLFLOW_TRACKING_USERNAME, "training")
        mp.setenv(env.MLFLOW_TRACKING_PASSWORD, auth.passwords["training"])
        version = client.get_model_version(auth.model, champion)
    assert version.run_id


def test_serving_identity_loads_the_champion_but_cannot_register_or_move_the_alias(
    auth: AuthServer, champion: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in the serving pod: MLflow resolves some registry calls through the default URI.
    monkeypatch.setenv(env.MLFLOW_TRACKING_URI, auth.server.tracking_uri)
    monkeypatch.setenv(env.MLFLOW_TRACKING_USERNAME, "serving")
    monkeypatch.setenv(env.MLFLOW_TRACKING_PASSWORD, auth.passwords["serving"])
    settings = Settings(mlflow_tracking_uri=auth.server.tracking_uri, model_name=auth.model)
    store = ModelStore()
    RegistryFollower(settings, store, ServingMetrics(CollectorRegistry())).poll_once()
    assert store.current is not None
    assert store.current.version == champion
    client = MlflowClient(tracking_uri=auth.server.tracking_uri)
    version = client.get_model_version(auth.model, champion)
    with pytest.raises(MlflowException) as registering:
        client.create_model_version(auth.model, version.source, version.run_id)
    assert registering.value.get_http_status_code() == 403
    with pytest.raises(MlflowException) as moving:
        client.set_registered_model_alias(auth.model, "champion", champion)
    assert moving.value.get_http_status_code() == 403


def test_the_setup_job_converges_when_run_again(auth: AuthServer) -> None:
    again = auth.run_setup()
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("password set") == 2
    uri = auth.server.tracking_uri
    for user in ("training", "serving"):
        answer = httpx.get(
            f"{uri}/api/2.0/mlflow/registered-models/get",
            params={"name": auth.model},
            auth=(user, auth.passwords[user]),
            timeout=20,
        )
        assert answer.status_code == 200, (user, answer.text)
    # The grants stayed exactly what they were: serving still reads only.
    denied = httpx.post(
        f"{uri}/api/2.0/mlflow/registered-models/delete",
        json={"name": auth.model},
        auth=("serving", auth.passwords["serving"]),
        timeout=20,
    )
    assert denied.status_code == 403


def test_prometheus_scrapes_the_metrics_sidecar_with_no_identity(
    auth: AuthServer, rendered_dev: RenderedStack, tmp_path: Path
) -> None:
    """The API port's /metrics is admin-only; the rendered sidecar serves the same files openly."""
    api_metrics = httpx.get(
        f"{auth.server.tracking_uri}/metrics",
        auth=("serving", auth.passwords["serving"]),
        timeout=20,
    )
    assert api_metrics.status_code == 403
    # Some traffic, so the server has written its request metrics.
    httpx.get(f"{auth.server.tracking_uri}/health", timeout=20)
    sidecar = wiring.find_container(rendered_dev, "Deployment", "mlflow", "metrics-exporter")
    port = services.free_port()
    rendered_dir, rendered_port = sidecar.argv[-2:]
    assert int(rendered_port) == sidecar.container["ports"][0]["containerPort"]
    argv = [sys.executable, *sidecar.argv[1:-2], str(auth.metrics_dir), str(port)]
    assert sidecar.argv[0] == "python"
    assert rendered_dir.endswith("/metrics")
    log = tmp_path / "exporter.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        services.wait_http(f"http://{services.LOOPBACK}:{port}/metrics", timeout=60, proc=process)
        text = httpx.get(f"http://{services.LOOPBACK}:{port}/metrics", timeout=20).text
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert "mlflow_http_request_total" in text or "mlflow_http_request_duration_seconds" in text


def _as(monkeypatch: pytest.MonkeyPatch, auth: AuthServer, user: str) -> None:
    """Make the MLflow client in this process call the server as `user`."""
    monkeypatch.setenv(env.MLFLOW_TRACKING_URI, auth.server.tracking_uri)
    monkeypatch.setenv(env.MLFLOW_TRACKING_USERNAME, user)
    monkeypatch.setenv(env.MLFLOW_TRACKING_PASSWORD, auth.passwords[user])


def test_serving_refuses_a_tampered_version_and_keeps_the_champion(
    auth: AuthServer, champion: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Auth on, each identity its own: a file swapped in the bucket is caught by the digest."""
    trained = run_training("train", *FAST_TRAIN, "--seed", "2", env=auth.identity_env("training"))
    assert trained.returncode == 0, trained.stderr[-3000:]
    uri = auth.server.tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    _as(monkeypatch, auth, "training")
    candidate = max(
        (v.version for v in client.search_model_versions(f"name='{auth.model}'")), key=int
    )
    assert candidate != champion
    champion_model = read_artifact(auth.server, auth.model, champion, "model.skops")
    tamper_artifact(auth.server, auth.model, candidate, "model.skops", champion_model)

    _as(monkeypatch, auth, "serving")
    settings = Settings(mlflow_tracking_uri=uri, model_name=auth.model)
    store, registry = ModelStore(), CollectorRegistry()
    follower = RegistryFollower(settings, store, ServingMetrics(registry))
    follower.poll_once()
    assert store.current is not None
    assert store.current.version == champion

    _as(monkeypatch, auth, "training")
    client.set_registered_model_alias(auth.model, "champion", candidate)
    _as(monkeypatch, auth, "serving")
    follower.poll_once()

    assert store.current.version == champion
    refused = registry.get_sample_value(
        contract_metrics.MODEL_DIGEST_MISMATCH_TOTAL, {"model_version": candidate}
    )
    assert refused == 1.0
