"""Postgres: the CloudNativePG operator (pinned chart) and one `Cluster` for MLflow's backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
from mlops_contract import kube, metrics

from infra import k8s, versions
from infra.components.kube import pinned_release
from infra.components.monitoring_targets import ScrapeTarget
from infra.components.secrets import PASSWORD_LENGTH, SecretSpec, SecretStoreArgs
from infra.config import BackupsConfig, PostgresConfig

PORT = 5432
# Ports of the CloudNativePG chart and instance manager (not rendered here, so stated once):
# the instance manager's status API (replicas and the operator call it), the Postgres exporter,
# and the operator's admission webhook that the API server calls.
STATUS_PORT = 8000
METRICS_PORT = 9187
OPERATOR_WEBHOOK_PORT = 9443
# The Barman Cloud plugin (backups): its CNPG-I name, the gRPC port its chart's Deployment
# listens on (the operator calls it; fixed in the chart) and the pod labels its chart sets.
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
BARMAN_PORT = 9090
BARMAN_RELEASE = "barman-cloud"
BARMAN_PODS = {kube.LABEL_NAME: "plugin-barman-cloud"}
# The operator's pod labels (its chart's selector labels, no nameOverride): it reconciles every
# Cluster through the API server, as the plugin does its ObjectStores.
OPERATOR_PODS = {kube.LABEL_NAME: "cloudnative-pg"}
# Name of the generated database owner password (`${...}` in the app Secret's templates).
APP_PASSWORD = "postgres_app"  # noqa: S105  # a name, not a value


@dataclass(frozen=True, kw_only=True)
class BackupStore:
    """Where the base backups and the WAL archive go: an S3 bucket and the keys to write it.

    Attributes:
        endpoint: the S3 endpoint URL.
        bucket: the backups bucket (config `postgres.backups.bucket`).
        credentials_secret: the Secret (in the Cluster's namespace) holding the keys.
        access_key: the Secret key of the access key id.
        secret_key: the Secret key of the secret access key.
    """

    endpoint: str
    bucket: str
    credentials_secret: str
    access_key: str
    secret_key: str


@dataclass(frozen=True, kw_only=True)
class PostgresArgs:
    """Where and how big.

    Attributes:
        namespace: namespace of the Cluster (the platform namespace).
        config: the stack's postgres settings (instances, storage, resources, names, backups).
        depends_on: resources the Cluster needs first (namespaces, the app Secret).
        backup_store: where backups go; required when config.backups is set.
        backup_depends_on: what the backups need first (the bucket Job).
        plugin_depends_on: what the backup plugin needs first (cert-manager, when the program
            installs it: the plugin's chart asks it for certificates).
        protect: protect the Cluster and retain it on delete (deleting it deletes its volumes).
        extra_databases: more databases in the cluster, owned by the same owner (MLflow's
            auth database), as CloudNativePG `Database` objects.
    """

    namespace: str
    config: PostgresConfig
    depends_on: tuple[pulumi.Resource, ...] = ()
    backup_store: BackupStore | None = None
    backup_depends_on: tuple[pulumi.Resource, ...] = ()
    plugin_depends_on: tuple[pulumi.Resource, ...] = ()
    protect: bool = False
    extra_databases: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PostgresEndpoints:
    """Who listens where: the flows to and between the database pods and the operator.

    Attributes:
        clients: the instance pods' Postgres port (MLflow connects here).
        peers: Postgres and the status API (instances among themselves, the operator).
        metrics: the instances' exporter port (Prometheus).
        operator: the operator namespace and its admission webhook port (the API server).
        backup_plugin: the Barman Cloud plugin's pods and gRPC port (the operator calls it);
            None without backups.
        api_clients: the pods that call the Kubernetes API, by name: the instance managers
            (each watches its Cluster), the operator and the plugin (ports unused).
    """

    clients: k8s.Endpoint
    peers: k8s.Endpoint
    metrics: k8s.Endpoint
    operator: k8s.Endpoint
    backup_plugin: k8s.Endpoint | None = None
    api_clients: dict[str, k8s.Endpoint] = field(default_factory=dict)


def pods(cluster: str) -> dict[str, str]:
    """Return the selector of every instance pod of a cluster (CloudNativePG sets the label)."""
    return {kube.CNPG_CLUSTER_LABEL: cluster}


def endpoints(cfg: PostgresConfig, namespace: str) -> PostgresEndpoints:
    """Return the cluster's and the operator's endpoints for cfg in namespace."""
    instances = pods(cfg.cluster_name)
    return PostgresEndpoints(
        clients=k8s.Endpoint(namespace=namespace, pods=instances, ports=(PORT,)),
        peers=k8s.Endpoint(namespace=namespace, pods=instances, ports=(PORT, STATUS_PORT)),
        metrics=k8s.Endpoint(namespace=namespace, pods=instances, ports=(METRICS_PORT,)),
        operator=k8s.Endpoint(
            namespace=cfg.operator_namespace, pods=None, ports=(OPERATOR_WEBHOOK_PORT,)
        ),
        backup_plugin=None
        if cfg.backups is None
        else k8s.Endpoint(namespace=cfg.operator_namespace, pods=BARMAN_PODS, ports=(BARMAN_PORT,)),
        api_clients=api_clients(cfg, namespace),
    )


def api_clients(cfg: PostgresConfig, namespace: str) -> dict[str, k8s.Endpoint]:
    """Return the pods that call the API server: instances, operator, plugin (with backups).

    The instance label is also on the initdb and join Jobs' pods, whose instance manager calls
    the API too.
    """
    found = {
        "postgres-instances": k8s.Endpoint(
            namespace=namespace, pods=pods(cfg.cluster_name), ports=()
        ),
        "cnpg-operator": k8s.Endpoint(
            namespace=cfg.operator_namespace, pods=dict(OPERATOR_PODS), ports=()
        ),
    }
    if cfg.backups is not None:
        found["barman-cloud-plugin"] = k8s.Endpoint(
            namespace=cfg.operator_namespace, pods=dict(BARMAN_PODS), ports=()
        )
    return found


def cluster_service_account(cluster: str) -> str:
    """Return the ServiceAccount CloudNativePG gives the instance pods (named after the Cluster).

    The backup sidecar in those pods reads the object store's credentials as this account.
    """
    return cluster


def scrape_target(cluster: str, namespace: str) -> ScrapeTarget:
    """Return the contract job `postgres`: a PodMonitor on the instances' `metrics` port.

    The instance pods have no Service for their exporter, hence a PodMonitor.
    """
    return ScrapeTarget(
        job=metrics.JOB_POSTGRES,
        namespace=namespace,
        selector={**pods(cluster), kube.CNPG_POD_ROLE_LABEL: "instance"},
        port="metrics",
        pods=True,
    )


def secret_args(cfg: PostgresConfig, namespace: str, readers: tuple[str, ...]) -> SecretStoreArgs:
    """Return the app Secret (owner credentials and MLflow's URI) and its generated password.

    Args:
        cfg: the stack's postgres settings.
        namespace: the cluster's namespace (its clients read the Secret there).
        readers: the ServiceAccounts of the clients that connect (MLflow).
    """
    return SecretStoreArgs(
        passwords={APP_PASSWORD: PASSWORD_LENGTH},
        secrets=(
            SecretSpec(
                name=app_secret_name(cfg.cluster_name),
                namespace=namespace,
                type="kubernetes.io/basic-auth",
                data={
                    "username": cfg.owner,
                    "password": f"${{{APP_PASSWORD}}}",
                    "uri": backend_uri_template(cfg, namespace, APP_PASSWORD),
                },
                readers=readers,
            ),
        ),
    )


def app_secret_name(cluster: str) -> str:
    """Return the name of the app-credentials Secret MLflow reads (`<cluster>-app`).

    CloudNativePG would generate this Secret (with a `uri` key) itself; the platform creates it
    instead and hands it to `bootstrap.initdb.secret`, so that the password is a RandomPassword
    the SecretStore owns, the `uri` names the psycopg2 driver explicitly, and the Secret that
    MLflow references exists in the rendered program (checked offline).
    """
    return k8s.name(cluster, "app")


def rw_host(cluster: str, namespace: str) -> str:
    """Return the in-cluster DNS name of the read-write (primary) Service."""
    return k8s.service_host(f"{cluster}-rw", namespace)


def backend_uri_template(
    cfg: PostgresConfig, namespace: str, password_var: str, *, database: str | None = None
) -> str:
    """Return the SQLAlchemy URI template for MLflow (`${password_var}` filled by SecretStore).

    `postgresql+psycopg2://` on purpose: SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3,
    which the mlflow -full image does not ship; psycopg2 is what it has. `database`: another
    database of the cluster with the same owner (default: the tracking database).
    """
    host = rw_host(cfg.cluster_name, namespace)
    name = database or cfg.database
    return f"postgresql+psycopg2://{cfg.owner}:${{{password_var}}}@{host}:{PORT}/{name}"


def database_spec(cfg: PostgresConfig, database: str) -> dict[str, Any]:
    """Return a CloudNativePG `Database` spec: one more database of the cluster, same owner."""
    return {
        "cluster": {"name": cfg.cluster_name},
        "name": database,
        "owner": cfg.owner,
        "ensure": "present",
        # Deleting the Database object never drops the data (CloudNativePG's default, stated).
        "databaseReclaimPolicy": "retain",
    }


# The operator is one small controller whatever the cluster size.
OPERATOR_RESOURCES = {
    "requests": {"cpu": "50m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}


def operator_values() -> dict[str, Any]:
    """Return the CloudNativePG chart values (CRDs installed by the chart, sized operator)."""
    return {
        "crds": {"create": True},
        "replicaCount": 1,
        "resources": OPERATOR_RESOURCES,
        # The chart's defaults already run the operator as non-root with a read-only root.
        "monitoring": {"podMonitorEnabled": False},
    }


def barman_values() -> dict[str, Any]:
    """Return the plugin-barman-cloud chart values (its CRD from the chart, sized, pinned tag).

    The image tags default to the chart's appVersion, so the chart pin pins them. The chart's
    security contexts already fit `restricted`; its certificates come from cert-manager.
    """
    return {
        "crds": {"create": True},
        "resources": OPERATOR_RESOURCES,
    }


def object_store_name(cluster: str) -> str:
    """Return the name of the Barman `ObjectStore` of a cluster's backups."""
    return k8s.name(cluster, "backups")


def object_store_spec(backups: BackupsConfig, store: BackupStore) -> dict[str, Any]:
    """Return the barmancloud.cnpg.io/v1 `ObjectStore` spec: where and how long backups live."""
    return {
        "configuration": {
            "destinationPath": f"s3://{store.bucket}/",
            "endpointURL": store.endpoint,
            "s3Credentials": {
                "accessKeyId": {"name": store.credentials_secret, "key": store.access_key},
                "secretAccessKey": {"name": store.credentials_secret, "key": store.secret_key},
            },
            "wal": {"compression": "gzip"},
            "data": {"compression": "gzip"},
        },
        # Barman deletes base backups (and the WAL only they need) older than the window.
        "retentionPolicy": backups.retention,
    }


def scheduled_backup_spec(backups: BackupsConfig, cluster: str) -> dict[str, Any]:
    """Return the `ScheduledBackup` spec: a base backup through the plugin on schedule."""
    return {
        "schedule": backups.schedule,
        "cluster": {"name": cluster},
        "method": "plugin",
        "pluginConfiguration": {"name": BARMAN_PLUGIN},
        # A first base backup at once: point-in-time recovery needs one before any WAL helps.
        "immediate": True,
        # Backups belong to the ScheduledBackup, not to the Cluster: recreating the Cluster
        # (a restore) keeps the Backup objects that describe what is in the bucket.
        "backupOwnerReference": "self",
    }


def cluster_spec(cfg: PostgresConfig, app_secret: str) -> dict[str, Any]:
    """Return the CloudNativePG `Cluster` spec."""
    storage: dict[str, Any] = {"size": cfg.storage_size}
    if cfg.storage_class:
        storage["storageClass"] = cfg.storage_class
    spec: dict[str, Any] = {
        "instances": cfg.instances,
        "imageName": versions.POSTGRES_IMAGE,
        "enableSuperuserAccess": False,  # MLflow needs only the owner; no superuser secret.
        "primaryUpdateStrategy": "unsupervised",
        "storage": storage,
        "resources": cfg.resources.model_dump(),
        "bootstrap": {
            "initdb": {
                "database": cfg.database,
                "owner": cfg.owner,
                "secret": {"name": app_secret},
            }
        },
    }
    if cfg.backups is not None:
        # WAL archiving and base backups through the Barman Cloud plugin (CNPG-I): the
        # supported mechanism since 1.26; the in-tree `backup.barmanObjectStore` is deprecated.
        spec["plugins"] = [
            {
                "name": BARMAN_PLUGIN,
                "isWALArchiver": True,
                "parameters": {"barmanObjectName": object_store_name(cfg.cluster_name)},
            }
        ]
    if cfg.instances > 1:
        # Spread instances over nodes so one node loss never takes the primary and its replica;
        # one synchronous replica means a failover loses no committed MLflow write
        # (`postgresql.synchronous`, which replaces the deprecated min/maxSyncReplicas;
        # dataDurability `required`: a commit waits for the standby, as min=max=1 did).
        spec["affinity"] = {
            "podAntiAffinityType": "required",
            "topologyKey": "kubernetes.io/hostname",
        }
        spec["postgresql"] = {
            "synchronous": {"method": "any", "number": 1, "dataDurability": "required"},
        }
    return spec


class Postgres(pulumi.ComponentResource):
    """The CloudNativePG operator chart and a PostgreSQL `Cluster` that depends on it.

    Published facts: host, port, app_secret (the basic-auth Secret from `secret_args`, whose
    username/password CloudNativePG gives the owner and whose `uri` MLflow reads),
    cluster_name, endpoints, scrape_target.
    """

    host: str
    port: int
    app_secret: str
    cluster_name: str
    endpoints: PostgresEndpoints
    scrape_target: ScrapeTarget
    operator: kubernetes.helm.v3.Release
    cluster: kubernetes.apiextensions.CustomResource
    databases: list[kubernetes.apiextensions.CustomResource]
    backup_plugin: kubernetes.helm.v3.Release | None

    def __init__(
        self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Install the operator, then create the Cluster (its CRD comes from the chart)."""
        cfg = args.config
        k8s.name(cfg.cluster_name, "rw")  # the longest derived Service name must be valid
        super().__init__("mlops:index:Postgres", name, None, opts)
        self.host = rw_host(cfg.cluster_name, args.namespace)
        self.port = PORT
        self.app_secret = app_secret_name(cfg.cluster_name)
        self.cluster_name = cfg.cluster_name
        self.endpoints = endpoints(cfg, args.namespace)
        self.scrape_target = scrape_target(cfg.cluster_name, args.namespace)
        chart = versions.CNPG_CHART
        # helm.v3.Release (not v4.Chart): it waits for the operator and its CRDs before the
        # Cluster is sent, and it upgrades CRDs with the chart.
        self.operator = pinned_release(
            f"{name}-operator",
            chart,
            release="cnpg",
            namespace=cfg.operator_namespace,
            values=operator_values(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        cluster_deps: list[pulumi.Resource] = [self.operator, *args.depends_on]
        self.backup_plugin = None
        if cfg.backups is not None:
            cluster_deps += self._backup_store(name, args)
        self.cluster = kubernetes.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version="postgresql.cnpg.io/v1",
            kind="Cluster",
            metadata={
                "name": cfg.cluster_name,
                "namespace": args.namespace,
                "labels": k8s.labels("postgres", "database"),
            },
            spec=cluster_spec(cfg, self.app_secret),
            # Deleting the Cluster deletes its volumes (CloudNativePG owns them): protected and
            # left in place on delete when the stack protects its data.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=cluster_deps,
                protect=args.protect,
                retain_on_delete=args.protect,
            ),
        )
        self.databases = [
            kubernetes.apiextensions.CustomResource(
                f"{name}-database-{database.replace('_', '-')}",
                api_version="postgresql.cnpg.io/v1",
                kind="Database",
                metadata={
                    "name": k8s.name(cfg.cluster_name, database.replace("_", "-")),
                    "namespace": args.namespace,
                    "labels": k8s.labels("postgres", "database"),
                },
                spec=database_spec(cfg, database),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster]),
            )
            for database in args.extra_databases
        ]
        if cfg.backups is not None:
            kubernetes.apiextensions.CustomResource(
                f"{name}-scheduled-backup",
                api_version="postgresql.cnpg.io/v1",
                kind="ScheduledBackup",
                metadata={
                    "name": k8s.name(cfg.cluster_name, "scheduled"),
                    "namespace": args.namespace,
                    "labels": k8s.labels("postgres", "backup"),
                },
                spec=scheduled_backup_spec(cfg.backups, cfg.cluster_name),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.cluster]),
            )
        self.register_outputs({"host": self.host, "port": self.port, "appSecret": self.app_secret})

    def _backup_store(self, name: str, args: PostgresArgs) -> list[pulumi.Resource]:
        """Install the Barman Cloud plugin and the `ObjectStore`; return what the Cluster needs."""
        cfg = args.config
        if args.backup_store is None or cfg.backups is None:
            raise ValueError("PostgresArgs.backup_store: required when postgres.backups is set")
        chart = versions.BARMAN_CLOUD_CHART
        # In the operator's namespace, as the plugin requires; after the operator (its CRDs) and
        # cert-manager (its certificates).
        plugin_deps = [self.operator, *args.depends_on, *args.plugin_depends_on]
        self.backup_plugin = pinned_release(
            f"{name}-barman-cloud",
            chart,
            release=BARMAN_RELEASE,
            namespace=cfg.operator_namespace,
            values=barman_values(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=plugin_deps),
        )
        store = kubernetes.apiextensions.CustomResource(
            f"{name}-backup-store",
            api_version="barmancloud.cnpg.io/v1",
            kind="ObjectStore",
            metadata={
                "name": object_store_name(cfg.cluster_name),
                "namespace": args.namespace,
                "labels": k8s.labels("postgres", "backup"),
            },
            spec=object_store_spec(cfg.backups, args.backup_store),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.backup_plugin, *args.depends_on, *args.backup_depends_on],
            ),
        )
        return [self.backup_plugin, store]
