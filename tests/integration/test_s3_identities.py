"""Each S3 identity, on a real SeaweedFS run with the infra's identity file, can do what its
consumer needs and gets AccessDenied for the rest (infra/components/objectstore_identities.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from botocore.exceptions import ClientError
from mlops_contract import inference_log

from infra.components import objectstore_identities as ids
from sandbox import services

pytestmark = pytest.mark.integration

ARTIFACTS = services.DEFAULT_ARTIFACTS_BUCKET
DATASETS = services.DEFAULT_DATASETS_BUCKET
LOG = inference_log.DEFAULT_BUCKET
BACKUPS = "postgres-backups"
PREDICTIONS = f"{inference_log.LAYOUT}/{inference_log.PREDICTIONS}/date=2026-01-01/hour=00/"
LABELS = f"{inference_log.LAYOUT}/{inference_log.LABELS}/date=2026-01-01/hour=00/"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.S3Server]:
    """SeaweedFS with every platform bucket and the identity file of the default buckets."""
    server = services.start_s3(
        Path(tmp_path_factory.mktemp("s3-identities")),
        buckets=(ARTIFACTS, DATASETS, LOG, BACKUPS),
        s3_config=services.default_s3_config(BACKUPS),
    )
    with services.running(server):
        yield server


@pytest.fixture(scope="module")
def seeded(s3: services.S3Server) -> dict[str, str]:
    """One object in each bucket, written by admin: what the denied reads aim at."""
    admin = s3.client(ids.ADMIN)
    keys = {
        ARTIFACTS: "1/run/artifacts/model.pkl",
        DATASETS: "iris/abc.parquet",
        LOG: f"{PREDICTIONS}seed-0000000000000-000000.parquet",
        BACKUPS: "main/base/backup.tar",
    }
    for bucket, key in keys.items():
        admin.put_object(Bucket=bucket, Key=key, Body=b"seed")
    return keys


def denied(call: Callable[[], Any]) -> None:
    """Assert the request is refused for lack of rights (not for a missing object)."""
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    code = error.get("Error", {}).get("Code")
    status = error.get("ResponseMetadata", {}).get("HTTPStatusCode")
    assert code == "AccessDenied" or (code == "403" and status == 403), error


def fresh(prefix: str = "") -> str:
    """A new object key under prefix."""
    return f"{prefix}{uuid4().hex}.parquet"


def test_admin_creates_and_deletes_buckets(s3: services.S3Server) -> None:
    admin = s3.client(ids.ADMIN)
    bucket = f"probe-{uuid4().hex[:12]}"
    admin.create_bucket(Bucket=bucket)
    assert bucket in {b["Name"] for b in admin.list_buckets()["Buckets"]}
    admin.delete_bucket(Bucket=bucket)


def test_no_consumer_can_create_or_delete_a_bucket(s3: services.S3Server) -> None:
    for identity in (ids.MLFLOW, ids.TRAINING, ids.SERVING, ids.POSTGRES_BACKUPS):
        client = s3.client(identity)
        denied(partial(client.create_bucket, Bucket=f"probe-{uuid4().hex[:12]}"))
        denied(partial(client.delete_bucket, Bucket=DATASETS))


def test_a_wrong_secret_is_refused(s3: services.S3Server, seeded: dict[str, str]) -> None:
    s3.keys["impostor"] = ids.KeyPair(s3.keys[ids.MLFLOW].access_key, "not-the-secret")
    client = s3.client("impostor")
    with pytest.raises(ClientError):
        client.get_object(Bucket=ARTIFACTS, Key=seeded[ARTIFACTS])


def test_mlflow_reads_writes_lists_and_deletes_artifacts_only(
    s3: services.S3Server, seeded: dict[str, str]
) -> None:
    mlflow = s3.client(ids.MLFLOW)
    key = fresh("2/run/artifacts/")
    mlflow.put_object(Bucket=ARTIFACTS, Key=key, Body=b"model")
    assert mlflow.get_object(Bucket=ARTIFACTS, Key=key)["Body"].read() == b"model"
    listed = mlflow.list_objects_v2(Bucket=ARTIFACTS, Prefix="2/run/")
    assert key in {o["Key"] for o in listed["Contents"]}
    mlflow.delete_object(Bucket=ARTIFACTS, Key=key)

    for bucket in (DATASETS, LOG, BACKUPS):
        denied(partial(mlflow.get_object, Bucket=bucket, Key=seeded[bucket]))
        denied(partial(mlflow.put_object, Bucket=bucket, Key=fresh(PREDICTIONS), Body=b"x"))
        denied(partial(mlflow.list_objects_v2, Bucket=bucket))


def test_training_snapshots_datasets_and_reads_the_log(
    s3: services.S3Server, seeded: dict[str, str]
) -> None:
    training = s3.client(ids.TRAINING)
    key = fresh("iris/")
    # put_if_absent: a missing key must answer 404 (not 403), then the upload succeeds.
    with pytest.raises(ClientError) as missing:
        training.head_object(Bucket=DATASETS, Key=key)
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    training.put_object(Bucket=DATASETS, Key=key, Body=b"rows")
    assert training.get_object(Bucket=DATASETS, Key=key)["Body"].read() == b"rows"
    assert training.list_objects_v2(Bucket=DATASETS, Prefix="iris/")["KeyCount"] >= 1

    listed = training.list_objects_v2(Bucket=LOG, Prefix=f"{inference_log.LAYOUT}/")
    assert seeded[LOG] in {o["Key"] for o in listed["Contents"]}
    assert training.get_object(Bucket=LOG, Key=seeded[LOG])["Body"].read() == b"seed"


def test_training_cannot_touch_artifacts_or_change_the_log(
    s3: services.S3Server, seeded: dict[str, str]
) -> None:
    training = s3.client(ids.TRAINING)
    denied(lambda: training.put_object(Bucket=ARTIFACTS, Key=seeded[ARTIFACTS], Body=b"evil"))
    denied(lambda: training.get_object(Bucket=ARTIFACTS, Key=seeded[ARTIFACTS]))
    denied(lambda: training.delete_object(Bucket=ARTIFACTS, Key=seeded[ARTIFACTS]))
    denied(lambda: training.put_object(Bucket=LOG, Key=fresh(PREDICTIONS), Body=b"forged"))
    denied(lambda: training.delete_object(Bucket=LOG, Key=seeded[LOG]))
    # Snapshots are cited by runs: training adds them, it never deletes one.
    denied(lambda: training.delete_object(Bucket=DATASETS, Key=seeded[DATASETS]))
    denied(lambda: training.get_object(Bucket=BACKUPS, Key=seeded[BACKUPS]))


def test_serving_writes_predictions_and_labels_under_its_prefix(s3: services.S3Server) -> None:
    serving = s3.client(ids.SERVING)
    admin = s3.client(ids.ADMIN)
    for prefix in (PREDICTIONS, LABELS):
        key = fresh(prefix)
        serving.put_object(Bucket=LOG, Key=key, Body=b"batch")
        assert admin.get_object(Bucket=LOG, Key=key)["Body"].read() == b"batch"


def test_serving_cannot_read_list_delete_or_write_elsewhere(
    s3: services.S3Server, seeded: dict[str, str]
) -> None:
    serving = s3.client(ids.SERVING)
    denied(lambda: serving.get_object(Bucket=LOG, Key=seeded[LOG]))
    denied(lambda: serving.head_object(Bucket=LOG, Key=seeded[LOG]))
    denied(lambda: serving.list_objects_v2(Bucket=LOG))
    denied(lambda: serving.delete_object(Bucket=LOG, Key=seeded[LOG]))
    # Outside the contract's layout prefixes, or another layout version.
    denied(lambda: serving.put_object(Bucket=LOG, Key=fresh(), Body=b"x"))
    denied(lambda: serving.put_object(Bucket=LOG, Key=fresh("v2/predictions/"), Body=b"x"))
    denied(lambda: serving.put_object(Bucket=ARTIFACTS, Key=seeded[ARTIFACTS], Body=b"evil"))
    denied(lambda: serving.get_object(Bucket=ARTIFACTS, Key=seeded[ARTIFACTS]))
    denied(lambda: serving.put_object(Bucket=DATASETS, Key=fresh(), Body=b"x"))


def test_backups_own_their_bucket_only(s3: services.S3Server, seeded: dict[str, str]) -> None:
    backups = s3.client(ids.POSTGRES_BACKUPS)
    key = fresh("main/wals/")
    backups.put_object(Bucket=BACKUPS, Key=key, Body=b"wal")
    assert backups.get_object(Bucket=BACKUPS, Key=key)["Body"].read() == b"wal"
    assert backups.list_objects_v2(Bucket=BACKUPS, Prefix="main/")["KeyCount"] >= 2
    # Retention deletes old base backups and WAL.
    backups.delete_object(Bucket=BACKUPS, Key=key)
    denied(lambda: backups.get_object(Bucket=ARTIFACTS, Key=seeded[ARTIFACTS]))
    denied(lambda: backups.put_object(Bucket=LOG, Key=fresh(PREDICTIONS), Body=b"x"))
