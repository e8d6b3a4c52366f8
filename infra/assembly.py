"""build_platform: wires the components for one stack from its typed config.

Wiring only: every name, port, URL, selector and Secret comes from the component that owns it
(its published attributes, or the pure functions behind them when a consumer is created first).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes
from mlops_contract import serving as serving_contract

from infra.components import (
    mlflow,
    mlflow_auth,
    monitoring_specs,
    objectstore_specs,
    openbao,
    postgres,
    serving,
    training,
)
from infra.components import objectstore_identities as ids
from infra.components.certmanager import CertManager
from infra.components.external_secrets import StoreBackend
from infra.components.images import Images
from infra.components.ingress import Backend, PlatformIngress, public_url
from infra.components.kube import ServiceFacts
from infra.components.mlflow import MlflowServer, MlflowServerArgs
from infra.components.mlflow_auth import MlflowAuthSetup, MlflowAuthSetupArgs
from infra.components.monitoring import Monitoring, MonitoringArgs
from infra.components.namespaces import Namespaces, NamespacesArgs
from infra.components.network import NetworkPolicies, NetworkPoliciesArgs, home
from infra.components.objectstore import ObjectStore, ObjectStoreArgs
from infra.components.objectstore_specs import Consumer
from infra.components.openbao import OpenbaoStore
from infra.components.postgres import BackupStore, Postgres, PostgresArgs
from infra.components.secrets import SecretStore, SecretStoreArgs, combine
from infra.components.serving import InferenceLogArgs, ModelServing, ModelServingArgs
from infra.components.training import TrainingJob, TrainingJobArgs
from infra.config import PlatformConfig, SecretsConfig


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
    """Return every credential and where each Secret goes, as each owner asks (pure).

    The Secrets exist before their owners' workloads, so the owners' pure functions are asked,
    with the ServiceAccounts of the clients that read them.
    """
    ns = cfg.namespaces
    # One S3 identity per consumer, its key only in its own namespace (objectstore_identities).
    s3_consumers = [
        Consumer(identity=ids.MLFLOW, namespace=ns.platform, readers=(mlflow.SERVICE_ACCOUNT,)),
        Consumer(identity=ids.TRAINING, namespace=ns.training, readers=(training.SERVICE_ACCOUNT,)),
        Consumer(identity=ids.SERVING, namespace=ns.serving, readers=(serving.service_account(),)),
    ]
    backups = cfg.postgres.backups
    if backups is not None:
        # The backup sidecar in the database pods writes base backups and WAL.
        account = postgres.cluster_service_account(cfg.postgres.cluster_name)
        s3_consumers.append(
            Consumer(identity=ids.POSTGRES_BACKUPS, namespace=ns.platform, readers=(account,))
        )
    return combine(
        postgres.secret_args(cfg.postgres, ns.platform, readers=(mlflow.SERVICE_ACCOUNT,)),
        objectstore_specs.secret_args(
            cfg.object_store,
            ns.platform,
            s3_consumers,
            backups_bucket=None if backups is None else backups.bucket,
        ),
        mlflow.secret_args(ns.platform),
        mlflow_auth.secret_args(
            cfg.postgres,
            mlflow_auth.Readers(
                platform=ns.platform,
                server=mlflow.SERVICE_ACCOUNT,
                training=(ns.training, training.SERVICE_ACCOUNT),
                serving=(ns.serving, serving.service_account()),
            ),
        ),
        monitoring_specs.secret_args(cfg.monitoring, ns.monitoring),
    )


def store_backend(cfg: SecretsConfig) -> StoreBackend | None:
    """Return where the platform's Secrets come from: None (Kubernetes Secrets) or a store."""
    if cfg.openbao is not None:
        return openbao.backend(cfg.openbao, cfg.refresh_interval)
    if cfg.external is not None:
        return StoreBackend(
            store_name=cfg.external.store_name,
            refresh_interval=cfg.refresh_interval,
            key_prefix=cfg.external.key_prefix,
        )
    return None


def _vendor_namespaces(cfg: SecretsConfig) -> dict[str, str]:
    if cfg.openbao is None:
        return {}
    return {"openbao": cfg.openbao.namespace, "external-secrets": cfg.openbao.operator_namespace}


