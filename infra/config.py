"""The platform's typed stack configuration and its one loading path.

Stack files hold keys `mlops-platform:<key>` (camelCase). `parse_config` validates them into a
frozen `PlatformConfig`; `load_config` (inside `pulumi up`) and `load_stack_file` (render, tests)
both go through it, so a broken config is rejected the same way everywhere, before any resource
exists, with one `ConfigError` that lists every problem by its YAML key path.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

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
# A DNS name an Ingress can route (RFC 1123 subdomain, no wildcard: each host gets its own TLS
# certificate from the cluster issuer).
_HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$"
)
# Stages whose prebuilt image references must carry a digest: what ran in stage is what prod
# runs, byte for byte (a tag can be re-pushed between the two).
DIGEST_ENVIRONMENTS = ("stage", "prod")
# Any IPv4 address: accepted for the control plane only outside prod (its address is unknown on
# a laptop cluster).
ANY_ADDRESS = "0.0.0.0/0"
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


def _check_cidr(v: str) -> str:
    try:
        network = ipaddress.ip_network(v, strict=True)
    except ValueError:
        raise ValueError(
            f"a CIDR block like '10.0.0.0/24' or '192.0.2.10/32' (host bits zero) (got {v!r})"
        ) from None
    return str(network)


def _check_host(v: str) -> str:
    if not _HOST.match(v):
        raise ValueError(f"a lowercase DNS name like 'mlflow.example.com' (got {v!r})")
    return v


@dataclass(frozen=True)
class TypeLabel:
    """How the config reference names a value's type (docs/config-reference.md, generated)."""

    text: str


Cpu = Annotated[str, AfterValidator(_check_cpu), TypeLabel("CPU quantity")]
Memory = Annotated[str, AfterValidator(_check_memory), TypeLabel("quantity")]
Image = Annotated[str, AfterValidator(_check_image), TypeLabel("pinned image ref")]
DnsLabel = Annotated[str, AfterValidator(_check_dns_label), TypeLabel("DNS label")]
Cron = Annotated[str, AfterValidator(_check_cron), TypeLabel("5-field cron")]
Duration = Annotated[str, AfterValidator(_check_duration), TypeLabel("duration (`15d`, `12h`)")]
Hold = Annotated[str, AfterValidator(_check_hold), TypeLabel("duration in `s`, `m` or `h`")]
Cidr = Annotated[str, AfterValidator(_check_cidr), TypeLabel("CIDR block")]
Host = Annotated[str, AfterValidator(_check_host), TypeLabel("DNS name")]
Replicas = Annotated[int, Field(ge=1)]


def _environment(info: ValidationInfo) -> str | None:
    ctx = info.context or {}
    env = ctx.get("environment")
    return env if isinstance(env, str) else None


class _Model(BaseModel):
    # Set on models that are value types (Resources): the config reference shows this name as
    # the type of keys that hold one and lists its keys once, instead of under every such key.
    reference_type: ClassVar[str | None] = None

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

    reference_type = "Quantities"

    cpu: Cpu = Field(description='CPU, like `250m` or `"1"` (quote bare numbers in YAML).')
    memory: Memory = Field(description="Memory, like `512Mi` or `2Gi`.")


class Resources(_Model):
    """Container requests and limits (both required: the quota admits nothing without them)."""

    reference_type = "Resources"

    requests: Quantities = Field(
        description="What the scheduler reserves; the namespace quota counts these."
    )
    limits: Quantities = Field(
        description="The most the container may use; required, since the quota admits no pod "
        "without limits."
    )


class Namespaces(_Model):
    """Names of the namespaces the platform creates."""

    platform: DnsLabel = Field(
        "mlops-platform",
        description="MLflow, the Postgres cluster, the object store and the bucket Job.",
    )
    training: DnsLabel = Field("mlops-training", description="The retrain CronJob.")
    serving: DnsLabel = Field("mlops-serving", description="The model server.")
    monitoring: DnsLabel = Field(
        "mlops-monitoring",
        description="kube-prometheus-stack (Prometheus, Alertmanager, Grafana), the "
        "Pushgateway, dashboards, rules and monitors.",
    )


