"""Integration: train, promote, reject, roll back, status on real MLflow, Postgres and S3."""

from __future__ import annotations

import hashlib
import json
import time

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from training import data

from tests import services
from tests.training.helpers import (
    FAST_TRAIN,
    FIXED_HOLDOUT,
    GIT_COMMIT,
    alias_version,
    run_in_process,
    run_training,
)

pytestmark = pytest.mark.integration


def test_train_registers_a_version_with_its_data_code_and_drift_reference(
    training_env: dict[str, str],
    model_name: str,
    client: MlflowClient,
    s3_server: services.S3Server,
) -> None:
    started = time.monotonic()
    proc = run_training("train", *FAST_TRAIN, "--seed", "11", env=training_env)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    print(f"train+register subprocess took {elapsed:.1f}s")  # reported, never asserted
    assert f"registered {model_name} version 1" in proc.stdout
    assert "s] snapshot s3://datasets/synthetic-rows-1500-seed-11-drift-0/" in proc.stdout
    assert proc.stderr.strip() == ""  # stderr is reserved for the error line

    mv = client.get_model_version(model_name, "1")
    run = client.get_run(mv.run_id)
    # metrics and params the registry contract promises serving
    for metric in ("test_accuracy", "test_f1", "test_roc_auc"):
        assert 0.5 < run.data.metrics[metric] <= 1.0, metric
    assert run.data.params["n_estimators"] == "20"
    assert run.data.params["max_depth"] == "8"
    assert run.data.params["data_rows"] == "1500"
    # lineage: which data and which code
    assert run.data.tags["git_commit"] == GIT_COMMIT
    assert mv.tags["git_commit"] == GIT_COMMIT
    sha = mv.tags["data_sha256"]
    uri = mv.tags["data_uri"]
    assert uri == f"s3://datasets/synthetic-rows-1500-seed-11-drift-0/{sha}.parquet"
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.digest == sha[:32]  # MLflow caps digests at 36 characters
    assert json.loads(dataset_input.dataset.source) == {"uri": uri}
    body = s3_server.client().get_object(Bucket="datasets", Key=uri.split("/", 3)[3])["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha  # content-addressed: the bytes hash to the key
    # the model: signature, explicit requirements, loadable
    info = mlflow.models.get_model_info(f"models:/{model_name}/1")
    assert info.signature is not None
    assert [c.name for c in info.signature.inputs.inputs] == list(data.FEATURES)
    artifacts = {a.path for a in client.list_artifacts(mv.run_id, "plots")}
    assert artifacts == {"plots/confusion_matrix.png", "plots/feature_importance.png"}
    reference = mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/drift/reference.json")
    assert reference["schema"] == 1
    assert set(reference["features"]) == set(data.FEATURES)
    assert reference["features"]["weather"]["kind"] == "categorical"
    assert reference["features"]["hour"]["edges"][0] == "-inf"
    # train never promotes
    assert client.get_registered_model(model_name).aliases == {}


def test_promote_moves_champion_rejects_a_worse_candidate_and_rolls_back(
    training_env: dict[str, str],
    model_name: str,
    client: MlflowClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = training_env
    # Set-up steps run in this process (saves interpreter start-ups); every exit code and
    # message asserted below the rejection comes from a real `python -m training` process.
    assert run_in_process("train", *FAST_TRAIN, "--seed", "1", env=env) == 0
    assert run_in_process("promote", *FIXED_HOLDOUT, env=env) == 0
    assert "PROMOTED: first version" in capsys.readouterr().out
    assert alias_version(client, model_name, "champion") == "1"
    assert alias_version(client, model_name, "previous") is None

    assert run_in_process("train", *FAST_TRAIN, "--seed", "2", env=env) == 0
    assert run_in_process("promote", *FIXED_HOLDOUT, env=env) == 0, capsys.readouterr().out
    assert alias_version(client, model_name, "champion") == "2"
    assert alias_version(client, model_name, "previous") == "1"
    tags = client.get_model_version(model_name, "2").tags
    assert tags["gate.decision"] == "promoted"
    assert tags["gate.champion_version"] == "1"

    # A tiny model trained on a drifted world, gated on today's data: must be rejected.
    worse = [
        "--rows",
        "1500",
        "--seed",
        "3",
        "--drift",
        "1.0",
        "--n-estimators",
        "2",
        "--max-depth",
        "2",
    ]
    assert run_in_process("train", *worse, env=env) == 0
    rejected = run_training("promote", "--version", "3", *FIXED_HOLDOUT, env=env)
    assert rejected.returncode == 3, rejected.stdout + rejected.stderr
    assert "REJECTED" in rejected.stdout
    assert alias_version(client, model_name, "champion") == "2"
    assert alias_version(client, model_name, "previous") == "1"
    tags = client.get_model_version(model_name, "3").tags
    assert tags["gate.decision"] == "rejected"
    assert "regresses more than" in tags["gate.reason"]
    assert float(tags["gate.candidate_score"]) < float(tags["gate.champion_score"]) - 0.02
    assert tags["gate.holdout"] == "synthetic:rows=1000,seed=123,drift=0"

    back = run_training("rollback", env=env)
    assert back.returncode == 0, back.stderr
    assert alias_version(client, model_name, "champion") == "1"
    assert alias_version(client, model_name, "previous") is None
    assert "rollback.restored_at" in client.get_model_version(model_name, "1").tags
    assert "2 -> 1" in client.get_registered_model(model_name).tags["last_rollback"]
    again = run_training("rollback", env=env)
    assert again.returncode == 1
    assert again.stderr.strip() == (
        f"error: registered model '{model_name}' has no 'previous' alias to roll back to"
    )
    assert alias_version(client, model_name, "champion") == "1"

    status = run_training("status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["model"] == model_name
    assert report["versions"] == 3
    assert report["champion"]["version"] == "1"
    assert report["previous"] is None
    assert report["latest"]["version"] == "3"
    assert report["latest"]["gate_decision"] == "rejected"
    assert len(report["champion"]["data_digest"]) == 32
    assert report["champion"]["data_sha256"].startswith(report["champion"]["data_digest"])
    assert set(report["champion"]["metrics"]) == {"test_accuracy", "test_f1", "test_roc_auc"}
    human = run_training("status", env=env)
    assert human.returncode == 0
    assert human.stdout.splitlines()[1].startswith("champion  v1")
