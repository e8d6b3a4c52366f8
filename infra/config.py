"""The platform's typed stack configuration and its one loading path.

Stack files hold keys `mlops-platform:<key>` (camelCase). `parse_config` validates them into a
frozen `PlatformConfig`; `load_config` (inside `pulumi up`) and `load_stack_file` (render, tests)
both go through it, so a broken config is rejected the same way everywhere, before any resource
exists, with one `ConfigError` that lists every problem by its YAML key path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pulumi
import yaml
from croniter import croniter  # type: ignore[import-untyped]  # ships no type information
from mlops_contract import inference_log, registry, triggers
from mlops_contract.triggers import DEFAULT_RETRAIN_MIN_ROWS, DEFAULT_RETRAIN_WINDOW_MINUTES
from pulumi.runtime import config as runtime_config
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

from dashboards.rules import TRIGGER_HOLD
from infra import k8s
from infra.versions import image_pin_problem

PROJECT = "mlops-platform"
STACKS = ("dev", "stage", "prod")
# Production must survive the loss of one node: a Postgres primary plus two synchronous-capable
# replicas, and at least three serving pods behind a PodDisruptionBudget.
PROD_MIN_POSTGRES_INSTANCES = 3
PROD_MIN_SERVING_REPLICAS = 3

_CPU = re.compile(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")
_MEMORY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")
# An alert's `for:` in whole seconds, minutes or hours (the rules describe it in words).
_HOLD = re.compile(r"^[1-9][0-9]*(s|m|h)$")
# Barman's retention policy: a number of days, weeks or months (the ObjectStore CRD's pattern).
_RETENTION = re.compile(r"^[1-9][0-9]*[dwm]$")
# The retrain reads labelled inference-log rows over this window: at most a week of hour
# partitions, so one run's listing and download stay bounded.
MAX_DATA_WINDOW_MINUTES = 7 * 24 * 60


class ConfigError(ValueError):
    """The stack config is invalid; str() lists every problem as `key: expectation`."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        """Build the message from (key path, what is expected) pairs."""
        self.source = source
        self.problems = problems
        lines = [f"invalid stack config in {source} ({len(problems)} problem(s)):"]
        lines += [f"  - {key}: {what}" for key, what in problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class SecureValue:
    """A secret config value (`pulumi config set --secret`).

    `value` is the decrypted secret inside `pulumi up`, or a `<secret:key>` placeholder when the
    stack file is read offline (the ciphertext is never decrypted outside the engine).
    """

    value: str

    def __repr__(self) -> str:
        """Never show the value."""
        return "SecureValue(***)"


def _check_cpu(v: str) -> str:
    if not _CPU.match(v):
        raise ValueError(f"a CPU quantity like '250m' or '1' (got {v!r})")
    return v


def _check_memory(v: str) -> str:
    if not _MEMORY.match(v):
        raise ValueError(f"a memory quantity like '256Mi' or '1Gi' (got {v!r})")
    return v


def _check_image(v: str) -> str:
    problem = image_pin_problem(v)
    if problem:
        raise ValueError(problem)
    return v


def _check_dns_label(v: str) -> str:
    if not k8s.is_dns1123_label(v):
        raise ValueError(f"a DNS-1123 label (lowercase letters, digits, '-'; <=63) (got {v!r})")
    return v


def _check_cluster_name(v: str) -> str:
    # CloudNativePG derives names up to 13 characters longer (`<name>-replication`).
    if len(v) > 50:
        raise ValueError(f"at most 50 characters; CloudNativePG appends suffixes (got {len(v)})")
    return v


def _check_cron(v: str) -> str:
    # Kubernetes CronJobs take the classic 5 fields; croniter also accepts seconds, so count.
    if len(v.split()) != 5 or not croniter.is_valid(v):
        raise ValueError(f"a 5-field cron schedule like '0 3 * * *' (got {v!r})")
    return v


def _check_backup_schedule(v: str) -> str:
    # CloudNativePG's ScheduledBackup takes 6 fields: seconds first, then a classic cron line.
    fields = v.split()
    seconds_ok = len(fields) == 6 and re.fullmatch(r"[0-9,*/-]+", fields[0]) is not None
    if not seconds_ok or not croniter.is_valid(" ".join(fields[1:])):
        raise ValueError(
            f"a 6-field schedule with seconds first, like '0 0 2 * * *' (CloudNativePG "
            f"ScheduledBackup) (got {v!r})"
        )
    return v


def _check_retention(v: str) -> str:
    if not _RETENTION.match(v):
        raise ValueError(f"days, weeks or months like '30d', '4w' or '3m' (got {v!r})")
    return v


def _check_duration(v: str) -> str:
    if not _DURATION.match(v):
        raise ValueError(f"a Prometheus duration like '15d' or '12h' (got {v!r})")
    return v


def _check_hold(v: str) -> str:
    if not _HOLD.match(v):
        raise ValueError(
            f"a Prometheus duration in seconds, minutes or hours like '15m', '30s' or '1h' "
            f"(got {v!r})"
        )
    return v


Cpu = Annotated[str, AfterValidator(_check_cpu)]
Memory = Annotated[str, AfterValidator(_check_memory)]
Image = Annotated[str, AfterValidator(_check_image)]
DnsLabel = Annotated[str, AfterValidator(_check_dns_label)]
Cron = Annotated[str, AfterValidator(_check_cron)]
Duration = Annotated[str, AfterValidator(_check_duration)]
Replicas = Annotated[int, Field(ge=1)]


def _environment(info: ValidationInfo) -> str | None:
    ctx = info.context or {}
    env = ctx.get("environment")
    return env if isinstance(env, str) else None


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        alias_generator=to_camel,
        populate_by_name=True,
        arbitrary_types_allowed=True,
        # Validate defaults too, so cross-field rules (e.g. "required when engine is external")
        # also fire when a key is left out.
        validate_default=True,
    )


class Quantities(_Model):
    """A CPU and memory pair."""

    cpu: Cpu
    memory: Memory


class Resources(_Model):
    """Container requests and limits (both required: the quota admits nothing without them)."""

    requests: Quantities
    limits: Quantities


class Namespaces(_Model):
    """Names of the namespaces the platform creates."""

    platform: DnsLabel = "mlops-platform"
    training: DnsLabel = "mlops-training"
    serving: DnsLabel = "mlops-serving"
    monitoring: DnsLabel = "mlops-monitoring"


class Quota(_Model):
    """ResourceQuota per app namespace."""

    requests_cpu: Cpu = "4"
    requests_memory: Memory = "8Gi"
    limits_cpu: Cpu = "8"
    limits_memory: Memory = "16Gi"


class SecretsConfig(_Model):
    """Where credentials live."""

    # Only `kubernetes` is implemented; other providers (OpenBao, an external store) are planned.
    provider: Literal["kubernetes"] = "kubernetes"


class BackupsConfig(_Model):
    """Base backups and WAL archiving of the registry database to the object store.

    Through the Barman Cloud plugin (the backup mechanism CloudNativePG supports), which needs
    cert-manager in the cluster: `certManagerInstalled` says it is there (docs/operations.md).
    """

    # When the base backup runs; WAL is archived continuously in between (point-in-time restore).
    schedule: Annotated[str, AfterValidator(_check_backup_schedule)] = "0 0 2 * * *"
    # How long base backups and the WAL they need are kept (Barman's recovery window).
    retention: Annotated[str, AfterValidator(_check_retention)] = "30d"
    bucket: DnsLabel = "postgres-backups"
    cert_manager_installed: bool = False

    @field_validator("cert_manager_installed")
    @classmethod
    def _needs_cert_manager(cls, v: bool) -> bool:
        if not v:
            raise ValueError(
                "backups run through the Barman Cloud plugin, which needs cert-manager in the "
                "cluster; install it (docs/operations.md, 'Prerequisites') and set "
                "postgres.backups.certManagerInstalled: true, or remove postgres.backups"
            )
        return v


class PostgresConfig(_Model):
    """The CloudNativePG cluster that backs MLflow."""

    instances: Replicas = 1
    storage_size: Memory = "1Gi"
    storage_class: DnsLabel | None = None
    operator_namespace: DnsLabel = "cnpg-system"
    cluster_name: Annotated[DnsLabel, AfterValidator(_check_cluster_name)] = "mlflow-db"
    database: DnsLabel = "mlflow"
    owner: DnsLabel = "mlflow"
    resources: Resources
    # None: no backups (dev). stage and prod set it.
    backups: BackupsConfig | None = None

    @field_validator("instances")
    @classmethod
    def _prod_is_ha(cls, v: int, info: ValidationInfo) -> int:
        if _environment(info) == "prod" and v < PROD_MIN_POSTGRES_INSTANCES:
            raise ValueError(
                f"at least {PROD_MIN_POSTGRES_INSTANCES} instances in prod for HA (got {v})"
            )
        return v


class S3KeyPair(_Model):
    """One consumer's key pair on an external S3, created there with only its rights."""

    access_key_id: str = Field(
        description="The consumer's access key id on the external S3 (not secret by itself)."
    )
    secret_access_key: SecureValue = Field(
        description=(
            "The consumer's secret key; must be a Pulumi secret (`pulumi config set --secret "
            "--path`), so it never lands in the stack file in clear text."
        )
    )


