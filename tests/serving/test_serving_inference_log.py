"""The inference log on real servers: SeaweedFS S3, MLflow, the app in-process.

Predictions and every /feedback label land in S3 as Parquet under the contract's keys; two
replicas share one bucket without overwriting each other; a label sent to another replica is
still stored; shutdown flushes the tail; an S3 outage never fails a prediction and the rows it
held back are written once S3 returns; a full buffer drops and counts rows.
"""

from __future__ import annotations

import io
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from mlops_contract import env
from mlops_contract import inference_log as layout
from mlops_contract import metrics as names
from serving.settings import Settings, SettingsError, load_settings

from tests import services
from tests.services import MlflowServer, S3Server
from tests.serving.helpers import FAST_ROW, SLOW_ROW, Registered, metric, serve_ready

pytestmark = pytest.mark.integration

KEY = re.compile(
    r"^v1/(predictions|labels)/date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/"
    r"(?P<replica>[A-Za-z0-9._-]+)-(\d{13})-(\d{6})\.parquet$"
)


def _bucket(s3: S3Server) -> str:
    name = f"inference-log-{uuid.uuid4().hex[:8]}"
    s3.client().create_bucket(Bucket=name)
    return name


def _settings(
    mlflow_server: MlflowServer, registered: Registered, s3: S3Server, bucket: str, **over: Any
) -> Settings:
    values: dict[str, Any] = {
        "mlflow_tracking_uri": mlflow_server.tracking_uri,
        "model_name": registered.name,
        "model_poll_interval_seconds": 0.5,
        "inference_log_bucket": bucket,
        "inference_log_endpoint_url": s3.endpoint_url,
        "inference_log_flush_seconds": 0.2,
        "aws_access_key_id": s3.access_key,
        "aws_secret_access_key": s3.secret_key,
        "aws_default_region": s3.region,
        **over,
    }
    return Settings(**values)


@contextmanager
def _serve(settings: Settings) -> Iterator[TestClient]:
    """The app with its lifespan (flusher started; leaving the block runs the shutdown flush)."""
    with serve_ready(settings) as client:
        yield client


def _keys(s3: S3Server, bucket: str, kind: str) -> list[str]:
    pages = (
        s3.client()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=bucket, Prefix=f"{layout.LAYOUT}/{kind}/")
    )
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _read(s3: S3Server, bucket: str, kind: str) -> pa.Table | None:
    """Every object of ``kind`` as one table (None when there is none yet)."""
    client = s3.client()
    tables = [
        pq.read_table(io.BytesIO(client.get_object(Bucket=bucket, Key=key)["Body"].read()))
        for key in _keys(s3, bucket, kind)
    ]
    return pa.concat_tables(tables, promote_options="default") if tables else None