class Quota(_Model):
    """ResourceQuota per app namespace."""

    requests_cpu: Cpu = Field(
        "4", description="CPU requests allowed in each app namespace (ResourceQuota)."
    )
    requests_memory: Memory = Field(
        "8Gi", description="Memory requests allowed in each app namespace (ResourceQuota)."
    )
    limits_cpu: Cpu = Field(
        "8", description="CPU limits allowed in each app namespace (ResourceQuota)."
    )
    limits_memory: Memory = Field(
        "16Gi", description="Memory limits allowed in each app namespace (ResourceQuota)."
    )


# A remote key prefix: letters, digits and `/_.-` (what AWS, GCP and Vault/OpenBao key names take;
# Azure Key Vault takes letters, digits and `-` only, so keep to those there).
_KEY_PREFIX = re.compile(r"^[A-Za-z0-9/_.-]*$")


def _check_key_prefix(v: str) -> str:
    if not _KEY_PREFIX.match(v) or v.startswith("/"):
        raise ValueError(f"letters, digits and '/_.-', not starting with '/' (got {v!r})")
    return v


KeyPrefix = Annotated[str, AfterValidator(_check_key_prefix)]


class OpenbaoConfig(_Model):
    """The in-cluster OpenBao and External Secrets Operator of `secrets.provider: openbao`."""

    namespace: DnsLabel = Field(
        default="openbao",
        description=(
            "Namespace of the OpenBao Helm release (one standalone server, file storage on a "
            "volume); created by the platform with restricted Pod Security."
        ),
    )
    operator_namespace: DnsLabel = Field(
        default="external-secrets",
        description=(
            "Namespace of the External Secrets Operator release that syncs OpenBao into "
            "Kubernetes Secrets; created by the platform with restricted Pod Security."
        ),
    )
    storage_size: Memory = Field(
        default="1Gi",
        description="Size of OpenBao's data volume (its encrypted KV store): ample for secrets.",
    )
    storage_class: DnsLabel | None = Field(
        default=None,
        description="StorageClass of OpenBao's data volume; unset uses the cluster's default.",
    )
    kv_mount: DnsLabel = Field(
        default="secret",
        description=(
            "Mount path of the KV version 2 engine that holds the platform's values (enable it "
            "at init: docs/operations.md); `secret` is OpenBao's conventional path."
        ),
    )
    path_prefix: KeyPrefix = Field(
        default="mlops-platform",
        description=(
            "Folder inside the KV mount for this stack's values; the OpenBao policy grants the "
            "operator this folder only, so stacks sharing one OpenBao stay apart."
        ),
    )
    auth_mount: DnsLabel = Field(
        default="kubernetes",
        description=(
            "Mount path of OpenBao's Kubernetes auth method the operator logs in with (its "
            "ServiceAccount token; no static OpenBao token is stored anywhere)."
        ),
    )
    role: DnsLabel = Field(
        default="external-secrets",
        description=(
            "Kubernetes auth role bound to the operator's ServiceAccount and to a policy on "
            "`<kvMount>/data/<pathPrefix>/*` only (created at init: docs/operations.md)."
        ),
    )


class ExternalStoreConfig(_Model):
    """An existing ClusterSecretStore (a cloud secret manager) for `secrets.provider: external`."""

    store_name: DnsLabel = Field(
        description=(
            "Name of the ClusterSecretStore (external-secrets.io/v1) that already exists in the "
            "cluster and reads the cloud secret manager; the platform never creates or edits it."
        ),
    )
    key_prefix: KeyPrefix = Field(
        default="mlops-platform-",
        description=(
            "Prepended to every remote key the platform reads (`<keyPrefix><value-name>`); the "
            "default uses only characters every cloud secret manager accepts."
        ),
    )


