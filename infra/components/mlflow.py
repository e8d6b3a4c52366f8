"""MlflowServer: the MLflow tracking server (Postgres backend, S3 artifacts proxied)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from mlops_contract import env, metrics

from infra import k8s, versions
from infra.components import mlflow_auth
from infra.components.kube import ServiceFacts, service_workload
from infra.components.monitoring_targets import ScrapeTarget
from infra.components.secrets import SecretSpec, SecretStoreArgs
from infra.config import MlflowConfig

# The Service, the Deployment and its ServiceAccount all carry this name.
NAME = "mlflow"
SERVICE_ACCOUNT = NAME
PORT = 5000
COMPONENT = "tracking-server"
# The Secret with the Flask session key, generated once per stack (S105: a name, not a value).
SERVER_SECRET = "mlflow-server"  # noqa: S105
SERVER_SECRET_KEY = "flask-secret-key"  # noqa: S105
FLASK_PASSWORD = "mlflow_flask"  # noqa: S105
# Flask signs sessions with it: longer than the database password, still URI-safe.
FLASK_PASSWORD_LENGTH = 48
METRICS_DIR = f"{k8s.SCRATCH}/metrics"
# The auth app lets only admins read the server's own /metrics, and Prometheus must hold no
# MLflow identity: a sidecar serves the same multiprocess metrics files (written by
# `--expose-prometheus` into METRICS_DIR, a shared emptyDir) on a port only Prometheus may reach.
METRICS_PORT = 9102
METRICS_CONTAINER = "metrics-exporter"
METRICS_EXPORTER = """\
import os, sys, time
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector
os.makedirs(sys.argv[1], exist_ok=True)
registry = CollectorRegistry()
MultiProcessCollector(registry, path=sys.argv[1])
start_http_server(int(sys.argv[2]), registry=registry)
while True:
    time.sleep(3600)
"""
# A reader of a few small files: tiny next to the server.
METRICS_RESOURCES = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    "limits": {"cpu": "100m", "memory": "96Mi"},
}
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
        s3_endpoint: S3 endpoint URL.
        s3_region: S3 region.
        artifacts_bucket: bucket behind `mlflow-artifacts:/` (the server proxies it).
        public_hosts: host names an Ingress publishes the server under (Host headers to accept).
        depends_on: resources to wait for (database, buckets, Secrets).
    """

    namespace: str
    config: MlflowConfig
    backend_secret: str
    s3_secret: str
    s3_endpoint: str
    s3_region: str
    artifacts_bucket: str
    public_hosts: tuple[str, ...] = ()
    depends_on: tuple[pulumi.Resource, ...] = ()


def pods() -> dict[str, str]:
    """Return the selector labels of the tracking server pods."""
    return k8s.selector_labels(NAME, COMPONENT)


def endpoint(namespace: str) -> k8s.Endpoint:
    """Return the server pods and their HTTP port (tracking API, artifacts proxy, /metrics)."""
    return k8s.Endpoint(namespace=namespace, pods=pods(), ports=(PORT,))


def metrics_endpoint(namespace: str) -> k8s.Endpoint:
    """Return the server pods' metrics sidecar port (Prometheus only; no MLflow login)."""
    return k8s.Endpoint(namespace=namespace, pods=pods(), ports=(METRICS_PORT,))


def metrics_exporter_command() -> list[str]:
    """Return the metrics sidecar's command (prometheus_client, in the MLflow image)."""
    return ["python", "-c", METRICS_EXPORTER, METRICS_DIR, str(METRICS_PORT)]


def tracking_uri(namespace: str) -> str:
    """Return the in-cluster tracking URI (MLFLOW_TRACKING_URI for both apps)."""
    return k8s.service_url(NAME, namespace, PORT)


def scrape_target(namespace: str) -> ScrapeTarget:
    """Return the contract job `mlflow`: its metrics sidecar (the API /metrics needs admin)."""
    return ScrapeTarget(
        job=metrics.JOB_MLFLOW, namespace=namespace, selector=pods(), port="metrics"
    )


def secret_args(namespace: str) -> SecretStoreArgs:
    """Return the server's own Secret: the Flask session key, readable by the server only."""
    return SecretStoreArgs(
        passwords={FLASK_PASSWORD: FLASK_PASSWORD_LENGTH},
        secrets=(
            SecretSpec(
                name=SERVER_SECRET,
                namespace=namespace,
                data={SERVER_SECRET_KEY: f"${{{FLASK_PASSWORD}}}"},
                readers=(SERVICE_ACCOUNT,),
            ),
        ),
    )


def allowed_hosts(namespace: str, public: tuple[str, ...] = ()) -> list[str]:
    """Return the Host headers MLflow accepts: its in-cluster DNS names, with and without port.

    public: the hosts an Ingress publishes it under (the controller forwards their Host header).
    """
    names = [*k8s.service_dns(NAME, namespace), "localhost"]
    return [*names, *[f"{n}:{PORT}" for n in names], *POD_IP_HOSTS, *public]