def _wait(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def _rows(s3: S3Server, bucket: str, kind: str, count: int) -> pa.Table:
    """Wait until ``count`` rows of ``kind`` are in the bucket, and return them."""

    def enough() -> pa.Table | None:
        table = _read(s3, bucket, kind)
        return table if table is not None and table.num_rows >= count else None

    table: pa.Table = _wait(enough, f"{count} {kind} rows")
    return table


def _metric(client: TestClient, name: str, **labels: str) -> float | None:
    return metric(client.get("/metrics").text, name, **labels)


def test_predictions_and_labels_land_as_parquet_under_the_documented_keys(
    mlflow_server: MlflowServer, registered: Registered, s3_server: S3Server
) -> None:
    bucket = _bucket(s3_server)
    settings = _settings(mlflow_server, registered, s3_server, bucket, inference_log_replica="r1")
    rows = [SLOW_ROW, FAST_ROW, {**SLOW_ROW, "hour": 23, "weather": "snow"}]
    before = datetime.now(UTC)
    with _serve(settings) as client:
        assert _metric(client, names.INFERENCE_LOG_ENABLED) == 1
        body = client.post("/predict", json={"instances": rows}).json()
        split = {"columns": list(FAST_ROW), "data": [list(FAST_ROW.values())]}
        assert client.post("/invocations", json={"dataframe_split": split}).status_code == 200
        stranger = uuid.uuid4().hex  # an id this replica never handed out
        labels = [{"id": body["ids"][0], "label": 1}, {"id": stranger, "label": 0}]
        feedback = client.post("/feedback", json={"feedback": labels}).json()
        assert feedback == {"received": 2, "logged": True}  # the stranger's label too ...
        predictions = _rows(s3_server, bucket, layout.PREDICTIONS, 4)
        stored_labels = _rows(s3_server, bucket, layout.LABELS, 2)  # ... but the log keeps it
        assert _metric(client, names.INFERENCE_LOG_ROWS_TOTAL, kind="predictions") == 4
        assert _metric(client, names.INFERENCE_LOG_ROWS_TOTAL, kind="labels") == 2
        assert _metric(client, names.INFERENCE_LOG_FLUSH_FAILURES_TOTAL) == 0
        assert (_metric(client, names.INFERENCE_LOG_LAST_FLUSH) or 0) >= before.timestamp()
    after = datetime.now(UTC)

    features = [layout.feature_column(name) for name in SLOW_ROW]
    assert predictions.column_names == [*layout.PREDICTION_COLUMNS, *features]
    assert stored_labels.column_names == list(layout.LABEL_COLUMNS)
    assert predictions.schema.field(layout.TS).type == pa.timestamp("ms", tz="UTC")
    assert predictions.schema.field("f_hour").type == pa.int64()
    assert predictions.schema.field("f_speed").type == pa.float64()

    by_id = {r[layout.PREDICTION_ID]: r for r in predictions.to_pylist()}
    frame = pd.DataFrame(rows)
    expected_proba = registered.pipeline.predict_proba(frame)[:, 1]
    for index, prediction_id in enumerate(body["ids"]):
        row = by_id.pop(prediction_id)
        assert row[layout.MODEL_NAME] == registered.name
        assert row[layout.MODEL_VERSION] == registered.version
        assert row[layout.PREDICTION] == str(body["predictions"][index])
        assert row[layout.PROBA] == pytest.approx(expected_proba[index])
        assert {name: row[layout.feature_column(name)] for name in SLOW_ROW} == rows[index]
        assert before.timestamp() - 1 <= row[layout.TS].timestamp() <= after.timestamp() + 1
    (invocation,) = by_id.values()  # /invocations hands out no id; the log made one up
    assert len(invocation[layout.PREDICTION_ID]) == 32
    assert invocation["f_weather"] == "clear"
    assert sorted((r["prediction_id"], r["label"]) for r in stored_labels.to_pylist()) == sorted(
        [(body["ids"][0], "1"), (stranger, "0")]
    )
    for kind in layout.KINDS:
        for key in _keys(s3_server, bucket, kind):
            match = KEY.match(key)
            assert match is not None, key
            assert match["replica"] == "r1"
            table = pq.read_table(
                io.BytesIO(s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read())
            )
            hours = {layout.partition(kind, ts) for ts in table.column(layout.TS).to_pylist()}
            assert hours == {key.rsplit("/", 1)[0] + "/"}  # every row is in its hour's partition


def test_two_replicas_share_the_bucket_and_a_label_for_the_other_replica_is_stored(
    mlflow_server: MlflowServer, registered: Registered, s3_server: S3Server
) -> None:
    bucket = _bucket(s3_server)
    a = _settings(mlflow_server, registered, s3_server, bucket, inference_log_replica="pod-a")
    b = _settings(mlflow_server, registered, s3_server, bucket, inference_log_replica="pod-b")
    made: dict[str, list[str]] = {"pod-a": [], "pod-b": []}
    with _serve(a) as replica_a, _serve(b) as replica_b:
        for _ in range(5):  # several flushes each, written in the same instants
            for name, client in (("pod-a", replica_a), ("pod-b", replica_b)):
                made[name] += client.post("/predict", json={"instances": [SLOW_ROW]}).json()["ids"]
            time.sleep(0.25)
        on_a = made["pod-a"][0]
        answer = replica_b.post("/feedback", json={"feedback": [{"id": on_a, "label": 1}]})
        assert answer.json() == {"received": 1, "logged": True}  # B never saw the id
    predictions = _rows(s3_server, bucket, layout.PREDICTIONS, 10)
    labels = _rows(s3_server, bucket, layout.LABELS, 1)

    assert sorted(predictions.column(layout.PREDICTION_ID).to_pylist()) == sorted(
        made["pod-a"] + made["pod-b"]
    )  # nothing overwritten, nothing twice
    keys = _keys(s3_server, bucket, layout.PREDICTIONS)
    replicas = {m["replica"] for m in map(KEY.match, keys) if m is not None}
    assert replicas == {"pod-a", "pod-b"}
    (label_key,) = _keys(s3_server, bucket, layout.LABELS)
    assert "/pod-b-" in label_key
    assert labels.to_pylist()[0][layout.PREDICTION_ID] == on_a


def test_shutdown_flushes_what_the_timer_has_not(
    mlflow_server: MlflowServer, registered: Registered, s3_server: S3Server
) -> None:
    bucket = _bucket(s3_server)
    settings = _settings(
        mlflow_server, registered, s3_server, bucket, inference_log_flush_seconds=3600
    )
    with _serve(settings) as client:
        ids = client.post("/predict", json={"instances": [SLOW_ROW, FAST_ROW]}).json()["ids"]
        client.post("/feedback", json={"feedback": [{"id": ids[1], "label": 0}]})
        time.sleep(0.5)
        assert _keys(s3_server, bucket, layout.PREDICTIONS) == []  # the timer has not fired
        assert _metric(client, names.INFERENCE_LOG_BUFFERED) == 3
    stored = _read(s3_server, bucket, layout.PREDICTIONS)
    assert stored is not None
    assert sorted(stored.column(layout.PREDICTION_ID).to_pylist()) == sorted(ids)
    assert _read(s3_server, bucket, layout.LABELS) is not None


@pytest.fixture
def own_s3(tmp_path: Path) -> Iterator[S3Server]:
    """A SeaweedFS this test may stop and restart (the session's one serves MLflow)."""
    server = services.start_s3(tmp_path / "s3", buckets=("inference-log",))
    with services.running(server):
        yield server


def _restart(server: S3Server) -> None:
    server.process.start()  # same argv: same ports, same data directory, same bucket

    def up() -> bool:
        try:
            server.client().head_bucket(Bucket="inference-log")
        except Exception:
            return False
        return True

    _wait(up, "SeaweedFS to come back", timeout=60)


def test_an_s3_outage_never_fails_a_prediction_and_held_rows_are_written_when_it_returns(
    mlflow_server: MlflowServer, registered: Registered, own_s3: S3Server
) -> None:
    settings = _settings(
        mlflow_server, registered, own_s3, "inference-log",
        inference_log_max_buffered_rows=20, inference_log_flush_rows=5,
    )  # fmt: skip
    with _serve(settings) as client:
        own_s3.stop()
        ids = []
        for _ in range(10):
            response = client.post("/predict", json={"instances": [SLOW_ROW]})
            assert response.status_code == 200
            ids += response.json()["ids"]
        _wait(lambda: (_metric(client, names.INFERENCE_LOG_FLUSH_FAILURES_TOTAL) or 0) >= 1,
              "a failed flush")  # fmt: skip
        assert _metric(client, names.INFERENCE_LOG_BUFFERED) == 10  # held, not lost
        for _ in range(15):  # 10 more fit under the cap of 20; the 5 newest are dropped
            response = client.post("/predict", json={"instances": [FAST_ROW]})
            assert response.status_code == 200
            ids += response.json()["ids"]
        assert _metric(client, names.INFERENCE_LOG_BUFFERED) == 20
        assert _metric(client, names.INFERENCE_LOG_DROPPED_TOTAL, kind="predictions") == 5
        assert _metric(client, names.INFERENCE_LOG_ROWS_TOTAL, kind="predictions") == 0

        _restart(own_s3)
        _wait(lambda: _metric(client, names.INFERENCE_LOG_BUFFERED) == 0, "the retried flush")
        assert _metric(client, names.INFERENCE_LOG_ROWS_TOTAL, kind="predictions") == 20
    stored = _rows(own_s3, "inference-log", layout.PREDICTIONS, 20)
    assert sorted(stored.column(layout.PREDICTION_ID).to_pylist()) == sorted(ids[:20])


def test_the_log_is_off_without_a_bucket(client: TestClient) -> None:
    assert _metric(client, names.INFERENCE_LOG_ENABLED) == 0
    assert client.post("/predict", json={"instances": [SLOW_ROW]}).status_code == 200
    assert _metric(client, names.INFERENCE_LOG_BUFFERED) == 0


@pytest.mark.parametrize(
    ("variable", "value", "names_in_error"),
    [
        (env.INFERENCE_LOG_ENDPOINT_URL, "s3.example:9000", [env.INFERENCE_LOG_ENDPOINT_URL]),
        (env.INFERENCE_LOG_REPLICA, "pods/a", [env.INFERENCE_LOG_REPLICA]),
        (env.INFERENCE_LOG_FLUSH_SECONDS, "0", [env.INFERENCE_LOG_FLUSH_SECONDS]),
        (env.INFERENCE_LOG_BUCKET, "x", [env.INFERENCE_LOG_BUCKET]),
        (env.INFERENCE_LOG_FLUSH_ROWS, "200000",
         [env.INFERENCE_LOG_FLUSH_ROWS, env.INFERENCE_LOG_MAX_BUFFERED_ROWS]),
    ],
)  # fmt: skip
def test_bad_inference_log_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, names_in_error: list[str]
) -> None:
    monkeypatch.setenv(env.MLFLOW_TRACKING_URI, "http://mlflow:5000")
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    for name in names_in_error:
        assert name in str(caught.value)


def test_the_replica_defaults_to_the_pod_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env.MLFLOW_TRACKING_URI, "http://mlflow:5000")
    monkeypatch.setenv(env.HOSTNAME, "serving-6d5f8-x2k9q")
    assert load_settings().inference_log_replica == "serving-6d5f8-x2k9q"