class SecretsConfig(_Model):
    """Where credentials live: Kubernetes Secrets, OpenBao, or an existing cloud secret store.

    Every provider ends in the same Kubernetes Secrets (names, keys, namespaces, reader RBAC), so
    switching it leaves every workload unchanged (docs/forking.md).
    """

    provider: Literal["kubernetes", "openbao", "external"] = Field(
        default="kubernetes",
        description=(
            "`kubernetes`: generated values written straight into Kubernetes Secrets (no extra "
            "component; the default). `openbao`: an in-cluster OpenBao plus the External Secrets "
            "Operator. `external`: an existing ClusterSecretStore (`secrets.external`)."
        ),
    )
    refresh_interval: Hold = Field(
        default="1h",
        description=(
            "How often the External Secrets Operator re-reads each value from the store "
            "(`openbao`, `external`): the longest a rotated value takes to reach its Secret."
        ),
    )
    openbao: OpenbaoConfig | None = Field(
        default=None,
        description=(
            "OpenBao and operator settings; only with provider `openbao` (the defaults apply "
            "when it is left out)."
        ),
    )
    external: ExternalStoreConfig | None = Field(
        default=None,
        description="The existing ClusterSecretStore; required with provider `external` only.",
    )

    @field_validator("openbao", mode="after")
    @classmethod
    def _openbao_only(cls, v: OpenbaoConfig | None, info: ValidationInfo) -> OpenbaoConfig | None:
        provider = info.data.get("provider")
        if provider == "openbao":
            return v or OpenbaoConfig()
        if v is not None:
            raise ValueError(f"only used when secrets.provider is 'openbao' (it is {provider!r})")
        return v

    @field_validator("external", mode="after")
    @classmethod
    def _external_needs_store(
        cls, v: ExternalStoreConfig | None, info: ValidationInfo
    ) -> ExternalStoreConfig | None:
        provider = info.data.get("provider")
        if provider == "external" and v is None:
            raise ValueError(
                "required when secrets.provider is 'external': name the existing "
                "ClusterSecretStore with secrets.external.storeName (docs/forking.md)"
            )
        if provider != "external" and v is not None:
            raise ValueError(f"only used when secrets.provider is 'external' (it is {provider!r})")
        return v


class BackupsConfig(_Model):
    """Base backups and WAL archiving of the registry database to the object store.

    Through the Barman Cloud plugin (the backup mechanism CloudNativePG supports), which needs
    cert-manager in the cluster: the top-level `certManager` says who provides it.
    """

    schedule: Annotated[
        str, AfterValidator(_check_backup_schedule), TypeLabel("6-field cron, seconds first")
    ] = Field(
        "0 0 2 * * *",
        description="When the `ScheduledBackup` takes a base backup (CloudNativePG's format has "
        "a seconds field); the first one is taken at once, and WAL is archived continuously in "
        "between (point-in-time restore).",
    )
    retention: Annotated[
        str, AfterValidator(_check_retention), TypeLabel("`<n>d`, `<n>w` or `<n>m`")
    ] = Field(
        "30d",
        description="The `ObjectStore`'s `retentionPolicy` (Barman's recovery window): older "
        "base backups and the WAL only they need are deleted.",
    )
    bucket: DnsLabel = Field(
        "postgres-backups",
        description="Bucket of the backups, created by the bucket Job with the others.",
    )


class CertManagerConfig(_Model):
    """cert-manager, which the Barman Cloud plugin of `postgres.backups` needs for its mTLS."""

    install: bool = Field(
        default=True,
        description=(
            "true: the program installs cert-manager from its pinned chart (CRDs included) into "
            "`certManager.namespace`, before the backup plugin; false: the cluster already runs "
            "a cert-manager (a cluster has one, often owned by its operators) and the program "
            "only relies on it. Installing is the default because a missing cert-manager leaves "
            "the plugin, and so every backup, without certificates."
        ),
    )
    namespace: DnsLabel = Field(
        default="cert-manager",
        description=(
            "Namespace the program installs cert-manager into (only with `install: true`); "
            "`cert-manager` is the chart's documented default, so tools such as `cmctl` find it."
        ),
    )

    @field_validator("namespace")
    @classmethod
    def _namespace_only_when_installed(cls, v: str, info: ValidationInfo) -> str:
        if not info.data.get("install", True) and v != "cert-manager":
            raise ValueError(
                "only used when certManager.install is true (the program installs it there); "
                "remove it, or set certManager.install: true"
            )
        return v


