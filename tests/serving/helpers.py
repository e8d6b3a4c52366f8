"""Helpers for the serving tests: register small models per docs/contracts.md, run the app."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd
import skops.io
from fastapi.testclient import TestClient
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from mlops_contract import registry
from prometheus_client.parser import text_string_to_metric_families
from serving.main import create_app
from serving.settings import Settings
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tests.services import LOOPBACK, MlflowServer, free_port, wait_http

# The in-process app's limits (tests/serving/conftest.py `client`), asserted by the tests.
MAX_BATCH_ROWS = 50
MAX_BODY_BYTES = 8192
DRIFT_WINDOW_ROWS = 200

FEATURES = ["speed", "volume", "hour", "weather"]
WEATHER = ["clear", "rain", "snow"]
# A row that every model below classifies with certainty: speed far below the threshold.
SLOW_ROW = {"speed": 20.0, "volume": 100.0, "hour": 8, "weather": "rain"}
FAST_ROW = {"speed": 80.0, "volume": 100.0, "hour": 8, "weather": "clear"}


def unique_name() -> str:
    """A registered-model name no other test uses (one MLflow server serves the session)."""
    return f"test-serving-{uuid.uuid4().hex[:8]}"


def make_frame(rows: int, seed: int = 0, speed_mean: float = 50.0) -> pd.DataFrame:
    """Synthetic traffic rows: congestion when speed is low."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "speed": rng.normal(speed_mean, 10.0, rows),
        "volume": rng.normal(100.0, 20.0, rows),
        "hour": rng.integers(0, 24, rows).astype(np.int64),
        "weather": rng.choice(WEATHER, rows),
    })  # fmt: skip


def reference_for(frame: pd.DataFrame) -> dict[str, Any]:
    """drift/reference.json per docs/contracts.md (quantile cut points, -inf/inf ends)."""
    features: dict[str, Any] = {}
    for name in ("speed", "volume", "hour"):
        values = frame[name].to_numpy(dtype=float)
        cuts = np.unique(np.quantile(values, np.linspace(0, 1, 11)[1:-1]))
        # Bins are right-closed (edge_i, edge_i+1], as docs/contracts.md says.
        counts = np.bincount(np.searchsorted(cuts, values, side="left"), minlength=len(cuts) + 1)
        features[name] = {
            "kind": "numeric",
            "edges": ["-inf", *[float(c) for c in cuts], "inf"],
            "fractions": (counts / counts.sum()).tolist(),
        }
    shares = frame["weather"].value_counts(normalize=True)
    features["weather"] = {
        "kind": "categorical",
        "categories": list(shares.index),
        "fractions": shares.tolist(),
    }
    return {"schema": 1, "features": features}


@dataclass(frozen=True)
class Registered:
    """A registered version and the pipeline behind it (to compute expected predictions)."""

    name: str
    version: str
    pipeline: Pipeline
    test_accuracy: float


def register_model(
    tracking_uri: str,
    name: str,
    *,
    flip: bool = False,
    alias: str | None = "champion",
    classifier: Any = None,
    hour_dtype: str = "int64",
    record_digest: bool = True,
) -> Registered:
    """Train a small Pipeline and register it as training does (signature, metric, reference).

    ``flip`` inverts the labels, so a flipped version predicts the opposite class for
    SLOW_ROW/FAST_ROW: responses then show which version answered. ``classifier`` replaces the
    logistic regression (a forest takes the fast path); ``hour_dtype`` "int32" gives the
    signature an ``integer`` (int32) column instead of a ``long`` one. ``record_digest`` tags
    the version with its artifact's digest before the alias moves, as training records it
    (serving refuses a version without one).
    """
    mlflow.set_tracking_uri(tracking_uri)
    frame = make_frame(400)
    frame["hour"] = frame["hour"].astype(hour_dtype)
    target = (frame["speed"] < 50).astype(int)
    if flip:
        target = 1 - target
    pipeline = Pipeline([
        ("prep", ColumnTransformer([
            ("num", StandardScaler(), ["speed", "volume", "hour"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["weather"]),
        ])),
        ("clf", classifier if classifier is not None else LogisticRegression()),
    ]).fit(frame, target)  # fmt: skip
    accuracy = float((pipeline.predict(frame) == target).mean())
    mlflow.set_experiment(name)
    with mlflow.start_run():
        mlflow.log_metric("test_accuracy", accuracy)
        mlflow.log_dict(reference_for(frame), "drift/reference.json")
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=infer_signature(frame, pipeline.predict(frame)),
            pip_requirements=["scikit-learn", "pandas"],
            registered_model_name=name,
            # A forest holds tree objects skops refuses unless told they are trusted.
            skops_trusted_types=_trusted_types(pipeline),
        )
    version = str(info.registered_model_version)
    if record_digest:
        record_model_digest(tracking_uri, name, version)
    if alias:
        MlflowClient(tracking_uri).set_registered_model_alias(name, alias, version)
    return Registered(name, version, pipeline, accuracy)


