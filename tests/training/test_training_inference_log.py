"""Integration: `retrain` on serving's inference log, on real servers.

The log is written by the real serving app (in-process, two replicas with their own names, the
inference log on the session's SeaweedFS) following a champion that `train` and `promote`
registered in the session's MLflow; labels go to the *other* replica, as a load balancer would
send them. Then the reader's join, the pushed per-version accuracy on a real Pushgateway, the
minimum-rows skip, retraining on logged drifted rows judged on the recent holdout, and a worse
candidate that leaves the champion in place.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import mlflow
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from mlops_contract import metrics as m
from prometheus_client.parser import text_string_to_metric_families
from serving.main import create_app
from serving.settings import Settings as ServingSettings
from training import data, inference_log, storage

from tests import services
from tests.serving.helpers import wait_ready
from tests.training.helpers import (
    alias_version,
    cli_env,
    run_in_process,
    run_training,
    unique_model_name,
    version_count,
)

pytestmark = pytest.mark.integration

BATCH = 50


@dataclass
class Served:
    """What the test sent: prediction ids, what the model answered, the labels sent back."""

    ids: list[str]
    predictions: list[int]
    labels: list[int]
    versions: list[str]

    def accuracy(self) -> float:
        """Accuracy of the labelled predictions, as the test saw them."""
        hits = sum(p == y for p, y in zip(self.predictions, self.labels, strict=True))
        return hits / len(self.labels)


@dataclass
class Loop:
    """A champion, the servers, and the environment `retrain` runs with."""

    name: str
    mlflow: services.MlflowServer
    s3: services.S3Server
    gateway: services.Pushgateway
    client: MlflowClient

    def bucket(self) -> str:
        """A fresh inference-log bucket (one per test, so windows do not mix)."""
        name = f"log-{uuid.uuid4().hex[:8]}"
        self.s3.client().create_bucket(Bucket=name)
        return name

    def env(self, bucket: str, **extra: str) -> dict[str, str]:
        """The CLI's environment: MLflow, S3, the log's bucket, the Pushgateway."""
        return {
            **cli_env(self.mlflow, self.name),
            "INFERENCE_LOG_BUCKET": bucket,
            "PUSHGATEWAY_URL": self.gateway.url,
            "RETRAIN_WINDOW_MINUTES": "10",
            **extra,
        }

    def serving_settings(self, bucket: str, replica: str) -> ServingSettings:
        """Serving following this champion and logging to bucket as `replica`."""
        return ServingSettings(
            mlflow_tracking_uri=self.mlflow.tracking_uri,
            model_name=self.name,
            model_poll_interval_seconds=0.5,
            inference_log_bucket=bucket,
            inference_log_endpoint_url=self.s3.endpoint_url,
            inference_log_flush_seconds=0.2,
            inference_log_replica=replica,
            aws_access_key_id=self.s3.access_key,
            aws_secret_access_key=self.s3.secret_key,
            aws_default_region=self.s3.region,
        )


@pytest.fixture(scope="module")
def loop(
    mlflow_server: services.MlflowServer,
    s3_server: services.S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Loop]:
    name = unique_model_name()
    env = cli_env(mlflow_server, name)
    # Serving's model download resolves `models:/` through MLflow's process-wide registry URI
    # in one place (an MLflow quirk); in a pod MLFLOW_TRACKING_URI sets it, here this does.
    mlflow.set_tracking_uri(mlflow_server.tracking_uri)
    # The bootstrap, as documented: a first champion from synthetic (undrifted) data.
    bootstrap = ["--rows", "4000", "--n-estimators", "60"]
    assert run_in_process("train", *bootstrap, env=env) == 0
    assert run_in_process("promote", "--holdout-seed", "5", env=env) == 0
    gateway = services.start_pushgateway(tmp_path_factory.mktemp("gateway"))
    client = MlflowClient(tracking_uri=mlflow_server.tracking_uri)
    with services.running(gateway):
        yield Loop(name, mlflow_server, s3_server, gateway, client)


@contextmanager
def _replicas(loop: Loop, bucket: str) -> Iterator[tuple[TestClient, TestClient]]:
    """Two serving replicas in-process, ready; leaving flushes their logs (the shutdown flush)."""
    with (
        TestClient(create_app(loop.serving_settings(bucket, "pod-a"))) as a,
        TestClient(create_app(loop.serving_settings(bucket, "pod-b"))) as b,
    ):
        for replica in (a, b):
            wait_ready(replica)
        yield a, b


def _serve(a: TestClient, b: TestClient, frame: pd.DataFrame, *, label: bool = True) -> Served:
    """Predict in batches on alternating replicas; send each batch's labels to the other one."""
    served = Served([], [], [], [])
    rows = frame[list(data.FEATURES)].to_dict(orient="records")
    truth = frame[data.TARGET].tolist()
    for index, start in enumerate(range(0, len(rows), BATCH)):
        predictor, labeller = (a, b) if index % 2 == 0 else (b, a)
        body = predictor.post("/predict", json={"instances": rows[start : start + BATCH]})
        assert body.status_code == 200, body.text
        answer = body.json()
        labels = truth[start : start + BATCH]
        served.ids += answer["ids"]
        served.predictions += [int(p) for p in answer["predictions"]]
        served.versions += [answer["model_version"]] * len(labels)
        served.labels += labels
        if label:
            feedback = [{"id": i, "label": y} for i, y in zip(answer["ids"], labels, strict=True)]
            assert labeller.post("/feedback", json={"feedback": feedback}).status_code == 200
    return served