class PostgresConfig(_Model):
    """The CloudNativePG cluster that backs MLflow."""

    instances: Replicas = Field(
        1,
        description="CloudNativePG instances; more than 1 adds required anti-affinity and one "
        "synchronous replica. Prod needs at least 3.",
    )
    storage_size: Memory = Field("1Gi", description="Volume size per instance.")
    storage_class: DnsLabel | None = Field(
        None, description="StorageClass of the instances' volumes; unset: the cluster's default."
    )
    operator_namespace: DnsLabel = Field(
        "cnpg-system",
        description="Namespace of the CloudNativePG operator (a Helm release, chart pinned in "
        "`infra/versions.py`).",
    )
    cluster_name: Annotated[
        DnsLabel, AfterValidator(_check_cluster_name), TypeLabel("DNS label, <= 50 characters")
    ] = Field(
        "mlflow-db",
        description="Name of the `Cluster`; its Services are `<name>-rw`, its Secret "
        "`<name>-app` (CloudNativePG appends up to 13 characters).",
    )
    database: DnsLabel = Field("mlflow", description="Database created at bootstrap.")
    owner: DnsLabel = Field("mlflow", description="Owner of that database, created at bootstrap.")
    resources: Resources = Field(description="Per instance.")
    backups: BackupsConfig | None = Field(
        None,
        description="Base backups and continuous WAL archiving of the registry database to the "
        "object store through the Barman Cloud plugin (chart pinned in `infra/versions.py`, "
        "installed in `postgres.operatorNamespace`): an `ObjectStore`, `.spec.plugins` on the "
        "`Cluster`, a `ScheduledBackup`, the bucket and its network flows. Unset: no backups "
        "(dev). Restore: docs/operations.md.",
    )

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

    engine: Literal["minio", "seaweedfs", "external"] = Field(
        "seaweedfs",
        description="The S3 server: in-cluster SeaweedFS (the default, what the tests and the "
        "sandbox run), in-cluster MinIO (its last published image carries CVE-2025-62506 and "
        "upstream is unmaintained, so choosing it logs a warning), or an existing S3. Prod: an "
        "external, managed S3 is the recommended choice (durability and backups are the "
        "provider's); the prod stack file runs SeaweedFS only so that it renders without "
        "provider credentials.",
    )
    storage_size: Memory = Field("5Gi", description="Volume of the in-cluster server.")
    storage_class: DnsLabel | None = Field(
        None, description="StorageClass of that volume; unset: the cluster's default."
    )
    artifacts_bucket: DnsLabel = Field(
        "mlflow-artifacts",
        description="Bucket behind MLflow's proxied artifacts (`--artifacts-destination`).",
    )
    datasets_bucket: DnsLabel = Field(
        "datasets",
        description="Bucket of dataset snapshots (`DATASETS_BUCKET`); must differ from the "
        "other buckets.",
    )
    inference_log_bucket: DnsLabel = Field(
        inference_log.DEFAULT_BUCKET,
        description="Bucket of the inference log (docs/inference-log.md): every serving "
        "replica writes its predictions and labels there and the retrain CronJob reads them "
        "(`INFERENCE_LOG_BUCKET`); must differ from the other buckets.",
    )
    region: str = Field("us-east-1", description="`AWS_DEFAULT_REGION` of every S3 client.")
    endpoint: Annotated[str, TypeLabel("http(s) URL")] | None = Field(
        None,
        description="http(s) URL of the external S3; required for and only allowed with "
        "`engine: external`.",
    )
    access_key_id: str | None = Field(
        None,
        description="Access key of the external S3; required for and only allowed with "
        "`engine: external`.",
    )
    secret_access_key: SecureValue | None = Field(
        None,
        description="Secret key of the external S3, required for `engine: external`: `pulumi "
        "config set --secret --path objectStore.secretAccessKey ...`; a plain value is "
        "rejected.",
    )
    keys: ConsumerKeys | None = Field(
        default=None,
        description=(
            "With engine external only: one key pair per consumer (mlflow, training, serving, "
            "postgresBackups), each allowed only its buckets; accessKeyId/secretAccessKey are then "
            "the bucket Job's admin key. In-cluster engines generate every key themselves."
        ),
    )
    resources: Resources | None = Field(
        None, description="The in-cluster server's; required for `minio` and `seaweedfs`."
    )

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

    replicas: Replicas = Field(
        1,
        description="Tracking server pods (one worker each); a PodDisruptionBudget is added "
        "when more than 1.",
    )
    resources: Resources = Field(description="The server's, and its `db upgrade` initContainer's.")


