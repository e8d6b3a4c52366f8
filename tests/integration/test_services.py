"""The real servers the integration tests rely on really work together."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from uuid import uuid4

import pytest

from infra.render import RenderedStack
from sandbox import services

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


def _status_with_host(url: str, host: str) -> int:
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_rendered_mlflow_admits_its_in_cluster_names_and_rejects_others(
    mlflow_server: services.MlflowServer, rendered_dev: RenderedStack
) -> None:
    # The server runs with the rendered --allowed-hosts: clients that reach it by its Service
    # DNS name get answers, any other Host header is refused (DNS-rebinding protection).
    service = next(
        o
        for o in rendered_dev.manifests
        if o["kind"] == "Service" and o["metadata"]["name"] == "mlflow"
    )
    namespace = service["metadata"]["namespace"]
    port = service["spec"]["ports"][0]["port"]
    url = f"{mlflow_server.tracking_uri}/api/2.0/mlflow/experiments/search?max_results=1"
    fqdn = f"mlflow.{namespace}.svc.cluster.local:{port}"
    assert _status_with_host(url, fqdn) == 200
    assert _status_with_host(url, f"mlflow.{namespace}:{port}") == 200
    assert _status_with_host(url, "attacker.example:5000") == 403


def test_rendered_mlflow_exposes_prometheus_metrics(mlflow_server: services.MlflowServer) -> None:
    with urllib.request.urlopen(f"{mlflow_server.tracking_uri}/health", timeout=20) as response:
        assert response.status == 200
    with urllib.request.urlopen(f"{mlflow_server.tracking_uri}/metrics", timeout=20) as response:
        text = response.read().decode()
    assert "mlflow_http_request_duration_seconds" in text or "mlflow_http_request_total" in text
