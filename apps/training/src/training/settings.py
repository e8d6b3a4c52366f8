"""Every environment variable training reads, read here and only here (names in mlops_contract.env).

pydantic-settings, like serving's settings: one typed, frozen object per process, built once by
the CLI and passed down explicitly, with one error line naming each bad variable. Nothing else
in the package reads os.environ (MLflow's and boto3's own variables excepted, which those
libraries read themselves; see `training.__main__`).
"""

from __future__ import annotations

from mlops_contract import env, registry, triggers
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from training.errors import TrainingError
from training.gate import (
    DEFAULT_FLOOR,
    DEFAULT_MAX_LATENCY_MS_PER_ROW,
    DEFAULT_MAX_REGRESSION,
    DEFAULT_METRIC,
    Metric,
)

DEFAULT_BUCKET = "datasets"
# Fail fast: a CronJob should report an unreachable MLflow or store in seconds.
DEFAULT_CONNECT_TIMEOUT_SECONDS = 5.0


class SettingsError(TrainingError):
    """The environment does not describe a usable training configuration."""


class Settings(BaseSettings):
    """The training job's configuration; each field names the variable it is read from."""

    model_config = SettingsConfigDict(
        case_sensitive=True, extra="ignore", frozen=True, populate_by_name=True
    )

    # Optional here: `retrain` that skips never needs MLflow; commands that do call
    # `require_tracking_uri`, which names the variable when it is missing.
    mlflow_tracking_uri: str | None = Field(default=None, validation_alias=env.MLFLOW_TRACKING_URI)
    model_name: str = Field(
        default=registry.DEFAULT_MODEL_NAME, min_length=1, validation_alias=env.MODEL_NAME
    )
    # The alias promote/rollback move: the same variable, and value, serving follows.
    model_alias: str = Field(
        default=registry.CHAMPION_ALIAS, min_length=1, validation_alias=env.MODEL_ALIAS
    )
    # The MLflow identity (basic auth). Declared so the render is checked against them; MLflow's
    # client reads both from the environment itself. Unset: anonymous (a server without auth).
    mlflow_tracking_username: str | None = Field(
        default=None, validation_alias=env.MLFLOW_TRACKING_USERNAME
    )
    mlflow_tracking_password: SecretStr | None = Field(
        default=None, validation_alias=env.MLFLOW_TRACKING_PASSWORD
    )
    experiment_name: str | None = Field(default=None, validation_alias=env.MLFLOW_EXPERIMENT_NAME)
    git_commit: str | None = Field(default=None, validation_alias=env.GIT_COMMIT)

    s3_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices(env.S3_ENDPOINT_URL, env.AWS_ENDPOINT_URL_S3)
    )
    aws_access_key_id: str | None = Field(default=None, validation_alias=env.AWS_ACCESS_KEY_ID)
    aws_secret_access_key: SecretStr | None = Field(
        default=None, validation_alias=env.AWS_SECRET_ACCESS_KEY
    )
    aws_default_region: str | None = Field(default=None, validation_alias=env.AWS_DEFAULT_REGION)
    datasets_bucket: str = Field(
        default=DEFAULT_BUCKET, min_length=1, validation_alias=env.DATASETS_BUCKET
    )
    s3_connect_timeout: float = Field(
        default=DEFAULT_CONNECT_TIMEOUT_SECONDS,
        gt=0,
        le=300,
        validation_alias=env.TRAINING_S3_CONNECT_TIMEOUT,
    )
    mlflow_connect_timeout: float = Field(
        default=DEFAULT_CONNECT_TIMEOUT_SECONDS,
        gt=0,
        le=300,
        validation_alias=env.TRAINING_MLFLOW_CONNECT_TIMEOUT,
    )

    training_data: str | None = Field(default=None, validation_alias=env.TRAINING_DATA)
    holdout_data: str | None = Field(default=None, validation_alias=env.TRAINING_HOLDOUT_DATA)
    drift: float = Field(default=0.0, ge=0, le=1, validation_alias=env.TRAINING_DRIFT)

    gate_metric: Metric = Field(default=DEFAULT_METRIC, validation_alias=env.GATE_METRIC)
    gate_floor: float = Field(default=DEFAULT_FLOOR, ge=0, le=1, validation_alias=env.GATE_FLOOR)
    gate_max_regression: float = Field(
        default=DEFAULT_MAX_REGRESSION, ge=0, validation_alias=env.GATE_MAX_REGRESSION
    )
    gate_max_latency_ms_per_row: float = Field(
        default=DEFAULT_MAX_LATENCY_MS_PER_ROW,
        gt=0,
        validation_alias=env.GATE_MAX_LATENCY_MS_PER_ROW,
    )

    prometheus_url: str | None = Field(default=None, validation_alias=env.PROMETHEUS_URL)
    pushgateway_url: str | None = Field(default=None, validation_alias=env.PUSHGATEWAY_URL)
    retrain_policy: str = Field(
        default=",".join(triggers.Triggers().policy), validation_alias=env.RETRAIN_POLICY
    )
    retrain_max_psi: float = Field(
        default=triggers.DEFAULT_MAX_PSI, gt=0, validation_alias=env.RETRAIN_MAX_PSI
    )
    retrain_max_accuracy_drop: float = Field(
        default=triggers.DEFAULT_MAX_ACCURACY_DROP,
        ge=0,
        lt=1,
        validation_alias=env.RETRAIN_MAX_ACCURACY_DROP,
    )
    retrain_min_labelled: int = Field(
        default=triggers.DEFAULT_MIN_LABELLED, ge=1, validation_alias=env.RETRAIN_MIN_LABELLED
    )

    # Serving's inference log (docs/inference-log.md): unset, `retrain` cannot measure online
    # accuracy and trains on TRAINING_DATA or the synthetic generator as `train` does.
    inference_log_bucket: str | None = Field(
        default=None, min_length=3, max_length=63, validation_alias=env.INFERENCE_LOG_BUCKET
    )
    # Unset: the object store training uses (MLFLOW_S3_ENDPOINT_URL / AWS_ENDPOINT_URL_S3).
    inference_log_endpoint_url: str | None = Field(
        default=None, pattern=r"^https?://\S+$", validation_alias=env.INFERENCE_LOG_ENDPOINT_URL
    )
    retrain_window_minutes: int = Field(
        default=triggers.DEFAULT_RETRAIN_WINDOW_MINUTES,
        ge=1,
        le=7 * 24 * 60,
        validation_alias=env.RETRAIN_WINDOW_MINUTES,
    )
    retrain_min_rows: int = Field(
        default=triggers.DEFAULT_RETRAIN_MIN_ROWS, ge=20, validation_alias=env.RETRAIN_MIN_ROWS
    )
    retrain_max_rows: int = Field(
        default=triggers.DEFAULT_RETRAIN_MAX_ROWS, ge=20, validation_alias=env.RETRAIN_MAX_ROWS
    )

    @field_validator("retrain_policy")
    @classmethod
    def _policy_is_known(cls, value: str) -> str:
        """RETRAIN_POLICY must name known triggers (checked by the contract's Triggers)."""
        parse_policy(value)
        return value

    def require_tracking_uri(self) -> str:
        """The MLflow server URI, or an error naming the variable to set."""
        uri = (self.mlflow_tracking_uri or "").strip()
        if not uri:
            raise SettingsError(
                f"{env.MLFLOW_TRACKING_URI} is not set; point it at the MLflow server "
                "(e.g. http://mlflow:5000)"
            )
        return uri

    def experiment(self) -> str:
        """MLFLOW_EXPERIMENT_NAME, else the model name."""
        return self.experiment_name or self.model_name


def parse_policy(text: str) -> tuple[str, ...]:
    """`drift, accuracy` -> ("drift", "accuracy"); ValueError for an unknown or empty policy."""
    policy = tuple(part.strip() for part in text.split(",") if part.strip())
    return triggers.Triggers(policy=policy).policy


def _problem(error: ErrorDetails) -> str:
    """`NAME='value': what is wrong` for one bad variable (a secret's value is never shown)."""
    name = ".".join(str(part) for part in error["loc"]) or "settings"
    value = error.get("input")
    shown = f"={value!r}" if isinstance(value, str) and "SECRET" not in name else ""
    return f"{name}{shown}: {error['msg']}"


def load_settings() -> Settings:
    """Read Settings from the environment; one message naming every bad variable and the fix."""
    try:
        return Settings()  # fields are filled from the environment
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise SettingsError(
            f"invalid training configuration (fix or unset these environment variables): {problems}"
        ) from None
