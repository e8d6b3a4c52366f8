"""build_platform: wires the components for one stack from its typed config."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from infra.components import mlflow as mlflow_specs
from infra.components import monitoring_specs, monitoring_targets
from infra.components.images import Images
from infra.components.mlflow import MlflowServer, MlflowServerArgs
from infra.components.monitoring import Monitoring, MonitoringArgs, prometheus_url
from infra.components.namespaces import Namespaces, NamespacesArgs
from infra.components.network import NetworkPolicies, NetworkPoliciesArgs
from infra.components.objectstore import ObjectStore, ObjectStoreArgs, service_name
from infra.components.objectstore_specs import (
    ACCESS_KEY,
    SEAWEEDFS_CONFIG_KEY,
    SECRET_KEY,
    seaweedfs_identities,
    server_for,
)
from infra.components.postgres import Postgres, PostgresArgs, app_secret_name, backend_uri_template
from infra.components.secrets import SecretSpec, SecretStore, SecretStoreArgs
from infra.components.serving import ModelServing, ModelServingArgs
from infra.components.training import SERVICE_ACCOUNT as TRAINING_SA
from infra.components.training import TrainingJob, TrainingJobArgs
from infra.config import PlatformConfig

# Kubernetes Secret names (S105: these are names, not values).
S3_SECRET = "s3-credentials"  # noqa: S105
MLFLOW_SECRET = "mlflow-server"  # noqa: S105
GRAFANA_SECRET = "grafana-admin"  # noqa: S105
SEAWEEDFS_SECRET = "seaweedfs-s3-config"  # noqa: S105
ALERTMANAGER_SECRET = "alertmanager-config"  # noqa: S105
# Password lengths: long enough to be unguessable, alphanumeric so they embed in URIs as is.
PASSWORDS = {"postgres_app": 32, "mlflow_flask": 48, "grafana_admin": 32}
S3_KEYS = {"s3_access_key": 20, "s3_secret_key": 40}


@dataclass(frozen=True)
class PlatformOutputs:
    """What the stack exports: names and in-cluster addresses, never secret values."""

    namespaces: dict[str, str]
    mlflow_tracking_uri: str
    serving_url: str
    s3_endpoint: str
    buckets: dict[str, str]
    postgres_host: str
    secret_names: list[str]


def secret_store_args(cfg: PlatformConfig) -> SecretStoreArgs:
    """Return every credential and where each Secret goes (pure: tested without mocks)."""
    ns, store = cfg.namespaces, cfg.object_store
    server = service_name(store.engine)
    s3_data = {ACCESS_KEY: "${s3_access_key}", SECRET_KEY: "${s3_secret_key}"}
    passwords = dict(PASSWORDS)
    provided: dict[str, str] = {}
    if store.engine == "external":
        assert store.access_key_id is not None  # noqa: S101  # validated by config
        assert store.secret_access_key is not None  # noqa: S101
        provided = {
            "s3_access_key": store.access_key_id,
            "s3_secret_key": store.secret_access_key.value,
        }
    else:
        passwords.update(S3_KEYS)
    receiver = cfg.monitoring.alert_receiver
    if receiver is not None:
        provided[monitoring_specs.ALERT_URL_VAR] = receiver.value
    app_secret = app_secret_name(cfg.postgres.cluster_name)
    secrets = [
        SecretSpec(
            name=app_secret,
            namespace=ns.platform,
            type="kubernetes.io/basic-auth",
            data={
                "username": cfg.postgres.owner,
                "password": "${postgres_app}",
                "uri": backend_uri_template(cfg.postgres, ns.platform, "postgres_app"),
            },
            readers=(mlflow_specs.NAME,),
        ),
        SecretSpec(
            name=S3_SECRET,
            namespace=ns.platform,
            data=s3_data,
            readers=tuple(sorted({mlflow_specs.NAME, server or mlflow_specs.NAME})),
        ),
        SecretSpec(name=S3_SECRET, namespace=ns.training, data=s3_data, readers=(TRAINING_SA,)),
        SecretSpec(
            name=MLFLOW_SECRET,
            namespace=ns.platform,
            data={"flask-secret-key": "${mlflow_flask}"},
            readers=(mlflow_specs.NAME,),
        ),
        SecretSpec(
            name=GRAFANA_SECRET,
            namespace=ns.monitoring,
            data={"admin-user": "admin", "admin-password": "${grafana_admin}"},
            readers=(monitoring_specs.GRAFANA_SA,),
        ),
        # The operator reads it and renders the Alertmanager's config from it.
        SecretSpec(
            name=ALERTMANAGER_SECRET,
            namespace=ns.monitoring,
            data={
                monitoring_specs.ALERTMANAGER_CONFIG_KEY: monitoring_specs.alertmanager_config(
                    receiver is not None
                )
            },
            readers=(monitoring_specs.OPERATOR_SA,),
        ),
    ]
    if store.engine == "seaweedfs":
        secrets.append(
            SecretSpec(
                name=SEAWEEDFS_SECRET,
                namespace=ns.platform,
                data={SEAWEEDFS_CONFIG_KEY: seaweedfs_identities("s3_access_key", "s3_secret_key")},
                readers=("seaweedfs",),
            )
        )
    return SecretStoreArgs(passwords=passwords, provided=provided, secrets=tuple(secrets))


def build_platform(cfg: PlatformConfig) -> PlatformOutputs:
    """Create every platform resource for cfg and return the stack outputs."""
    # An explicit provider pinned to the stack's kube context: the default provider is disabled
    # in every stack file so nothing can land in whatever context kubectl happens to point at.
    provider = kubernetes.Provider("k8s", context=cfg.kube_context)
    opts = pulumi.ResourceOptions(providers=[provider])
    ns = cfg.namespaces
    namespaces = Namespaces(
        "namespaces",
        NamespacesArgs(
            app={
                "platform": ns.platform,
                "training": ns.training,
                "serving": ns.serving,
                "monitoring": ns.monitoring,
            },
            operators={"postgres-operator": cfg.postgres.operator_namespace},
            quota=cfg.quota,
        ),
        opts=opts,
    )
    ns_deps = tuple(namespaces.resources)
    secrets = SecretStore(
        "secrets",
        secret_store_args(cfg),
        opts=pulumi.ResourceOptions(providers=[provider], depends_on=list(ns_deps)),
    )
    secret_deps = tuple(secrets.secrets.values())
    postgres = Postgres(
        "postgres",
        PostgresArgs(
            namespace=ns.platform,
            config=cfg.postgres,
            app_secret=app_secret_name(cfg.postgres.cluster_name),
            depends_on=ns_deps + secret_deps,
        ),
        opts=opts,
    )
    store = ObjectStore(
        "object-store",
        ObjectStoreArgs(
            namespace=ns.platform,
            config=cfg.object_store,
            credentials_secret=S3_SECRET,
            config_secret=SEAWEEDFS_SECRET if cfg.object_store.engine == "seaweedfs" else None,
            depends_on=ns_deps + secret_deps,
        ),
        opts=opts,
    )
    server = MlflowServer(
        "mlflow",
        MlflowServerArgs(
            namespace=ns.platform,
            config=cfg.mlflow,
            backend_secret=app_secret_name(cfg.postgres.cluster_name),
            s3_secret=S3_SECRET,
            server_secret=MLFLOW_SECRET,
            s3_endpoint=store.endpoint,
            s3_region=cfg.object_store.region,
            artifacts_bucket=cfg.object_store.artifacts_bucket,
            depends_on=(postgres.cluster, store.ready, *secret_deps),
        ),
        opts=opts,
    )
    images = Images("images", cfg.images, opts=opts)
    serving = ModelServing(
        "serving",
        ModelServingArgs(
            namespace=ns.serving,
            image=images.refs["serving"],
            image_version=images.versions["serving"],
            model_name=cfg.model_name,
            tracking_uri=server.tracking_uri,
            config=cfg.serving,
            depends_on=ns_deps,
        ),
        opts=opts,
    )
    TrainingJob(
        "training",
        TrainingJobArgs(
            namespace=ns.training,
            image=images.refs["training"],
            image_version=images.versions["training"],
            model_name=cfg.model_name,
            tracking_uri=server.tracking_uri,
            s3_endpoint=store.endpoint,
            s3_region=cfg.object_store.region,
            s3_secret=S3_SECRET,
            datasets_bucket=cfg.object_store.datasets_bucket,
            prometheus_url=prometheus_url(ns.monitoring),
            pushgateway_url=monitoring_specs.pushgateway_url(ns.monitoring),
            config=cfg.training,
            depends_on=ns_deps + secret_deps,
        ),
        opts=opts,
    )
    Monitoring(
        "monitoring",
        MonitoringArgs(
            namespace=ns.monitoring,
            config=cfg.monitoring,
            grafana_secret=GRAFANA_SECRET,
            alertmanager_secret=ALERTMANAGER_SECRET,
            targets=tuple(
                monitoring_targets.platform_targets(
                    platform_ns=ns.platform,
                    serving_ns=ns.serving,
                    monitoring_ns=ns.monitoring,
                    object_store_engine=cfg.object_store.engine,
                    postgres_cluster=cfg.postgres.cluster_name,
                )
            ),
            depends_on=ns_deps + secret_deps,
        ),
        opts=opts,
    )
    s3_ports: tuple[int, ...] = (store.port,)
    if store.in_cluster:
        facts = server_for(cfg.object_store.engine)
        s3_ports = tuple(dict.fromkeys((facts.port, facts.metrics_port)))
    NetworkPolicies(
        "network",
        NetworkPoliciesArgs(
            platform=ns.platform,
            training=ns.training,
            serving=ns.serving,
            monitoring=ns.monitoring,
            operator=cfg.postgres.operator_namespace,
            postgres_cluster=cfg.postgres.cluster_name,
            s3_in_cluster=store.in_cluster,
            s3_ports=s3_ports,
            alert_receiver=cfg.monitoring.alert_receiver is not None,
            depends_on=ns_deps,
        ),
        opts=opts,
    )
    return PlatformOutputs(
        namespaces=namespaces.names,
        mlflow_tracking_uri=server.tracking_uri,
        serving_url=serving.service_url,
        s3_endpoint=store.endpoint,
        buckets=store.buckets,
        postgres_host=postgres.host,
        secret_names=sorted({f"{k[0]}/{k[1]}" for k in secrets.secrets}),
    )