def _secret_store(
    cfg: PlatformConfig, provider: kubernetes.Provider, ns_deps: tuple[pulumi.Resource, ...]
) -> SecretStore:
    """The platform's Secrets, from the configured provider (after the store it reads)."""
    store_deps = ns_deps
    if cfg.secrets.openbao is not None:
        store = OpenbaoStore(
            "openbao",
            cfg.secrets.openbao,
            depends_on=ns_deps,
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        store_deps += tuple(store.ready)
    return SecretStore(
        "secrets",
        secret_store_args(cfg),
        opts=pulumi.ResourceOptions(providers=[provider], depends_on=list(store_deps)),
        backend=store_backend(cfg.secrets),
    )


def ingress_backends(
    mlflow_facts: ServiceFacts,
    serving_facts: ServiceFacts,
    monitoring: monitoring_specs.MonitoringEndpoints,
) -> dict[str, Backend]:
    """Return what an Ingress may route to, from the owners' published facts (pure)."""
    return {
        "mlflow": Backend(
            namespace=home(mlflow_facts.endpoint),
            service=mlflow_facts.service_name,
            port=mlflow_facts.port,
            pods=mlflow_facts.endpoint,
        ),
        "grafana": Backend(
            namespace=home(monitoring.grafana),
            service=monitoring_specs.GRAFANA_SERVICE,
            port=monitoring_specs.GRAFANA_SERVICE_PORT,
            pods=monitoring.grafana,
        ),
        # The model API only: /metrics and the probes stay in-cluster.
        "serving": Backend(
            namespace=home(serving_facts.endpoint),
            service=serving_facts.service_name,
            port=serving_facts.port,
            pods=serving_facts.endpoint,
            paths=tuple((path, "Exact") for path in serving_contract.API_ROUTES),
        ),
    }


def operator_namespaces(cfg: PlatformConfig) -> dict[str, str]:
    """Return role -> name of the vendor charts' namespaces the program creates."""
    operators = {"postgres-operator": cfg.postgres.operator_namespace}
    if cfg.cert_manager is not None and cfg.cert_manager.install:
        operators["cert-manager"] = cfg.cert_manager.namespace
    return operators


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
            operators=operator_namespaces(cfg),
            vendors=_vendor_namespaces(cfg.secrets),
            quota=cfg.quota,
            protect=cfg.protect_data,
        ),
        opts=opts,
    )
    ns_deps = tuple(namespaces.resources)
    certs = cfg.cert_manager
    cert_manager = (
        CertManager("cert-manager", certs.namespace, depends_on=ns_deps, opts=opts)
        if certs is not None and certs.install
        else None
    )
    secrets = _secret_store(cfg, provider, ns_deps)
    secret_deps = tuple(secrets.secrets.values())
    backups = cfg.postgres.backups
    store = ObjectStore(
        "object-store",
        ObjectStoreArgs(
            namespace=ns.platform,
            config=cfg.object_store,
            depends_on=ns_deps + secret_deps,
            backups_bucket=None if backups is None else backups.bucket,
            protect=cfg.protect_data,
        ),
        opts=opts,
    )
    database = Postgres(
        "postgres",
        PostgresArgs(
            namespace=ns.platform,
            config=cfg.postgres,
            depends_on=ns_deps + secret_deps,
            backup_store=None
            if backups is None
            else BackupStore(
                endpoint=store.url,
                bucket=backups.bucket,
                credentials_secret=store.credentials_secret(ids.POSTGRES_BACKUPS),
                access_key=objectstore_specs.ACCESS_KEY,
                secret_key=objectstore_specs.SECRET_KEY,
            ),
            backup_depends_on=(store.ready,),
            plugin_depends_on=() if cert_manager is None else (cert_manager.release,),
            protect=cfg.protect_data,
            extra_databases=(mlflow_auth.auth_database(cfg.postgres),),
        ),
        opts=opts,
    )
    routes = cfg.ingress.routes()
    server = MlflowServer(
        "mlflow",
        MlflowServerArgs(
            namespace=ns.platform,
            config=cfg.mlflow,
            backend_secret=database.app_secret,
            s3_secret=store.credentials_secret(ids.MLFLOW),
            s3_endpoint=store.url,
            s3_region=cfg.object_store.region,
            artifacts_bucket=cfg.object_store.artifacts_bucket,
            public_hosts=(routes["mlflow"].host,) if "mlflow" in routes else (),
            depends_on=(database.cluster, *database.databases, store.ready, *secret_deps),
        ),
        opts=opts,
    )
    # The identities and grants exist before anything registers a model or loads one.
    auth_setup = MlflowAuthSetup(
        "mlflow-auth",
        MlflowAuthSetupArgs(
            namespace=ns.platform,
            tracking_uri=server.tracking_uri,
            model_name=cfg.model_name,
            depends_on=(server, *secret_deps),
        ),
        opts=opts,
    )
    images = Images("images", cfg.images, opts=opts)
    triggers = cfg.training.triggers.to_triggers()
    training_job = TrainingJob(
        "training",
        TrainingJobArgs(
            namespace=ns.training,
            image=images.refs["training"],
            image_version=images.versions["training"],
            model_name=cfg.model_name,
            model_alias=cfg.model_alias,
            triggers=triggers,
            tracking_uri=server.tracking_uri,
            s3_endpoint=store.url,
            s3_region=cfg.object_store.region,
            s3_secret=store.credentials_secret(ids.TRAINING),
            datasets_bucket=cfg.object_store.datasets_bucket,
            inference_log_bucket=store.inference_log_bucket,
            # Monitoring is created after serving (it scrapes it): its pure URL functions.
            prometheus_url=monitoring_specs.prometheus_url(ns.monitoring),
            pushgateway_url=monitoring_specs.pushgateway_url(ns.monitoring),
            config=cfg.training,
            depends_on=ns_deps + secret_deps,
            # The first model is trained against the registry and stored in the buckets.
            bootstrap_depends_on=(server, store.ready, auth_setup.job),
        ),
        opts=opts,
    )
    serving = ModelServing(
        "serving",
        ModelServingArgs(
            namespace=ns.serving,
            image=images.refs["serving"],
            image_version=images.versions["serving"],
            model_name=cfg.model_name,
            model_alias=cfg.model_alias,
            tracking_uri=server.tracking_uri,
            config=cfg.serving,
            inference_log=InferenceLogArgs(
                bucket=store.inference_log_bucket,
                endpoint=store.url,
                region=cfg.object_store.region,
                credentials_secret=store.credentials_secret(ids.SERVING),
            ),
            # The log's Secret exists before the first pod starts. Not the bucket Job: serving
            # must not wait on it, and a write before the bucket exists is counted, not fatal.
            # After the bootstrap Job: serving is ready only once a champion exists, so
            # `pulumi up` would otherwise wait on it until its timeout on a first deploy.
            depends_on=(*ns_deps, *secret_deps, training_job.bootstrap),
        ),
        opts=opts,
    )
    scraped = (serving.facts.scrape_target, server.facts.scrape_target, database.scrape_target)
    monitoring = Monitoring(
        "monitoring",
        MonitoringArgs(
            namespace=ns.monitoring,
            config=cfg.monitoring,
            triggers=triggers,
            targets=scraped if store.scrape_target is None else (*scraped, store.scrape_target),
            grafana_url=public_url(routes["grafana"]) if "grafana" in routes else None,
            depends_on=ns_deps + secret_deps,
        ),
        opts=opts,
    )
    backends = ingress_backends(server.facts, serving.facts, monitoring.endpoints)
    if routes:
        PlatformIngress(
            "ingress",
            cfg.ingress,
            backends,
            depends_on=ns_deps,
            opts=opts,
        )
    NetworkPolicies(
        "network",
        NetworkPoliciesArgs(
            training=ns.training,
            serving=serving.facts.endpoint,
            mlflow=server.facts.endpoint,
            mlflow_metrics=mlflow.metrics_endpoint(ns.platform),
            postgres=database.endpoints,
            object_store=store.endpoints,
            monitoring=monitoring.endpoints,
            alert_receiver=cfg.monitoring.alert_receiver is not None,
            secret_store=None
            if cfg.secrets.openbao is None
            else openbao.endpoints(cfg.secrets.openbao),
            control_plane=tuple(cfg.network.control_plane_cidrs),
            gateway_namespace=cfg.network.gateway_namespace,
            ingress_controller=cfg.ingress.controller_namespace if routes else None,
            published={name: backends[name].pods for name in routes},
            cert_manager=None if cert_manager is None else cert_manager.endpoints,
            mlflow_admin=auth_setup.endpoint,
            depends_on=ns_deps,
        ),
        opts=opts,
    )
    return PlatformOutputs(
        namespaces=namespaces.names,
        mlflow_tracking_uri=server.tracking_uri,
        serving_url=serving.url,
        s3_endpoint=store.url,
        buckets=store.buckets,
        postgres_host=database.host,
        secret_names=secrets.secret_names,
    )
