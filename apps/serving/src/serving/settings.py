"""Serving configuration from environment variables (shared names in mlops_contract.env)."""

from __future__ import annotations

from mlops_contract import env, registry
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(RuntimeError):
    """Raised when the environment does not describe a usable serving configuration."""


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
    feedback_window_size: int = Field(default=500, ge=1, le=1_000_000)
    prediction_id_cache_size: int = Field(default=100_000, ge=1, le=10_000_000)

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
