"""MlflowServer: the MLflow tracking server (Postgres backend, S3 artifacts proxied)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from infra import k8s, versions
from infra.components.kube import manifest_args
from infra.config import MlflowConfig

NAME = "mlflow"
PORT = 5000
COMPONENT = "tracking-server"
METRICS_DIR = f"{k8s.SCRATCH}/metrics"
# Prometheus scrapes pods by IP, so the Host header is a pod address; these patterns are what
# MLflow itself allows by default for private networks. Health endpoints are always allowed.
POD_IP_HOSTS = ("10.*", "172.*", "192.168.*")


@dataclass(frozen=True, kw_only=True)
class MlflowServerArgs:
    """Wiring for the tracking server.

    Attributes:
        namespace: the platform namespace.
        config: replicas and resources from the stack.
        backend_secret: Secret with key `uri` (the SQLAlchemy URI, psycopg2 driver).
        s3_secret: Secret with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
        server_secret: Secret with key `flask-secret-key`.
        s3_endpoint: S3 endpoint URL.
        s3_region: S3 region.
        artifacts_bucket: bucket behind `mlflow-artifacts:/` (the server proxies it).
        depends_on: resources to wait for (database, buckets, Secrets).
    """

    namespace: str
    config: MlflowConfig
    backend_secret: str
    s3_secret: str
    server_secret: str
    s3_endpoint: str
    s3_region: str
    artifacts_bucket: str
    depends_on: tuple[pulumi.Resource, ...] = ()


def allowed_hosts(namespace: str) -> list[str]:
    """Return the Host headers MLflow accepts: its in-cluster DNS names, with and without port."""
    names = [*k8s.service_dns(NAME, namespace), "localhost"]
    return [*names, *[f"{n}:{PORT}" for n in names], *POD_IP_HOSTS]


def _env(args: MlflowServerArgs) -> list[dict[str, Any]]:
    return [
        k8s.secret_env("MLFLOW_BACKEND_STORE_URI", args.backend_secret, "uri"),
        k8s.secret_env("AWS_ACCESS_KEY_ID", args.s3_secret, "AWS_ACCESS_KEY_ID"),
        k8s.secret_env("AWS_SECRET_ACCESS_KEY", args.s3_secret, "AWS_SECRET_ACCESS_KEY"),
        k8s.secret_env("MLFLOW_FLASK_SERVER_SECRET_KEY", args.server_secret, "flask-secret-key"),
        {"name": "MLFLOW_S3_ENDPOINT_URL", "value": args.s3_endpoint},
        {"name": "AWS_DEFAULT_REGION", "value": args.s3_region},
        # Job execution spawns huey workers inside the server; the platform runs jobs as CronJobs.
        {"name": "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "value": "false"},
        {"name": "HOME", "value": k8s.SCRATCH},
    ]


def server_args(args: MlflowServerArgs) -> list[str]:
    """Return the `mlflow server` arguments ($(VAR) is expanded by the kubelet from env)."""
    return [
        "server",
        "--backend-store-uri",
        "$(MLFLOW_BACKEND_STORE_URI)",
        "--artifacts-destination",
        f"s3://{args.artifacts_bucket}",
        "--serve-artifacts",
        "--allowed-hosts",
        ",".join(allowed_hosts(args.namespace)),
        "--host",
        "0.0.0.0",  # noqa: S104  # the pod IP is the only interface; the Service fronts it
        "--port",
        str(PORT),
        # One worker per pod: prometheus-client metrics are per process; scale with replicas.
        "--workers",
        "1",
        "--expose-prometheus",
        METRICS_DIR,
    ]


def deployment(args: MlflowServerArgs) -> dict[str, Any]:
    """Return the MLflow Deployment: `mlflow db upgrade` as an initContainer, then the server."""
    labels = k8s.labels(NAME, COMPONENT, versions.MLFLOW_IMAGE.rsplit(":", 1)[-1])
    res = args.config.resources
    resources = k8s.resources(res.requests.model_dump(), res.limits.model_dump())
    mounts = [{"name": "tmp", "mountPath": k8s.SCRATCH}]
    upgrade = {
        "name": "db-upgrade",
        "image": versions.MLFLOW_IMAGE,
        # Migrations run before any server starts; alembic holds a lock, so replicas can race.
        "command": ["mlflow", "db", "upgrade", "$(MLFLOW_BACKEND_STORE_URI)"],
        "env": _env(args),
        "resources": resources,
        "securityContext": k8s.container_security_context(),
        "volumeMounts": mounts,
    }
    server = {
        "name": NAME,
        "image": versions.MLFLOW_IMAGE,
        "command": ["mlflow"],
        "args": server_args(args),
        "env": _env(args),
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "readinessProbe": k8s.http_probe("/health", "http", delay=10),
        "livenessProbe": k8s.http_probe("/health", "http", period=20, delay=30),
        "resources": resources,
        "securityContext": k8s.container_security_context(),
        "volumeMounts": mounts,
    }
    return {
        "metadata": {"name": NAME, "namespace": args.namespace, "labels": labels},
        "spec": {
            "replicas": args.config.replicas,
            "selector": {"matchLabels": k8s.selector_labels(NAME, COMPONENT)},
            "template": {
                "metadata": {"labels": labels},
                "spec": k8s.pod_spec([server], service_account=NAME, init_containers=[upgrade]),
            },
        },
    }


def service(namespace: str) -> dict[str, Any]:
    """Return the ClusterIP Service `mlflow` on port 5000."""
    return k8s.cluster_ip_service(NAME, COMPONENT, namespace, [k8s.http_service_port(PORT)])


class MlflowServer(pulumi.ComponentResource):
    """MLflow tracking server: ServiceAccount, Deployment, Service (and a PDB when replicated)."""

    tracking_uri: str
    service_name: str

    def __init__(
        self, name: str, args: MlflowServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the server; it starts only after the database and buckets are ready."""
        super().__init__("mlops:index:MlflowServer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        ns = args.namespace
        kubernetes.core.v1.ServiceAccount(
            f"{name}-sa",
            opts=child,
            **manifest_args(
                {
                    "metadata": {"name": NAME, "namespace": ns},
                    "automountServiceAccountToken": False,
                }
            ),
        )
        kubernetes.apps.v1.Deployment(
            f"{name}-deployment", opts=child, **manifest_args(deployment(args))
        )
        kubernetes.core.v1.Service(f"{name}-service", opts=child, **manifest_args(service(ns)))
        if args.config.replicas > 1:
            kubernetes.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                opts=child,
                **manifest_args(k8s.disruption_budget(NAME, COMPONENT, ns, max_unavailable=1)),
            )
        self.service_name = NAME
        self.tracking_uri = f"http://{NAME}.{ns}.svc.cluster.local:{PORT}"
        self.register_outputs({"trackingUri": self.tracking_uri})