# The consumers that need a key of their own on an external S3 (objectStore.keys.<name>).
EXTERNAL_KEY_CONSUMERS = ("mlflow", "training", "serving")


class ConsumerKeys(_Model):
    """A key pair per S3 consumer, for `engine: external` (docs/operations.md, storage keys)."""

    mlflow: S3KeyPair | None = Field(
        default=None,
        description="MLflow's key: read, write, list and delete in objectStore.artifactsBucket.",
    )
    training: S3KeyPair | None = Field(
        default=None,
        description=(
            "Training's key: read, write and list objectStore.datasetsBucket; read and list "
            "objectStore.inferenceLogBucket."
        ),
    )
    serving: S3KeyPair | None = Field(
        default=None,
        description="Serving's key: put objects under v1/ of objectStore.inferenceLogBucket only.",
    )
    postgres_backups: S3KeyPair | None = Field(
        default=None,
        description=(
            "The database backups' key (required with postgres.backups): read, write, list and "
            "delete in postgres.backups.bucket."
        ),
    )


class ObjectStoreConfig(_Model):
    """The S3 endpoint: an in-cluster SeaweedFS (default) or MinIO, or an external S3."""

    # SeaweedFS by default: MinIO's last published image carries an unfixed CVE (infra/versions.py)
    engine: Literal["minio", "seaweedfs", "external"] = "seaweedfs"
    storage_size: Memory = "5Gi"
    storage_class: DnsLabel | None = None
    artifacts_bucket: DnsLabel = "mlflow-artifacts"
    datasets_bucket: DnsLabel = "datasets"
    # Serving writes its predictions and labels here; retrain reads them (docs/inference-log.md).
    inference_log_bucket: DnsLabel = inference_log.DEFAULT_BUCKET
    region: str = "us-east-1"
    endpoint: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecureValue | None = None
    keys: ConsumerKeys | None = Field(
        default=None,
        description=(
            "With engine external only: one key pair per consumer (mlflow, training, serving, "
            "postgresBackups), each allowed only its buckets; accessKeyId/secretAccessKey are then "
            "the bucket Job's admin key. In-cluster engines generate every key themselves."
        ),
    )
    resources: Resources | None = None

    @field_validator("endpoint", "access_key_id", "secret_access_key", mode="after")
    @classmethod
    def _external_needs(cls, v: object, info: ValidationInfo) -> object:
        engine = info.data.get("engine")
        field = to_camel(info.field_name or "")
        if engine == "external" and v is None:
            hint = " (pulumi config set --secret --path" if field == "secretAccessKey" else ""
            hint = f"{hint} objectStore.{field} ...)" if hint else ""
            raise ValueError(f"required when engine is 'external'{hint}")
        if engine != "external" and v is not None:
            raise ValueError(f"only used when engine is 'external' (engine is {engine!r})")
        if field == "endpoint" and v is not None and not str(v).startswith(("http://", "https://")):
            raise ValueError(f"an http(s):// URL (got {v!r})")
        return v

    @field_validator("keys", mode="after")
    @classmethod
    def _external_keys(cls, v: ConsumerKeys | None, info: ValidationInfo) -> ConsumerKeys | None:
        # One key per consumer: a shared key would give serving the rights of MLflow.
        engine = info.data.get("engine", "seaweedfs")
        if engine != "external":
            if v is not None:
                raise ValueError(
                    f"only used when engine is 'external' (engine is {engine!r}: the platform "
                    "generates every key)"
                )
            return v
        missing = [n for n in EXTERNAL_KEY_CONSUMERS if v is None or getattr(v, n) is None]
        if missing:
            paths = ", ".join(f"objectStore.keys.{n}" for n in missing)
            raise ValueError(
                f"required when engine is 'external': set {paths} (accessKeyId, and "
                "secretAccessKey with `pulumi config set --secret --path`), one key pair per "
                "consumer (docs/operations.md, 'Storage keys')"
            )
        return v

    @field_validator("datasets_bucket", "inference_log_bucket", mode="after")
    @classmethod
    def _buckets_differ(cls, v: str, info: ValidationInfo) -> str:
        # Each bucket has one writer and one layout: two keys naming one bucket would mix them.
        field = info.field_name or ""
        earlier = {
            name: info.data.get(name)
            for name in ("artifacts_bucket", "datasets_bucket")
            if name != field and name in info.data
        }
        for name, bucket in earlier.items():
            if bucket == v:
                raise ValueError(
                    f"must differ from objectStore.{to_camel(name)} (both are {v!r}); "
                    "each bucket holds one kind of data"
                )
        return v

    @field_validator("resources", mode="after")
    @classmethod
    def _in_cluster_needs_resources(
        cls, v: Resources | None, info: ValidationInfo
    ) -> Resources | None:
        if info.data.get("engine", "seaweedfs") != "external" and v is None:
            raise ValueError("required for an in-cluster engine (minio, seaweedfs)")
        return v


