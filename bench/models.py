"""The models under test: a reference forest registered here, and the training app's default."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from mlops_contract import env as contract_env
from mlops_contract import registry
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class BenchModel:
    """A registered champion and one valid input row for it."""

    label: str
    name: str
    version: str
    row: dict[str, Any]

    @property
    def uri(self) -> str:
        """The model URI both servers load."""
        return f"models:/{self.name}/{self.version}"


def register_reference(tracking_uri: str) -> BenchModel:
    """RandomForest, 100 trees, depth 8, 8 float features: a mid-size tabular model."""
    mlflow.set_tracking_uri(tracking_uri)
    rng = np.random.default_rng(0)
    columns = [f"f{i}" for i in range(8)]
    x = pd.DataFrame(rng.normal(size=(5000, 8)), columns=columns)
    y = ((x["f0"] + x["f1"] * x["f2"] - x["f3"]) > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0)
    pipeline = Pipeline([("clf", forest)]).fit(x, y)
    name = "bench-reference-forest"
    mlflow.set_experiment(name)
    reference = {
        "schema": registry.DRIFT_REFERENCE_SCHEMA,
        "features": {
            c: {"kind": "numeric", "edges": ["-inf", -0.5, 0.5, "inf"],
                "fractions": [0.3085, 0.383, 0.3085]}
            for c in columns
        },
    }  # fmt: skip
    with mlflow.start_run():
        mlflow.log_metric(
            registry.OFFLINE_ACCURACY_METRIC, float((pipeline.predict(x) == y).mean())
        )
        mlflow.log_dict(reference, registry.DRIFT_REFERENCE_ARTIFACT)
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=infer_signature(x.head(100), pipeline.predict(x.head(100))),
            pip_requirements=["scikit-learn", "pandas", "skops"],
            skops_trusted_types=["sklearn.tree._tree.Tree"],
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    client = MlflowClient(tracking_uri)
    # Serving loads only versions tagged with their artifact's digest (training sets it when it
    # registers; this model is logged directly, so its stored files are digested here).
    client.set_model_version_tag(
        name, version, registry.MODEL_DIGEST_TAG, _stored_digest(tracking_uri, name, version)
    )
    client.set_registered_model_alias(name, registry.CHAMPION_ALIAS, version)
    row = {c: float(v) for c, v in zip(columns, rng.normal(size=8), strict=True)}
    return BenchModel("reference forest (100 trees, depth 8, 8 features)", name, version, row)


def _stored_digest(tracking_uri: str, name: str, version: str) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-digest-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}", dst_path=tmp, tracking_uri=tracking_uri
        )
        return registry.model_digest(local)


def training_available() -> bool:
    """True when the training app's CLI is importable (`python -m training`)."""
    return importlib.util.find_spec("training.__main__") is not None


def register_training_default(tracking_uri: str, env: dict[str, str]) -> BenchModel:
    """Run `python -m training train` with its defaults; point the serving alias at it."""
    name = "bench-training-default"
    run_env = {
        **os.environ,
        **env,
        contract_env.MLFLOW_TRACKING_URI: tracking_uri,
        contract_env.MODEL_NAME: name,
    }
    done = subprocess.run(
        [sys.executable, "-m", "training", "train"],
        env=run_env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"python -m training train failed:\n{done.stderr[-3000:]}")
    client = MlflowClient(tracking_uri)
    version = str(max(int(v.version) for v in client.search_model_versions(f"name='{name}'")))
    client.set_registered_model_alias(name, registry.CHAMPION_ALIAS, version)
    return BenchModel("training app default", name, version, sample_row(client, name, version))


def sample_row(client: MlflowClient, name: str, version: str) -> dict[str, Any]:
    """A typical input row: mid-bin values and the first category from the drift reference."""
    signature = mlflow.models.get_model_info(f"models:/{name}/{version}").signature
    run_id = client.get_model_version(name, version).run_id
    if not run_id:
        raise RuntimeError(f"{name} version {version} has no source run")
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, registry.DRIFT_REFERENCE_ARTIFACT, tmp)
        features = json.loads(Path(path).read_text())["features"]
    row: dict[str, Any] = {}
    for spec in signature.inputs.inputs:
        ref = features.get(spec.name, {})
        kind = spec.type.name
        if kind == "string":
            row[spec.name] = (ref.get("categories") or ["a"])[0]
            continue
        interior = [float(e) for e in ref.get("edges", [])[1:-1]] or [1.0]
        value = interior[len(interior) // 2]
        row[spec.name] = round(value) if kind in ("long", "integer") else value
        if kind == "boolean":
            row[spec.name] = bool(row[spec.name])
    return row
