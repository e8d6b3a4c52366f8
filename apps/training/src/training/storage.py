"""S3 access for dataset files and snapshots, configured by explicit arguments only."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import boto3
import botocore.exceptions
from botocore.config import Config

from training.errors import TrainingError
from training.settings import DEFAULT_CONNECT_TIMEOUT_SECONDS

if TYPE_CHECKING:
    from training.settings import Settings


@dataclass(frozen=True, kw_only=True)
class S3Config:
    """Where the object store is and how to sign in; None leaves boto3's own default chain."""

    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    region: str | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Config:
        """The object store the settings name (MLFLOW_S3_ENDPOINT_URL, AWS_*)."""
        secret = settings.aws_secret_access_key
        return cls(
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=settings.aws_access_key_id,
            secret_access_key=None if secret is None else secret.get_secret_value(),
            region=settings.aws_default_region,
            connect_timeout=settings.s3_connect_timeout,
        )

    @classmethod
    def for_inference_log(cls, settings: Settings) -> S3Config:
        """The store holding serving's inference log: INFERENCE_LOG_ENDPOINT_URL if set."""
        base = cls.from_settings(settings)
        if settings.inference_log_endpoint_url is None:
            return base
        return dataclasses.replace(base, endpoint_url=settings.inference_log_endpoint_url)

    def endpoint(self) -> str:
        """The S3 endpoint in use, or AWS's default when none is set."""
        return self.endpoint_url or "AWS S3 (default endpoint)"


def client(cfg: S3Config) -> Any:
    """A boto3 S3 client for cfg, failing fast: a CronJob should report a dead store in seconds."""
    config = Config(
        connect_timeout=cfg.connect_timeout,
        read_timeout=60,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    return boto3.client(
        "s3",
        endpoint_url=cfg.endpoint_url,
        aws_access_key_id=cfg.access_key_id,
        aws_secret_access_key=cfg.secret_access_key,
        region_name=cfg.region,
        config=config,
    )


def split_uri(uri: str) -> tuple[str, str]:
    """Split `s3://bucket/key` into (bucket, key), refusing anything else."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise TrainingError(f"{uri!r} is not an S3 object URI; expected s3://bucket/key")
    return parsed.netloc, parsed.path.lstrip("/")


def describe(exc: Exception, cfg: S3Config) -> str:
    """One line for an S3 failure: the endpoint and what went wrong."""
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        detail = f"{err.get('Code', 'error')}: {err.get('Message', '')}".rstrip(": ")
    elif isinstance(exc, botocore.exceptions.EndpointConnectionError | ConnectionError):
        detail = "connection refused or unreachable"
    else:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"S3 at {cfg.endpoint()}: {detail}"


def read_bytes(uri: str, cfg: S3Config) -> bytes:
    """Download one object."""
    bucket, key = split_uri(uri)
    try:
        body: bytes = client(cfg).get_object(Bucket=bucket, Key=key)["Body"].read()
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise TrainingError(f"reading {uri}: {describe(exc, cfg)}") from exc
    return body


def put_if_absent(bucket: str, key: str, body: bytes, cfg: S3Config) -> bool:
    """Upload an object unless one already exists at that key; True if it was uploaded.

    Keys are content addresses, so an existing object already holds these exact bytes.
    """
    s3 = client(cfg)
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
        raise TrainingError(f"writing s3://{bucket}/{key}: {describe(exc, cfg)}") from exc
    return True
