"""Postgres: the CloudNativePG operator (pinned chart) and one `Cluster` for MLflow's backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from infra import k8s, versions
from infra.config import PostgresConfig

PORT = 5432
# CloudNativePG labels every instance pod with the cluster name; NetworkPolicies select on it.
CLUSTER_LABEL = "cnpg.io/cluster"


@dataclass(frozen=True, kw_only=True)
class PostgresArgs:
    """Where and how big.

    Attributes:
        namespace: namespace of the Cluster (the platform namespace).
        config: the stack's postgres settings (instances, storage, resources, names).
        app_secret: name of the kubernetes.io/basic-auth Secret (created by SecretStore) whose
            username/password CloudNativePG gives the database owner; it also carries `uri`.
        depends_on: resources the Cluster needs first (namespaces, the app Secret).
    """

    namespace: str
    config: PostgresConfig
    app_secret: str
    depends_on: tuple[pulumi.Resource, ...] = ()


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
    return f"{cluster}-rw.{namespace}.svc.cluster.local"


def backend_uri_template(cfg: PostgresConfig, namespace: str, password_var: str) -> str:
    """Return the SQLAlchemy URI template for MLflow (`${password_var}` filled by SecretStore).

    `postgresql+psycopg2://` on purpose: SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3,
    which the mlflow -full image does not ship; psycopg2 is what it has.
    """
    host = rw_host(cfg.cluster_name, namespace)
    return f"postgresql+psycopg2://{cfg.owner}:${{{password_var}}}@{host}:{PORT}/{cfg.database}"


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
        "monitoring": {"enablePodMonitor": False},
    }
    if cfg.instances > 1:
        # Spread instances over nodes so one node loss never takes the primary and its replica;
        # one synchronous replica means a failover loses no committed MLflow write.
        spec["affinity"] = {
            "podAntiAffinityType": "required",
            "topologyKey": "kubernetes.io/hostname",
        }
        spec["minSyncReplicas"] = 1
        spec["maxSyncReplicas"] = 1
    return spec


class Postgres(pulumi.ComponentResource):
    """The CloudNativePG operator chart and a PostgreSQL `Cluster` that depends on it."""

    host: str
    port: int
    app_secret: str
    cluster_name: str
    operator: kubernetes.helm.v3.Release
    cluster: kubernetes.apiextensions.CustomResource

    def __init__(
        self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Install the operator, then create the Cluster (its CRD comes from the chart)."""
        cfg = args.config
        k8s.name(cfg.cluster_name, "rw")  # the longest derived Service name must be valid
        super().__init__("mlops:index:Postgres", name, None, opts)
        chart = versions.CNPG_CHART
        # helm.v3.Release (not v4.Chart): it waits for the operator and its CRDs before the
        # Cluster is sent, and it upgrades CRDs with the chart.
        self.operator = kubernetes.helm.v3.Release(
            f"{name}-operator",
            name="cnpg",
            chart=chart.chart,
            version=chart.version,
            repository_opts={"repo": chart.repo},
            namespace=cfg.operator_namespace,
            create_namespace=False,
            values=operator_values(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.cluster = kubernetes.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version="postgresql.cnpg.io/v1",
            kind="Cluster",
            metadata={
                "name": cfg.cluster_name,
                "namespace": args.namespace,
                "labels": k8s.labels("postgres", "database"),
            },
            spec=cluster_spec(cfg, args.app_secret),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.operator, *args.depends_on]),
        )
        self.host = rw_host(cfg.cluster_name, args.namespace)
        self.port = PORT
        self.app_secret = args.app_secret
        self.cluster_name = cfg.cluster_name
        self.register_outputs({"host": self.host, "port": self.port, "appSecret": self.app_secret})