class ImagesConfig(_Model):
    """App images: built and pushed by the program (`build`), or prebuilt pinned refs."""

    build: bool = Field(
        False,
        description="`true`: `pulumi up` builds `apps/training` and `apps/serving` (build arg "
        "`GIT_COMMIT` = `git rev-parse HEAD` of the checkout, `unknown` outside git: every "
        "training run and model version records it) and pushes them to `images.registry`; "
        "`false`: the pinned refs `images.training` and `images.serving` are used.",
    )
    registry: Annotated[str, TypeLabel("host[:port]")] | None = Field(
        None,
        description="Registry host[:port] the built images are pushed to "
        "(`<registry>/mlops/<app>:<tag>`); required with `build`.",
    )
    tag: Annotated[str, TypeLabel("image tag")] = Field(
        "0.1.0",
        description="Tag of the built images (never `latest`); pods run the pushed digest when "
        "the registry reports one.",
    )
    training: Image | None = Field(
        None,
        description="Prebuilt training image: a tag other than `latest`, or an `@sha256:` "
        "digest. Required unless `build`, not allowed with it.",
    )
    serving: Image | None = Field(
        None, description="Prebuilt serving image; the same rules as `images.training`."
    )
    platform: Annotated[str, TypeLabel("`os/arch`")] | None = Field(
        None,
        description="OS/architecture of the built images (`linux/amd64`, `linux/arm64`); "
        "unset: the docker host's. Set it only when the cluster's nodes differ from the machine "
        "that runs `pulumi up`; only with `build`.",
    )

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

    @field_validator("training", "serving", mode="after")
    @classmethod
    def _digest_in_stage_and_prod(cls, v: str | None, info: ValidationInfo) -> str | None:
        # A tag can be moved to other bytes after stage verified it; a digest cannot.
        env = _environment(info)
        if v is not None and env in DIGEST_ENVIRONMENTS and "@sha256:" not in v:
            raise ValueError(
                f"a digest reference in {env} (got the tag-only {v!r}); pin the pushed image "
                f"as {v.split('@')[0]}@sha256:<digest> (`docker buildx imagetools inspect "
                f"{v}` prints it)"
            )
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

    policy: list[str] = Field(
        default_factory=lambda: list(triggers.Triggers().policy),
        description="Which triggers may start a retrain, any one suffices: `drift`, `accuracy`, "
        "`always` (retrains every run). `RETRAIN_POLICY`, comma-joined.",
    )
    max_psi: float = Field(
        triggers.DEFAULT_MAX_PSI,
        description="Drift: the largest per-feature PSI above this (> 0). `RETRAIN_MAX_PSI`, "
        "and the threshold of the `FeatureDriftHigh` alert.",
    )
    max_accuracy_drop: float = Field(
        triggers.DEFAULT_MAX_ACCURACY_DROP,
        description="Accuracy drop: online accuracy more than this fraction (0 to below 1) "
        "under the champion's offline accuracy. `RETRAIN_MAX_ACCURACY_DROP`, and the "
        "`OnlineAccuracyDrop` alert.",
    )
    min_labelled: int = Field(
        triggers.DEFAULT_MIN_LABELLED,
        description="Labelled inference-log rows (>= 1) of the champion version in the retrain "
        "window needed before an accuracy drop counts. `RETRAIN_MIN_LABELLED`, and the "
        "`OnlineAccuracyDrop` alert.",
    )

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

    schedule: Cron = Field(
        "0 3 * * *",
        description="Retrain CronJob schedule (Kubernetes takes 5 fields). Each run is a check: "
        "without a trigger (`training.triggers.policy`) it exits without training; runs never "
        "overlap (`concurrencyPolicy: Forbid`).",
    )
    triggers: TriggersConfig = Field(
        TriggersConfig(),
        description="When a run retrains, and when the drift and accuracy alerts fire: one set "
        "of values, validated by `mlops_contract.triggers`, so the CronJob and the alerts agree.",
    )
    data_window_minutes: int = Field(
        DEFAULT_RETRAIN_WINDOW_MINUTES,
        description="`RETRAIN_WINDOW_MINUTES`: labelled inference-log rows from the last N "
        "minutes feed the online accuracy, the training set and the gate's holdout (1 to 10080: "
        "at most 7 days of hour partitions per run).",
    )
    min_training_rows: int = Field(
        DEFAULT_RETRAIN_MIN_ROWS,
        description="`RETRAIN_MIN_ROWS`: with fewer labelled rows in the window the run does "
        "not retrain and says why.",
    )
    resources: Resources = Field(description="The retrain job's.")

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

    replicas: Replicas = Field(
        1,
        description="Serving pods (the autoscaler's minimum); prod needs at least 3. A "
        "PodDisruptionBudget (`maxUnavailable: 1`) when more than 1.",
    )
    max_replicas: Replicas = Field(
        1,
        description="The autoscaler's maximum (CPU 70%), at least `serving.replicas`; no "
        "autoscaler when equal to it.",
    )
    poll_interval_seconds: Annotated[int, Field(ge=1, le=3600)] = Field(
        10,
        description="`MODEL_POLL_INTERVAL_SECONDS`: how often each replica asks the registry for "
        "the alias; a promotion reaches every replica within this.",
    )
    resources: Resources = Field(description="Per serving pod.")

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

    retention: Duration = Field(
        "2d", description="How long Prometheus keeps samples (`prometheusSpec.retention`)."
    )
    storage_size: Memory = Field(
        "10Gi",
        description="Prometheus's volume, one claim per replica, so history survives a restart; "
        "size it for `retention` worth of samples.",
    )
    alertmanager_storage_size: Memory = Field(
        "1Gi",
        description="Alertmanager's volume: silences and the notification log survive a restart.",
    )
    storage_class: DnsLabel | None = Field(
        None, description="StorageClass of both volumes; unset: the cluster's default."
    )
    scrape_interval: Hold = Field(
        "30s",
        description="How often Prometheus scrapes every target and evaluates the rules. 30s is "
        "the operator's default; a shorter one (dev) lets drift reach the alert and the retrain "
        "decision sooner.",
    )
    trigger_hold: Hold = Field(
        TRIGGER_HOLD,
        description="How long drift or an accuracy drop must last before `FeatureDriftHigh` / "
        "`OnlineAccuracyDrop` fire (their `for:`). The retrain decision reads the signals, not "
        "the alerts, so this changes when someone is told, not when the CronJob retrains.",
    )
    alert_receiver: SecureValue | None = Field(
        None,
        description="Alertmanager's webhook URL (Slack, PagerDuty Events, any HTTP receiver), a "
        "secret because webhook URLs carry their own credentials: `pulumi config set --secret "
        "--path monitoring.alertReceiver https://...`. Required in prod; unset: alerts reach a "
        "`null` receiver (the Prometheus and Alertmanager UIs only). It goes into the "
        "`alertmanager-config` Secret, never into the chart values; the committed stage and "
        "prod files hold a placeholder ciphertext to replace.",
    )

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