def _pushed(gateway: services.Pushgateway) -> dict[str, dict[str, float]]:
    """The accuracy figures on the Pushgateway: metric -> {model_version: value}."""
    with urllib.request.urlopen(f"{gateway.url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    names = {m.ONLINE_ACCURACY_LOGGED, m.OFFLINE_ACCURACY_LOGGED, m.LABELLED_ROWS_LOGGED}
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in names and sample.labels.get("job") == m.JOB_RETRAIN:
                out.setdefault(sample.name, {})[sample.labels["model_version"]] = sample.value
    return out


def _read(loop: Loop, bucket: str, window: inference_log.Window) -> inference_log.LogRead:
    cfg = storage.S3Config(
        endpoint_url=loop.s3.endpoint_url,
        access_key_id=loop.s3.access_key,
        secret_access_key=loop.s3.secret_key,
        region=loop.s3.region,
    )
    return inference_log.read(cfg, bucket, window)


def test_the_reader_joins_labels_from_any_replica_keeps_the_latest_and_honours_the_window(
    loop: Loop,
) -> None:
    bucket = loop.bucket()
    with _replicas(loop, bucket) as (a, b):
        early = _serve(a, b, data.generate(100, seed=21))
        time.sleep(1.0)  # flushed; the window below starts after these rows
        start = datetime.now(UTC)
        late = _serve(a, b, data.generate(200, seed=22))
        # Labels sent twice: the first wrong, the later one right (the later one wins).
        pairs = list(zip(late.ids[:10], late.labels[:10], strict=True))
        wrong = [{"id": i, "label": 1 - y} for i, y in pairs]
        assert a.post("/feedback", json={"feedback": wrong}).status_code == 200
        time.sleep(0.05)
        right = [{"id": i, "label": y} for i, y in pairs]
        assert b.post("/feedback", json={"feedback": right}).status_code == 200
        # Predictions without a label, and a label for an id nobody predicted.
        _serve(a, b, data.generate(30, seed=23), label=False)
        stranger = [{"id": uuid.uuid4().hex, "label": 1}]
        assert a.post("/feedback", json={"feedback": stranger}).status_code == 200
    got = _read(loop, bucket, inference_log.Window(start=start, end=datetime.now(UTC)))

    assert got.predictions == 230  # the early 100 are outside the window
    assert got.labels == 200 + 10 + 10 + 1
    frame = got.labelled
    assert len(frame) == 200
    assert set(frame["prediction_id"]) == set(late.ids)
    assert not set(frame["prediction_id"]) & set(early.ids)
    by_id = frame.set_index("prediction_id")
    truth = dict(zip(late.ids, late.labels, strict=True))
    assert all(by_id.loc[i, data.TARGET] == y for i, y in truth.items())  # the latest label
    predicted = dict(zip(late.ids, late.predictions, strict=True))
    assert all(by_id.loc[i, inference_log.PREDICTION] == p for i, p in predicted.items())
    # Half of the batches were predicted on pod-a and labelled on pod-b, half the other way.
    expected = data.validate(data.generate(200, seed=22), "x")
    for column in (*data.FEATURES, data.TARGET):
        assert frame[column].dtype == expected[column].dtype, column
    assert sorted(frame[list(data.FEATURES)].itertuples(index=False)) == sorted(
        expected[list(data.FEATURES)].itertuples(index=False)
    )
    assert set(frame[inference_log.MODEL_VERSION]) == {"1"}


def test_too_few_labelled_rows_skip_cheaply_and_say_why(loop: Loop) -> None:
    bucket = loop.bucket()
    with _replicas(loop, bucket) as (a, b):
        served = _serve(a, b, data.generate(150, seed=31))
    # A subprocess that reports which heavy modules the run imported.
    code = (
        "import sys; from training.cli import main; rc = main(sys.argv[1:]); "
        "print('heavy:', sorted(m for m in ('sklearn', 'mlflow') if m in sys.modules)); "
        "sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "retrain", "--policy", "always"],
        env=loop.env(bucket),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        "decision: skip (policy 'always': scheduled retrain; but only 150 labelled rows in the "
        "inference log over the last 10 min (< RETRAIN_MIN_ROWS=200): too few to train and "
        "judge a candidate)"
    ) in proc.stdout
    assert "heavy: []" in proc.stdout  # no scikit-learn, no mlflow on a skipping run
    assert version_count(loop.client, loop.name) == 1
    figures = _pushed(loop.gateway)
    assert figures[m.LABELLED_ROWS_LOGGED] == {"1": 150}
    assert figures[m.ONLINE_ACCURACY_LOGGED]["1"] == pytest.approx(served.accuracy())


def test_retrain_on_logged_drifted_rows_promotes_a_model_better_on_the_recent_holdout(
    loop: Loop,
) -> None:
    bucket = loop.bucket()
    with _replicas(loop, bucket) as (a, b):
        before = _serve(a, b, data.generate(300, seed=41))  # undrifted traffic first ...
        drifted = _serve(a, b, data.generate(1700, seed=42, drift=1.0))  # ... then drifted
    served = Served(
        before.ids + drifted.ids,
        before.predictions + drifted.predictions,
        before.labels + drifted.labels,
        before.versions + drifted.versions,
    )
    champion_offline = loop.client.get_run(
        loop.client.get_model_version(loop.name, "1").run_id
    ).data.metrics["test_accuracy"]
    env = loop.env(bucket, RETRAIN_POLICY="accuracy")
    proc = run_training("retrain", "--n-estimators", "60", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    print(out)  # the drift-adaptation figures, for the report

    # The one online accuracy: computed from the joined log, pushed per version, decided on.
    figures = _pushed(loop.gateway)
    assert figures[m.LABELLED_ROWS_LOGGED]["1"] == 2000
    assert figures[m.ONLINE_ACCURACY_LOGGED]["1"] == pytest.approx(served.accuracy())
    assert figures[m.OFFLINE_ACCURACY_LOGGED]["1"] == pytest.approx(champion_offline)
    assert "decision: retrain (accuracy drop: online " in out
    assert "holdout: the newest 500" in out
    assert "PROMOTED:" in out
    assert alias_version(loop.client, loop.name, "champion") == "2"
    tags = loop.client.get_model_version(loop.name, "2").tags
    assert tags["gate.holdout"].startswith("s3://datasets/inference-log-holdout-")
    assert tags["gate.holdout_rows"] == "500"
    candidate, champion = float(tags["gate.candidate_score"]), float(tags["gate.champion_score"])
    assert candidate > champion + 0.05, (candidate, champion)
    run = loop.client.get_run(loop.client.get_model_version(loop.name, "2").run_id)
    # The new version's offline accuracy is its score on that same recent holdout.
    assert run.data.metrics["test_accuracy"] == pytest.approx(candidate)
    assert run.data.tags["data_source"] == f"inference-log:{bucket}:last-10min"
    assert run.inputs.dataset_inputs[0].dataset.digest == run.data.tags["data_sha256"][:32]

    # The next run replaces the figures: v2 is the champion (offline figure, no rows yet), v1
    # keeps its rows but loses its offline figure; the champion has no rows, so no decision.
    again = run_training("retrain", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (
        "decision: skip (no labelled rows of the champion in the last 10 min yet)" in again.stdout
    )
    figures = _pushed(loop.gateway)
    assert figures[m.OFFLINE_ACCURACY_LOGGED] == {"2": pytest.approx(candidate)}
    assert figures[m.LABELLED_ROWS_LOGGED] == {"1": 2000, "2": 0}
    assert set(figures[m.ONLINE_ACCURACY_LOGGED]) == {"1"}


def test_a_worse_candidate_leaves_the_champion_unchanged(loop: Loop) -> None:
    bucket = loop.bucket()
    champion_before = alias_version(loop.client, loop.name, "champion")
    versions_before = version_count(loop.client, loop.name)
    with _replicas(loop, bucket) as (a, b):
        _serve(a, b, data.generate(600, seed=51, drift=1.0))
    # One shallow tree cannot match the champion on the same recent holdout; a low floor leaves
    # the comparison with the champion to decide.
    proc = run_training(
        "retrain", "--policy", "always", "--n-estimators", "1", "--max-depth", "1",
        "--floor", "0.3", env=loop.env(bucket),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "REJECTED:" in proc.stdout
    assert "regresses more than 0.0200 from the champion's" in proc.stdout
    assert alias_version(loop.client, loop.name, "champion") == champion_before
    assert version_count(loop.client, loop.name) == versions_before + 1