def record_model_digest(tracking_uri: str, name: str, version: str) -> str:
    """Tag a version with the digest of its artifact as the store holds it; return the digest.

    Training computes it on the directory it uploads (the same files); this helper registers
    through MLflow's log_model, so it reads them back instead.
    """
    digest = stored_digest(tracking_uri, name, version)
    MlflowClient(tracking_uri, registry_uri=tracking_uri).set_model_version_tag(
        name, version, registry.MODEL_DIGEST_TAG, digest
    )
    return digest


def stored_digest(tracking_uri: str, name: str, version: str) -> str:
    """The digest of a version's artifact as serving downloads it now."""
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    with tempfile.TemporaryDirectory(prefix="test-digest-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=client.get_model_version_download_uri(name, version),
            dst_path=tmp,
            tracking_uri=tracking_uri,
        )
        return registry.model_digest(local)


def artifact_key(server: MlflowServer, name: str, version: str, file: str) -> str:
    """The S3 key, in the artifact bucket, of one file of a version's model artifact."""
    uri = server.tracking_uri
    source = MlflowClient(uri, registry_uri=uri).get_model_version(name, version).source
    # mlflow-artifacts:/<experiment>/<run>/artifacts/model or models:/<logged model id>
    part = source.split(":/", 1)[1].strip("/")
    s3 = server.s3.client()
    keys = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=server.s3.artifacts_bucket)
        for obj in page.get("Contents", [])
        if part in obj["Key"] and obj["Key"].endswith(f"/{file}")
    ]
    assert len(keys) == 1, f"{file} of {name} v{version} ({source}): {keys}"
    return keys[0]


def tamper_artifact(server: MlflowServer, name: str, version: str, file: str, body: bytes) -> None:
    """Overwrite one file of a version's artifact in the real bucket, behind MLflow's back."""
    key = artifact_key(server, name, version, file)
    server.s3.client().put_object(Bucket=server.s3.artifacts_bucket, Key=key, Body=body)


def read_artifact(server: MlflowServer, name: str, version: str, file: str) -> bytes:
    """One file of a version's artifact, straight from the bucket."""
    key = artifact_key(server, name, version, file)
    body: bytes = (
        server.s3.client().get_object(Bucket=server.s3.artifacts_bucket, Key=key)["Body"].read()
    )
    return body


def _trusted_types(pipeline: Pipeline) -> list[str]:
    return [str(t) for t in skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))]


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse Prometheus text into {(sample name, sorted labels): value}."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def metric(text: str, name: str, **labels: str) -> float | None:
    """One sample's value, or None when absent."""
    return metric_samples(text).get((name, tuple(sorted(labels.items()))))


@dataclass
class ServingProcess:
    """The real app under uvicorn in a subprocess on a free loopback port."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET on the app."""
        return httpx.get(f"{self.url}{path}", timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST on the app."""
        return httpx.post(f"{self.url}{path}", timeout=30, **kwargs)

    def metrics(self) -> str:
        """The /metrics text."""
        return self.get("/metrics").text

    def wait_ready(self, timeout: float = 60.0, version: str | None = None) -> dict[str, Any]:
        """Poll /readyz until it answers 200 (and serves ``version`` if given)."""
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = self.get("/readyz")
            body = response.json()
            if response.status_code == 200 and version in (None, body["model_version"]):
                return body
            time.sleep(0.2)
        raise AssertionError(f"not ready after {timeout}s: {body}\n{self.log.read_text()[-3000:]}")


@contextmanager
def run_serving(
    tmp_path: Path, tracking_uri: str, model_name: str, **env: str
) -> Iterator[ServingProcess]:
    """Start ``uvicorn serving.main:app`` (1 worker) and stop it by PID afterwards."""
    port = free_port()
    log = tmp_path / f"serving-{port}.log"
    environment = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MODEL_NAME": model_name,
        "MODEL_POLL_INTERVAL_SECONDS": "0.5",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        **env,
    }
    argv = [sys.executable, "-m", "uvicorn", "serving.main:app", "--host", LOOPBACK,
            "--port", str(port), "--workers", "1", "--no-access-log"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=environment, stdout=out, stderr=subprocess.STDOUT)
    server = ServingProcess(f"http://{LOOPBACK}:{port}", proc, log)
    try:
        wait_http(f"{server.url}/healthz", timeout=60, proc=proc)
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_ready(client: TestClient, timeout: float = 60) -> None:
    """Wait until the app has loaded its model (/readyz 200); fail showing its last answer."""
    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").json()
        time.sleep(0.1)


@contextmanager
def serve_ready(settings: Settings) -> Iterator[TestClient]:
    """The app with its lifespan, once ready; leaving the block runs its shutdown."""
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        yield client