class NetworkConfig(_Model):
    """Where the platform's traffic may come from and go to, beyond its own namespaces."""

    control_plane_cidrs: list[Cidr] = Field(
        default_factory=lambda: [ANY_ADDRESS],
        min_length=1,
        description=(
            "The Kubernetes API server's addresses (the endpoints of the `kubernetes` Service, "
            "as CIDR blocks). Only the pods that call the API (operators, Prometheus service "
            "discovery, kube-state-metrics, Grafana's sidecars, the Postgres instance managers) "
            "may reach these on 443/6443. The default, any address, works on every cluster "
            "and is refused in prod: set the real range there."
        ),
    )
    gateway_namespace: DnsLabel | None = Field(
        default=None,
        description=(
            "The namespace of the API gateway (or any in-cluster client tier) allowed to call "
            "serving. Unset: only Prometheus (and the ingress controller, when `ingress` is "
            "enabled) reach serving, so nothing else can send `/predict` or `/feedback`."
        ),
    )

    @field_validator("control_plane_cidrs")
    @classmethod
    def _prod_names_the_control_plane(cls, v: list[str], info: ValidationInfo) -> list[str]:
        if _environment(info) == "prod" and ANY_ADDRESS in v:
            raise ValueError(
                f"{ANY_ADDRESS!r} opens every address on the API ports in prod; set the API "
                "server's addresses (`kubectl get endpointslices -n default -l "
                "kubernetes.io/service-name=kubernetes`), e.g. ['10.0.0.0/28'] "
                "(docs/operations.md, 'Network')"
            )
        return v


class IngressRoute(_Model):
    """One public host name for one platform Service, with its TLS certificate Secret."""

    host: Host = Field(
        description="The public DNS name the Ingress routes to this Service (its TLS SAN)."
    )
    tls_secret: DnsLabel = Field(
        description=(
            "The Secret cert-manager writes the host's certificate into (in the Service's "
            "namespace); named per host so renewing one never touches another."
        ),
    )


