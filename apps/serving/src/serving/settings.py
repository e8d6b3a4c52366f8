"""Serving configuration from environment variables (shared names in mlops_contract.env)."""

from __future__ import annotations

import os
import socket

from mlops_contract import env, registry
from mlops_contract.inference_log import check_replica
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(RuntimeError):
    """Raised when the environment does not describe a usable serving configuration."""


def _default_replica() -> str:
    """The pod name (HOSTNAME), else the host name: unique per serving replica."""
    return os.environ.get(env.HOSTNAME) or socket.gethostname()


class Settings(BaseSettings):
    """Every knob of the server; each field is read from the upper-case environment variable."""

    # populate_by_name: tests and callers may pass fields by name; the environment uses the
    # contract's variable names (validation aliases), which error messages then name.
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, populate_by_name=True
    )

    # No default on purpose: a server that silently talks to localhost would look healthy
    # in a cluster while never finding its model.
    mlflow_tracking_uri: str = Field(min_length=1, validation_alias=env.MLFLOW_TRACKING_URI)
    # The MLflow identity (basic auth; READ on the model only). Declared so the render is
    # checked against them; MLflow's client reads both from the environment itself.
    mlflow_tracking_username: str | None = Field(
        default=None, validation_alias=env.MLFLOW_TRACKING_USERNAME
    )
    mlflow_tracking_password: SecretStr | None = Field(
        default=None, validation_alias=env.MLFLOW_TRACKING_PASSWORD
    )
    model_name: str = Field(
        default=registry.DEFAULT_MODEL_NAME, min_length=1, validation_alias=env.MODEL_NAME
    )
    # The alias followed: the same variable, and value, training's promote and rollback move.
    model_alias: str = Field(
        default=registry.CHAMPION_ALIAS, min_length=1, validation_alias=env.MODEL_ALIAS
    )
    model_poll_interval_seconds: float = Field(
        default=10.0, gt=0, le=3600, validation_alias=env.MODEL_POLL_INTERVAL_SECONDS
    )
    # A batch above this many rows is refused (422); also the cap of one micro-batch.
    max_batch_rows: int = Field(default=256, ge=1, le=100_000)
    # Bodies above this are refused (413) before they are parsed.
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=256 * 1_048_576)
    # How long the micro-batcher waits for more concurrent rows; a few ms trades a little
    # latency under concurrency for one predict call per batch (a lone client never waits).
    # 5 ms: on a busy 2-core node, 8 clients' requests spread over more than 2 ms.
    batch_max_wait_ms: float = Field(default=5.0, ge=0, le=100)
    drift_window_rows: int = Field(default=1000, ge=10, le=1_000_000)
    # The interactive API docs page (/docs); off in the platform, on in the local sandbox.
    api_docs: bool = False

    # The inference log (docs/inference-log.md): off unless a bucket is named.
    inference_log_bucket: str | None = Field(default=None, min_length=3, max_length=63)
    # None: boto3's default endpoint (AWS S3, or AWS_ENDPOINT_URL_S3 if set).
    inference_log_endpoint_url: str | None = None
    inference_log_flush_seconds: float = Field(default=5.0, gt=0, le=3600)
    # Flush before the timer once this many rows are buffered (one object stays small).
    inference_log_flush_rows: int = Field(default=10_000, ge=1, le=1_000_000)
    # The memory bound: rows beyond it are dropped (and counted), never waited for.
    inference_log_max_buffered_rows: int = Field(default=100_000, ge=1, le=10_000_000)
    # Names this replica's objects; the pod name keeps replicas from overwriting each other.
    inference_log_replica: str = Field(default_factory=_default_replica)
    # Object store credentials, passed explicitly to the log's S3 client (None: boto3's chain).
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_default_region: str | None = None

    @field_validator("inference_log_endpoint_url")
    @classmethod
    def _endpoint_is_a_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be the S3 endpoint URL (http://host:port), got {value!r}")
        return value

    @field_validator("inference_log_replica")
    @classmethod
    def _replica_names_objects(cls, value: str) -> str:
        return check_replica(value)

    @model_validator(mode="after")
    def _flush_before_the_cap(self) -> Settings:
        if self.inference_log_flush_rows > self.inference_log_max_buffered_rows:
            raise ValueError(
                f"{env.INFERENCE_LOG_FLUSH_ROWS}={self.inference_log_flush_rows} must not exceed "
                f"{env.INFERENCE_LOG_MAX_BUFFERED_ROWS}={self.inference_log_max_buffered_rows}"
            )
        return self

    @field_validator("mlflow_tracking_uri")
    @classmethod
    def _tracking_uri_is_a_server(cls, value: str) -> str:
        """Serving follows a registry alias, which needs a tracking server, not a local dir."""
        if not value.startswith(("http://", "https://", "databricks")):
            raise ValueError(
                f"must be the MLflow server URL (http://host:port), got {value!r}",
            )
        return value.rstrip("/")


def load_settings() -> Settings:
    """Read Settings from the environment, turning validation errors into one clear message."""
    try:
        return Settings()  # fields are filled from the environment
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper() or "settings"
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError(
            "invalid serving configuration (set these environment variables): "
            + "; ".join(problems),
        ) from None
