"""S3 access for dataset files and snapshots, configured from the environment only."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

import boto3
import botocore.exceptions
from botocore.config import Config

from training.errors import TrainingError

# Fail fast: a CronJob should report an unreachable store in seconds, not after minutes of retries.
_CLIENT_CONFIG = Config(
    connect_timeout=float(os.environ.get("TRAINING_S3_CONNECT_TIMEOUT", "5")),
    read_timeout=60,
    retries={"max_attempts": 2, "mode": "standard"},
)


def endpoint() -> str:
    """The S3 endpoint in use (MLFLOW_S3_ENDPOINT_URL), or AWS's default when unset."""
    return _endpoint_url() or "AWS S3 (default endpoint)"


def _endpoint_url() -> str | None:
    # MLflow's variable first (contracts.md), then boto3's own service-specific one.
    return os.environ.get("MLFLOW_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3")


def client() -> Any:
    """A boto3 S3 client for MLFLOW_S3_ENDPOINT_URL and the standard AWS_* variables."""
    return boto3.client(
        "s3",
        endpoint_url=_endpoint_url(),
        config=_CLIENT_CONFIG,
    )


def split_uri(uri: str) -> tuple[str, str]:
    """Split `s3://bucket/key` into (bucket, key), refusing anything else."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise TrainingError(f"{uri!r} is not an S3 object URI; expected s3://bucket/key")
    return parsed.netloc, parsed.path.lstrip("/")


def describe(exc: Exception) -> str:
    """One line for an S3 failure: the endpoint and what went wrong."""
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        detail = f"{err.get('Code', 'error')}: {err.get('Message', '')}".rstrip(": ")
    elif isinstance(exc, botocore.exceptions.EndpointConnectionError | ConnectionError):
        detail = "connection refused or unreachable"
    else:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"S3 at {endpoint()}: {detail}"


def read_bytes(uri: str) -> bytes:
    """Download one object."""
    bucket, key = split_uri(uri)
    try:
        body: bytes = client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise TrainingError(f"reading {uri}: {describe(exc)}") from exc
    return body


def put_if_absent(bucket: str, key: str, body: bytes) -> bool:
    """Upload an object unless one already exists at that key; True if it was uploaded.

    Keys are content addresses, so an existing object already holds these exact bytes.
    """
    s3 = client()
    try:
        try:
            s3.head_object(Bucket=bucket, Key=key)
            return False
        except botocore.exceptions.ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status != 404 and exc.response.get("Error", {}).get("Code") not in (
                "404",
                "NoSuchKey",
            ):
                raise
        s3.put_object(
            Bucket=bucket, Key=key, Body=body, ContentType="application/vnd.apache.parquet"
        )
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise TrainingError(f"writing s3://{bucket}/{key}: {describe(exc)}") from exc
    return True