class IngressConfig(_Model):
    """Optional HTTPS Ingress for MLflow, Grafana and serving (certificates from cert-manager)."""

    enabled: bool = Field(
        default=False,
        description=(
            "Create the Ingress objects. Off by default: nothing is reachable from outside the "
            "cluster unless a stack asks for it (dev uses `kubectl port-forward`)."
        ),
    )
    class_name: DnsLabel | None = Field(
        default=None,
        description="The IngressClass that serves the routes (e.g. 'nginx'); required if enabled.",
    )
    cluster_issuer: DnsLabel | None = Field(
        default=None,
        description=(
            "The cert-manager ClusterIssuer that signs each host's certificate "
            "(`cert-manager.io/cluster-issuer`); required if enabled. Installing cert-manager "
            "and the issuer is a cluster prerequisite (docs/operations.md)."
        ),
    )
    controller_namespace: DnsLabel = Field(
        default="ingress-nginx",
        description=(
            "The ingress controller's namespace: the only namespace the NetworkPolicies admit "
            "to the exposed Services' ports (ingress-nginx's default namespace)."
        ),
    )
    mlflow: IngressRoute | None = Field(
        default=None,
        description="MLflow's public host and TLS Secret; unset: MLflow stays in-cluster.",
    )
    grafana: IngressRoute | None = Field(
        default=None,
        description="Grafana's public host and TLS Secret; unset: Grafana stays in-cluster.",
    )
    serving: IngressRoute | None = Field(
        default=None,
        description=(
            "Serving's public host and TLS Secret (only the model API paths are routed, never "
            "/metrics); unset: serving stays in-cluster."
        ),
    )

    @field_validator("class_name", "cluster_issuer", mode="after")
    @classmethod
    def _enabled_needs(cls, v: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("enabled") and v is None:
            key = to_camel(info.field_name or "")
            example = "nginx" if key == "className" else "letsencrypt"
            raise ValueError(
                f"required when ingress.enabled is true (e.g. ingress.{key}: {example})"
            )
        return v

    @field_validator("serving", mode="after")
    @classmethod
    def _enabled_routes_something(
        cls, v: IngressRoute | None, info: ValidationInfo
    ) -> IngressRoute | None:
        # Validated last: mlflow and grafana are in info.data by now.
        routes = [v, info.data.get("mlflow"), info.data.get("grafana")]
        if info.data.get("enabled") and all(r is None for r in routes):
            raise ValueError(
                "ingress.enabled is true but no Service has a route; set ingress.mlflow, "
                "ingress.grafana or ingress.serving ({host: ..., tlsSecret: ...})"
            )
        return v

    def routes(self) -> dict[str, IngressRoute]:
        """Return the configured routes by Service ('mlflow', 'grafana', 'serving'), if enabled."""
        if not self.enabled:
            return {}
        found = {"mlflow": self.mlflow, "grafana": self.grafana, "serving": self.serving}
        return {name: route for name, route in found.items() if route is not None}


class PlatformConfig(_Model):
    """Everything a stack can configure; see docs/config-reference.md."""

    environment: Literal["dev", "stage", "prod"] = Field(
        description="Selects the environment's rules: `prod` requires `postgres.instances >= 3`, "
        "`serving.replicas >= 3`, `protectData` and `monitoring.alertReceiver`."
    )
    kube_context: Annotated[str, Field(min_length=1)] = Field(
        description="kubeconfig context of the program's one explicit Kubernetes provider "
        "(never whatever `kubectl` points at)."
    )
    namespaces: Namespaces = Field(
        Namespaces(), description="Names of the namespaces the platform creates."
    )
    quota: Quota = Field(
        Quota(), description="ResourceQuota `platform-quota` in each app namespace."
    )
    secrets: SecretsConfig = Field(SecretsConfig(), description="Where credentials live.")
    postgres: PostgresConfig = Field(
        description="The CloudNativePG cluster that backs MLflow's registry."
    )
    cert_manager: CertManagerConfig | None = Field(
        default=None,
        description=(
            "Who provides cert-manager: unset means the cluster has none and the platform needs "
            "none (no `postgres.backups`); `{install: true}` installs it, `{install: false}` uses "
            "the one already there. Backups refuse to render without it, because the backup "
            "plugin cannot start without cert-manager's certificates."
        ),
    )
    object_store: ObjectStoreConfig = Field(
        description="The S3 endpoint for artifacts, datasets, the inference log and backups."
    )
    mlflow: MlflowConfig = Field(description="The MLflow tracking server and registry.")
    images: ImagesConfig = Field(
        description="App images: built and pushed by the program, or prebuilt pinned refs."
    )
    model_name: DnsLabel = Field(
        registry.DEFAULT_MODEL_NAME,
        description="`MODEL_NAME` of the registered model, for training and serving.",
    )
    model_alias: DnsLabel = Field(
        registry.CHAMPION_ALIAS,
        description="`MODEL_ALIAS` for both apps: the registry alias training promotes to and "
        "serving follows (one key, so they cannot differ). The former `serving.modelAlias` is "
        "rejected with a message pointing here.",
    )
    training: TrainingConfig = Field(description="The retrain CronJob.")
    serving: ServingConfig = Field(description="The model server.")
    protect_data: bool = Field(
        True,
        description="`protect` and `retainOnDelete` on every namespace, the CloudNativePG "
        "`Cluster` and the object store's volume: `pulumi destroy`, or a change that would "
        "replace them, fails instead of deleting the registry and the artifacts. Required in "
        "prod; off only for throwaway clusters (dev). Destroying a protected stack on purpose: "
        "docs/operations.md.",
    )
    # A mapping (not an instance) so the default is validated too, with the environment:
    # prod without a `monitoring` section must still fail on monitoring.alertReceiver.
    monitoring: MonitoringConfig = Field(  # type: ignore[assignment]
        default_factory=dict,
        description="Prometheus retention and storage, the trigger alerts' hold time and where "
        "Alertmanager sends alerts.",
    )
    # A mapping for the same reason: prod without a `network` section must fail on the CIDR.
    network: NetworkConfig = Field(  # type: ignore[assignment]
        default_factory=dict,
        description=(
            "The control-plane addresses and the gateway namespace the NetworkPolicies admit; "
            "defaults open the API ports to any address outside prod and serving to no gateway."
        ),
    )
    ingress: IngressConfig = Field(
        default_factory=IngressConfig,
        description=(
            "Optional HTTPS Ingress for MLflow, Grafana and serving; off unless enabled, so "
            "nothing is published outside the cluster by default."
        ),
    )

    @field_validator("cert_manager")
    @classmethod
    def _backups_need_cert_manager(
        cls, v: CertManagerConfig | None, info: ValidationInfo
    ) -> CertManagerConfig | None:
        postgres = info.data.get("postgres")
        if v is None and postgres is not None and postgres.backups is not None:
            raise ValueError(
                "required when postgres.backups is set: the Barman Cloud plugin gets its "
                "certificates from cert-manager; set `certManager: {install: true}` to install "
                "it, or `certManager: {install: false}` if the cluster already runs it "
                "(docs/operations.md), or remove postgres.backups"
            )
        return v

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
    if cfg.secrets.provider == "external":
        configured = [
            key
            for key, value in (
                ("objectStore.accessKeyId", cfg.object_store.access_key_id),
                ("objectStore.secretAccessKey", cfg.object_store.secret_access_key),
                ("monitoring.alertReceiver", cfg.monitoring.alert_receiver),
            )
            if value is not None
        ]
        if configured:
            warnings.append(
                f"secrets.provider is 'external': every value is read from the external store, so "
                f"{', '.join(configured)} never reach the cluster from config; store the same "
                "values under the remote keys `python -m infra.secret_keys` lists "
                "(docs/operations.md, 'Rotate a credential')."
            )
    return warnings


# Keys that moved, by YAML path: the error names where they are set now.
MOVED_KEYS: dict[tuple[str, ...], str] = {
    ("serving", "modelAlias"): (
        "moved to the top-level `modelAlias` (one alias for serving and training); "
        "set `mlops-platform:modelAlias` instead"
    ),
    ("postgres", "backups", "certManagerInstalled"): (
        "replaced by the top-level `certManager`: `mlops-platform:certManager: {install: false}` "
        "says the cluster already runs cert-manager, `{install: true}` installs it"
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
