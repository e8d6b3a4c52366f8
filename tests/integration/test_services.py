"""The real servers the integration tests rely on really work together."""

from __future__ import annotations

import json
import urllib.request
from uuid import uuid4

import pytest

from tests import services

pytestmark = pytest.mark.integration


def test_s3_round_trips_an_object_and_rejects_unknown_keys(s3_server: services.S3Server) -> None:
    client = s3_server.client()
    key = f"probe/{uuid4().hex}"
    client.put_object(Bucket=s3_server.datasets_bucket, Key=key, Body=b"hello")
    assert client.get_object(Bucket=s3_server.datasets_bucket, Key=key)["Body"].read() == b"hello"

    import boto3
    from botocore.exceptions import ClientError

    intruder = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        aws_access_key_id="not-a-key",
        aws_secret_access_key="not-a-secret",
        region_name=s3_server.region,
    )
    with pytest.raises(ClientError):
        intruder.get_object(Bucket=s3_server.datasets_bucket, Key=key)


def test_mlflow_stores_runs_in_postgres_and_artifacts_in_s3(
    mlflow_server: services.MlflowServer, s3_server: services.S3Server
) -> None:
    body = json.dumps({"name": f"probe-{uuid4().hex[:8]}"}).encode()
    request = urllib.request.Request(
        f"{mlflow_server.tracking_uri}/api/2.0/mlflow/experiments/create",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        experiment_id = json.load(response)["experiment_id"]
    with urllib.request.urlopen(
        f"{mlflow_server.tracking_uri}/api/2.0/mlflow/experiments/get?experiment_id={experiment_id}",
        timeout=20,
    ) as response:
        experiment = json.load(response)["experiment"]
    # Proxied artifacts: the server, not the client, writes to the S3 bucket.
    assert experiment["artifact_location"].startswith("mlflow-artifacts:")

    put = urllib.request.Request(
        f"{mlflow_server.tracking_uri}/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/probe.txt",
        data=b"artifact",
        method="PUT",
    )
    with urllib.request.urlopen(put, timeout=20) as response:
        assert response.status == 200
    keys = [
        obj["Key"]
        for obj in s3_server.client()
        .list_objects_v2(Bucket=s3_server.artifacts_bucket, Prefix=experiment_id)
        .get("Contents", [])
    ]
    assert f"{experiment_id}/probe.txt" in keys