class MlflowConfig(_Model):
    """The MLflow tracking server."""

    replicas: Replicas = 1
    resources: Resources


class ImagesConfig(_Model):
    """App images: built and pushed by the program (`build`), or prebuilt pinned refs."""

    build: bool = False
    registry: str | None = None
    tag: str = "0.1.0"
    training: Image | None = None
    serving: Image | None = None
    # The platform built images are for (`linux/amd64`, `linux/arm64`); unset: the docker
    # host's. Set it when the cluster's nodes differ from the machine that runs `pulumi up`.
    platform: str | None = None

    @field_validator("platform", mode="after")
    @classmethod
    def _platform_form(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and not re.fullmatch(r"[a-z0-9]+/[a-z0-9]+(/[a-z0-9]+)?", v):
            raise ValueError(f"an OS/architecture like 'linux/amd64' or 'linux/arm64' (got {v!r})")
        if v is not None and not info.data.get("build"):
            raise ValueError("only used when images.build is true (the program builds)")
        return v

    @field_validator("registry", mode="after")
    @classmethod
    def _build_needs_registry(cls, v: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("build") and not v:
            raise ValueError("required when images.build is true (e.g. 'localhost:5001')")
        if v is not None and ("/" in v.rstrip("/").split("://")[-1] or "://" in v):
            raise ValueError(f"a registry host[:port] without scheme or path (got {v!r})")
        return v

    @field_validator("tag", mode="after")
    @classmethod
    def _tag_is_pinned(cls, v: str) -> str:
        problem = image_pin_problem(f"registry/image:{v}")
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("training", "serving", mode="after")
    @classmethod
    def _refs_unless_built(cls, v: str | None, info: ValidationInfo) -> str | None:
        build = info.data.get("build")
        if not build and v is None:
            raise ValueError("a pinned image ref is required when images.build is false")
        if build and v is not None:
            raise ValueError("not used when images.build is true (the program builds it)")
        return v


# Each trigger key is checked by the contract class that uses it: its error is the config error.
_TRIGGER_CHECKS: dict[str, Callable[[Any], object]] = {
    "policy": lambda v: triggers.Triggers(policy=tuple(v)),
    "max_psi": lambda v: triggers.DriftTrigger(max_psi=v),
    "max_accuracy_drop": lambda v: triggers.AccuracyDropTrigger(max_drop=v),
    "min_labelled": lambda v: triggers.AccuracyDropTrigger(min_labelled=v),
}


class TriggersConfig(_Model):
    """When `retrain` retrains, and when the drift and accuracy alerts fire: one set of values.

    Validated by the contract's own classes (`mlops_contract.triggers`), so a value the CronJob
    or the rules would refuse is refused here, under its key.
    """

    policy: list[str] = Field(default_factory=lambda: list(triggers.Triggers().policy))
    max_psi: float = triggers.DEFAULT_MAX_PSI
    max_accuracy_drop: float = triggers.DEFAULT_MAX_ACCURACY_DROP
    min_labelled: int = triggers.DEFAULT_MIN_LABELLED

    @field_validator(*_TRIGGER_CHECKS)
    @classmethod
    def _contract_accepts(cls, v: Any, info: ValidationInfo) -> Any:
        _TRIGGER_CHECKS[info.field_name or ""](v)
        return v

    def to_triggers(self) -> triggers.Triggers:
        """Return the contract's Triggers for these values (CronJob env and alert rules)."""
        return triggers.Triggers(
            policy=tuple(self.policy),
            drift=triggers.DriftTrigger(max_psi=self.max_psi),
            accuracy=triggers.AccuracyDropTrigger(
                max_drop=self.max_accuracy_drop, min_labelled=self.min_labelled
            ),
        )


class TrainingConfig(_Model):
    """The retraining CronJob."""

    schedule: Cron = "0 3 * * *"
    triggers: TriggersConfig = TriggersConfig()
    # RETRAIN_WINDOW_MINUTES: labelled inference-log rows from the last N minutes feed the online
    # accuracy, the training set and the holdout.
    data_window_minutes: int = DEFAULT_RETRAIN_WINDOW_MINUTES
    # RETRAIN_MIN_ROWS: fewer labelled rows in the window and the run does not retrain.
    min_training_rows: int = DEFAULT_RETRAIN_MIN_ROWS
    resources: Resources

    @field_validator("data_window_minutes")
    @classmethod
    def _window_is_bounded(cls, v: int) -> int:
        if not 1 <= v <= MAX_DATA_WINDOW_MINUTES:
            raise ValueError(
                f"whole minutes from 1 to {MAX_DATA_WINDOW_MINUTES} (7 days) of labelled "
                f"inference-log rows to train and judge on (got {v})"
            )
        return v

    @field_validator("min_training_rows")
    @classmethod
    def _some_rows(cls, v: int) -> int:
        if v < 1:
            raise ValueError(
                f"at least 1 labelled row: the fewest rows in the window a retrain trains and "
                f"judges on (got {v})"
            )
        return v


class ServingConfig(_Model):
    """The model server."""

    replicas: Replicas = 1
    max_replicas: Replicas = 1
    poll_interval_seconds: Annotated[int, Field(ge=1, le=3600)] = 10
    resources: Resources

    @field_validator("replicas")
    @classmethod
    def _prod_is_ha(cls, v: int, info: ValidationInfo) -> int:
        if _environment(info) == "prod" and v < PROD_MIN_SERVING_REPLICAS:
            raise ValueError(f"at least {PROD_MIN_SERVING_REPLICAS} replicas in prod (got {v})")
        return v

    @field_validator("max_replicas")
    @classmethod
    def _max_not_below_min(cls, v: int, info: ValidationInfo) -> int:
        low = info.data.get("replicas")
        if isinstance(low, int) and v < low:
            raise ValueError(f"at least serving.replicas ({low}) (got {v})")
        return v


class MonitoringConfig(_Model):
    """Prometheus retention, the trigger alerts' hold time and where Alertmanager sends alerts."""

    retention: Duration = "2d"
    # Persistent volumes (a claim per Prometheus / Alertmanager pod): history and silences survive
    # a restart. Size Prometheus for `retention` worth of samples.
    storage_size: Memory = "10Gi"
    alertmanager_storage_size: Memory = "1Gi"
    storage_class: DnsLabel | None = None
    # How often Prometheus scrapes every target and evaluates the rules. 30s is the operator's
    # default; a shorter one (dev) lets drift reach the alert and the retrain decision sooner.
    scrape_interval: Annotated[str, AfterValidator(_check_hold)] = "30s"
    # How long drift or an accuracy drop must last before its alert fires (the rules' `for:`).
    trigger_hold: Annotated[str, AfterValidator(_check_hold)] = TRIGGER_HOLD
    # A webhook URL (Slack, PagerDuty Events, Opsgenie, any HTTP receiver); a secret because
    # webhook URLs carry their own credentials.
    alert_receiver: SecureValue | None = None

    @field_validator("alert_receiver", mode="after")
    @classmethod
    def _prod_pages_someone(cls, v: SecureValue | None, info: ValidationInfo) -> object:
        if v is None and _environment(info) == "prod":
            raise ValueError(
                "required in prod: the Alertmanager webhook URL, set with `pulumi config set "
                "--secret --path monitoring.alertReceiver https://...` (alerts would reach nobody)"
            )
        if v is not None and not v.value.startswith(("http://", "https://", "<secret:")):
            raise ValueError("an http(s):// webhook URL")
        return v


class PlatformConfig(_Model):
    """Everything a stack can configure; see docs/config-reference.md."""

    environment: Literal["dev", "stage", "prod"]
    kube_context: Annotated[str, Field(min_length=1)]
    namespaces: Namespaces = Namespaces()
    quota: Quota = Quota()
    secrets: SecretsConfig = SecretsConfig()
    postgres: PostgresConfig
    object_store: ObjectStoreConfig
    mlflow: MlflowConfig
    images: ImagesConfig
    model_name: DnsLabel = registry.DEFAULT_MODEL_NAME
    # The alias training promotes to and serving follows: one key, so they cannot differ.
    model_alias: DnsLabel = registry.CHAMPION_ALIAS
    training: TrainingConfig
    serving: ServingConfig
    # protect (and retainOnDelete where deleting the object deletes data) on the namespaces, the
    # database Cluster and the object store's volume: `pulumi destroy` or a replacing rename
    # cannot delete the registry. Off only for throwaway clusters (dev); docs/operations.md says
    # how to destroy a protected stack on purpose.
    protect_data: bool = True
    # A mapping (not an instance) so the default is validated too, with the environment:
    # prod without a `monitoring` section must still fail on monitoring.alertReceiver.
    monitoring: MonitoringConfig = Field(default_factory=dict)  # type: ignore[assignment]

    @field_validator("object_store", mode="after")
    @classmethod
    def _backups_key(cls, v: ObjectStoreConfig, info: ValidationInfo) -> ObjectStoreConfig:
        postgres = info.data.get("postgres")
        backups = postgres is not None and postgres.backups is not None
        if (
            v.engine == "external"
            and v.keys is not None
            and backups
            and not v.keys.postgres_backups
        ):
            raise ValueError(
                "keys.postgresBackups is required when engine is 'external' and postgres.backups "
                "is set (the backups get a key of their own)"
            )
        return v

    @field_validator("protect_data")
    @classmethod
    def _prod_is_protected(cls, v: bool, info: ValidationInfo) -> bool:
        if not v and _environment(info) == "prod":
            raise ValueError(
                "must be true in prod; to destroy prod on purpose, unprotect in the state "
                "instead (docs/operations.md, 'Destroy a protected stack')"
            )
        return v


MINIO_WARNING = (
    "objectStore.engine is 'minio': upstream MinIO is no longer maintained and its last "
    "published image carries CVE-2025-62506 (fixed only in a source-only release). Prefer "
    "`engine: seaweedfs`, or `engine: external` with a managed S3 in prod "
    "(docs/config-reference.md)."
)


def config_warnings(cfg: PlatformConfig) -> list[str]:
    """Return what is valid but discouraged in cfg, one sentence each (the program logs them)."""
    warnings = []
    if cfg.object_store.engine == "minio":
        warnings.append(MINIO_WARNING)
    return warnings


# Keys that moved, by YAML path: the error names where they are set now.
MOVED_KEYS: dict[tuple[str, ...], str] = {
    ("serving", "modelAlias"): (
        "moved to the top-level `modelAlias` (one alias for serving and training); "
        "set `mlops-platform:modelAlias` instead"
    ),
}

# Fields whose values must be Pulumi secrets, by YAML path below the project namespace.
SECRET_PATHS: tuple[tuple[str, ...], ...] = (
    ("objectStore", "secretAccessKey"),
    ("objectStore", "keys", "mlflow", "secretAccessKey"),
    ("objectStore", "keys", "training", "secretAccessKey"),
    ("objectStore", "keys", "serving", "secretAccessKey"),
    ("objectStore", "keys", "postgresBackups", "secretAccessKey"),
    ("monitoring", "alertReceiver"),
)


def _key(loc: tuple[int | str, ...], *, as_written: bool = False) -> str:
    """Return `mlops-platform:a.b[0].c` for an error location, in the YAML's camelCase.

    Defaults that fail validation are reported by field name; camelize those, but keep an
    unknown key exactly as the user wrote it.
    """
    path = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        last_unknown = as_written and i == len(loc) - 1
        shown = part if last_unknown else to_camel(part)
        path += f".{shown}" if path else shown
    return f"{PROJECT}:{path}"


def _expected(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    got = err.get("input")
    if kind == "extra_forbidden":
        moved = MOVED_KEYS.get(tuple(str(part) for part in err["loc"]))
        return moved or "unknown key (see docs/config-reference.md for the allowed keys)"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return str(err["ctx"]["error"])
    if kind == "is_instance_of" and "SecureValue" in err["msg"]:
        return "a secret value: set it with `pulumi config set --secret` (got a plain value)"
    shown = "a secret" if isinstance(got, SecureValue) else repr(got)
    return f"{err['msg'].lower()} (got {shown})"


def parse_config(raw: Mapping[str, Any], source: str) -> PlatformConfig:
    """Validate raw config values (keys without the project prefix) into a PlatformConfig.

    Raises:
        ConfigError: listing every invalid key with what is expected.
    """
    env = raw.get("environment")
    try:
        return PlatformConfig.model_validate(dict(raw), context={"environment": env})
    except ValidationError as exc:
        problems = [
            (_key(e["loc"], as_written=e["type"] == "extra_forbidden"), _expected(e))
            for e in exc.errors()
        ]
        raise ConfigError(source, problems) from None


def _mark_secrets(raw: dict[str, Any], wrap: Any) -> list[tuple[str, str]]:
    """Replace each SECRET_PATHS value via wrap(path, value); return plain-value problems."""
    problems: list[tuple[str, str]] = []
    for path in SECRET_PATHS:
        node: Any = raw
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and path[-1] in node:
            wrapped = wrap(path, node[path[-1]])
            if wrapped is None:
                problems.append(
                    (
                        _key(path),
                        "a secret value: set it with `pulumi config set --secret --path "
                        f"{'.'.join(path)} ...` (got a plain value)",
                    )
                )
            else:
                node[path[-1]] = wrapped
    return problems


def raw_from_stack_yaml(document: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Extract this project's config from a parsed Pulumi.<stack>.yaml document."""
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError(source, [("config", "a mapping of `project:key: value` entries")])
    raw = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{PROJECT}:")}

    def wrap(path: tuple[str, ...], value: Any) -> SecureValue | None:
        if isinstance(value, dict) and set(value) == {"secure"}:
            return SecureValue(f"<secret:{'.'.join(path)}>")
        return None

    problems = _mark_secrets(raw, wrap)
    if problems:
        raise ConfigError(source, problems)
    return raw


def load_stack_file(path: Path) -> PlatformConfig:
    """Load and validate a stack file offline (render, tests); secrets become placeholders."""
    source = str(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(source, [("file", f"a readable YAML stack file ({exc})")]) from None
    return parse_config(raw_from_stack_yaml(document, source), source)


def load_config() -> PlatformConfig:
    """Load and validate the current stack's config inside the Pulumi engine."""
    prefix = f"{PROJECT}:"
    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw: dict[str, Any] = {}
    for full_key, text in values.items():
        if not full_key.startswith(prefix):
            continue
        try:
            raw[full_key[len(prefix) :]] = json.loads(text)
        except (TypeError, json.JSONDecodeError):
            raw[full_key[len(prefix) :]] = text

    def wrap(path: tuple[str, ...], value: Any) -> SecureValue | None:
        secret = runtime_config.is_config_secret(prefix + path[0])
        return SecureValue(str(value)) if secret and value is not None else None

    source = f"stack {pulumi.get_stack()!r}"
    problems = _mark_secrets(raw, wrap)
    if problems:
        raise ConfigError(source, problems)
    cfg = parse_config(raw, source)
    for warning in config_warnings(cfg):
        pulumi.log.warn(warning)
    return cfg