def _env(args: MlflowServerArgs) -> list[dict[str, Any]]:
    return [
        k8s.env_credentials("MLFLOW_BACKEND_STORE_URI", args.backend_secret, "uri"),
        # The S3 credentials Secret's keys are the variable names (training takes it by envFrom).
        k8s.env_credentials(env.AWS_ACCESS_KEY_ID, args.s3_secret, env.AWS_ACCESS_KEY_ID),
        k8s.env_credentials(env.AWS_SECRET_ACCESS_KEY, args.s3_secret, env.AWS_SECRET_ACCESS_KEY),
        k8s.env_credentials("MLFLOW_FLASK_SERVER_SECRET_KEY", SERVER_SECRET, SERVER_SECRET_KEY),
        {"name": env.S3_ENDPOINT_URL, "value": args.s3_endpoint},
        {"name": env.AWS_DEFAULT_REGION, "value": args.s3_region},
        # Job execution spawns huey workers inside the server; the platform runs jobs as CronJobs.
        {"name": "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "value": "false"},
        {"name": "HOME", "value": k8s.SCRATCH},
    ]


def server_args(args: MlflowServerArgs) -> list[str]:
    """Return the `mlflow server` arguments ($(VAR) is expanded by the kubelet from env)."""
    return [
        "server",
        # Authentication and per-resource permissions (infra/components/mlflow_auth.py).
        "--app-name",
        mlflow_auth.APP_NAME,
        "--backend-store-uri",
        "$(MLFLOW_BACKEND_STORE_URI)",
        "--artifacts-destination",
        f"s3://{args.artifacts_bucket}",
        "--serve-artifacts",
        "--allowed-hosts",
        ",".join(allowed_hosts(args.namespace, args.public_hosts)),
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


# Why the Checkov check "secrets as files, not env" is skipped on the Deployment.
ENV_CREDENTIALS = (
    "mlflow server and mlflow db upgrade take the backend store URI (with its password) only "
    "as an argument or env var, and boto3 reads the S3 keys from env; all are Secret refs, "
    "never literals, in a one-process non-root container"
)


def deployment(args: MlflowServerArgs) -> dict[str, Any]:
    """Return the MLflow Deployment: `mlflow db upgrade` as an initContainer, then the server."""
    labels = k8s.labels(NAME, COMPONENT, versions.MLFLOW_IMAGE.rsplit(":", 1)[-1])
    res = args.config.resources
    resources = k8s.resources(res.requests.model_dump(), res.limits.model_dump())
    mounts = [{"name": "tmp", "mountPath": k8s.SCRATCH}]
    auth_volume, auth_mount = mlflow_auth.server_volume()
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
        "env": [*_env(args), *mlflow_auth.server_env()],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "readinessProbe": k8s.http_probe("/health", "http", delay=10),
        "livenessProbe": k8s.http_probe("/health", "http", period=20, delay=30),
        "resources": resources,
        "securityContext": k8s.container_security_context(),
        "volumeMounts": [*mounts, auth_mount],
    }
    exporter = {
        "name": METRICS_CONTAINER,
        "image": versions.MLFLOW_IMAGE,
        "command": metrics_exporter_command(),
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        "readinessProbe": k8s.http_probe("/metrics", "metrics"),
        "livenessProbe": k8s.http_probe("/metrics", "metrics", period=20, delay=10),
        "resources": k8s.resources(METRICS_RESOURCES["requests"], METRICS_RESOURCES["limits"]),
        "securityContext": k8s.container_security_context(),
        "volumeMounts": mounts,
    }
    return {
        "metadata": {
            "name": NAME,
            "namespace": args.namespace,
            "labels": labels,
            "annotations": k8s.scan_skips(
                images=[versions.MLFLOW_IMAGE], env_credentials=ENV_CREDENTIALS
            ),
        },
        "spec": {
            "replicas": args.config.replicas,
            "selector": {"matchLabels": pods()},
            "template": {
                "metadata": {"labels": labels},
                "spec": k8s.pod_spec(
                    [server, exporter],
                    service_account=SERVICE_ACCOUNT,
                    init_containers=[upgrade],
                    volumes=[dict(k8s.SCRATCH_VOLUME), auth_volume],
                ),
            },
        },
    }


def service(namespace: str) -> dict[str, Any]:
    """Return the ClusterIP Service `mlflow` on port 5000."""
    return k8s.cluster_ip_service(
        NAME,
        COMPONENT,
        namespace,
        [k8s.http_service_port(PORT), k8s.http_service_port(METRICS_PORT, "metrics")],
    )


class MlflowServer(pulumi.ComponentResource):
    """MLflow tracking server: ServiceAccount, Deployment, Service (and a PDB when replicated).

    Published facts: `facts` (ServiceFacts; its url is the tracking URI) and `tracking_uri`.
    """

    facts: ServiceFacts
    tracking_uri: str

    def __init__(
        self, name: str, args: MlflowServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the server; it starts only after the database and buckets are ready."""
        super().__init__("mlops:index:MlflowServer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        ns = args.namespace
        self.facts = ServiceFacts(
            service_name=NAME,
            port=PORT,
            url=tracking_uri(ns),
            pods=pods(),
            service_account=SERVICE_ACCOUNT,
            endpoint=endpoint(ns),
            scrape_target=scrape_target(ns),
        )
        self.tracking_uri = self.facts.url
        replicated = args.config.replicas > 1
        service_workload(
            name,
            child,
            namespace=ns,
            service_account=SERVICE_ACCOUNT,
            manifests=(deployment(args), service(ns)),
            budget=k8s.disruption_budget(NAME, COMPONENT, ns, max_unavailable=1)
            if replicated
            else None,
        )
        self.register_outputs({"trackingUri": self.tracking_uri})
