"""Pure spec builders for the ObjectStore component (MinIO, SeaweedFS, the bucket Job)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mlops_contract import env, metrics

from infra import k8s, versions
from infra.components.monitoring_targets import ScrapeTarget
from infra.components.secrets import SecretSpec, SecretStoreArgs
from infra.config import ObjectStoreConfig

APP_COMPONENT = "object-store"
# The credentials Secret's keys are the AWS SDK's variable names, so clients take it by envFrom.
ACCESS_KEY = env.AWS_ACCESS_KEY_ID
SECRET_KEY = env.AWS_SECRET_ACCESS_KEY
# Secret names (S105: names, not values): the S3 keys, in every namespace that has a client, and
# SeaweedFS's identity file (built from the same keys).
CREDENTIALS_SECRET = "s3-credentials"  # noqa: S105
CONFIG_SECRET = "seaweedfs-s3-config"  # noqa: S105
# The SecretStore value names of the keys; AWS-like lengths (20-character id, 40-character key).
ACCESS_KEY_VALUE = "s3_access_key"
SECRET_KEY_VALUE = "s3_secret_key"  # noqa: S105
GENERATED_KEYS = {ACCESS_KEY_VALUE: 20, SECRET_KEY_VALUE: 40}
BUCKET_INIT = "bucket-init"
MINIO_PORT = 9000
SEAWEEDFS_PORT = 8333
SEAWEEDFS_METRICS_PORT = 9327
SEAWEEDFS_CONFIG_KEY = "s3.json"
DATA_MOUNT = "/data"


@dataclass(frozen=True, kw_only=True)
class Server:
    """How one in-cluster S3 engine runs."""

    app: str
    image: str
    port: int
    command: list[str] | None
    args: list[str]
    probe_path: str | None
    metrics_port: int


def server_for(engine: str) -> Server:
    """Return the container facts of an in-cluster engine."""
    if engine == "minio":
        return Server(
            app="minio",
            image=versions.MINIO_IMAGE,
            port=MINIO_PORT,
            command=None,  # the image's entrypoint is `minio`
            # --certs-dir under /tmp: the root filesystem is read-only and MinIO creates it.
            args=[
                "server",
                DATA_MOUNT,
                "--address",
                f":{MINIO_PORT}",
                "--certs-dir",
                f"{k8s.SCRATCH}/certs",
            ],
            probe_path="/minio/health/ready",
            metrics_port=MINIO_PORT,
        )
    if engine == "seaweedfs":
        return Server(
            app="seaweedfs",
            image=versions.SEAWEEDFS_IMAGE,
            port=SEAWEEDFS_PORT,
            # The image's entrypoint script adds its own flags; call the binary directly.
            command=["/usr/bin/weed"],
            args=[
                "server",
                f"-dir={DATA_MOUNT}",
                "-ip.bind=0.0.0.0",
                "-s3",
                f"-s3.port={SEAWEEDFS_PORT}",
                f"-s3.config=/etc/seaweedfs/{SEAWEEDFS_CONFIG_KEY}",
                f"-metricsPort={SEAWEEDFS_METRICS_PORT}",
                "-master.volumeSizeLimitMB=1024",
                f"-filer.defaultStoreDir={DATA_MOUNT}/filer",
            ],
            probe_path=None,
            metrics_port=SEAWEEDFS_METRICS_PORT,
        )
    raise ValueError(f"ObjectStore engine {engine!r} has no in-cluster server")


def seaweedfs_identities(access_var: str, secret_var: str) -> str:
    """Return the SeaweedFS S3 identity file template (`${var}` filled by SecretStore)."""
    identity = {
        "name": "platform",
        "credentials": [{"accessKey": f"${{{access_var}}}", "secretKey": f"${{{secret_var}}}"}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    return json.dumps({"identities": [identity]}, sort_keys=True)


def buckets(cfg: ObjectStoreConfig) -> dict[str, str]:
    """Return every bucket the bucket Job creates, by role (the stack output `buckets`)."""
    return {
        "artifacts": cfg.artifacts_bucket,
        "datasets": cfg.datasets_bucket,
        # Serving's predictions and labels (docs/inference-log.md), read by retrain.
        "inferenceLog": cfg.inference_log_bucket,
    }


def in_cluster_endpoint(engine: str, service: str, namespace: str) -> str:
    """Return the S3 endpoint URL of the in-cluster Service."""
    return k8s.service_url(service, namespace, server_for(engine).port)


def service_name(engine: str) -> str | None:
    """Return the in-cluster Service name for an engine, None for external."""
    return None if engine == "external" else server_for(engine).app


def url(cfg: ObjectStoreConfig, namespace: str) -> str:
    """Return the S3 endpoint URL clients use."""
    service = service_name(cfg.engine)
    if service is None:
        assert cfg.endpoint is not None  # noqa: S101  # config validation guarantees it
        return cfg.endpoint
    return in_cluster_endpoint(cfg.engine, service, namespace)


@dataclass(frozen=True, kw_only=True)
class ObjectStoreEndpoints:
    """Who listens where.

    Attributes:
        api: the S3 API (namespace None: an external S3 outside the cluster).
        metrics: the in-cluster server's metrics port (None for an external S3).
        bucket_init: the bucket Job's pods (an S3 client; they listen on nothing).
    """

    api: k8s.Endpoint
    metrics: k8s.Endpoint | None
    bucket_init: k8s.Endpoint


def endpoints(cfg: ObjectStoreConfig, namespace: str) -> ObjectStoreEndpoints:
    """Return the S3 API, metrics and bucket-Job endpoints for cfg in namespace."""
    bucket_init = k8s.Endpoint(
        namespace=namespace, pods=k8s.selector_labels(BUCKET_INIT, BUCKET_INIT), ports=()
    )
    if cfg.engine == "external":
        assert cfg.endpoint is not None  # noqa: S101  # config validation guarantees it
        port = 443 if cfg.endpoint.startswith("https://") else 80
        api = k8s.Endpoint(namespace=None, pods=None, ports=(port,))
        return ObjectStoreEndpoints(api=api, metrics=None, bucket_init=bucket_init)
    server = server_for(cfg.engine)
    pods = k8s.selector_labels(server.app, APP_COMPONENT)
    return ObjectStoreEndpoints(
        api=k8s.Endpoint(namespace=namespace, pods=pods, ports=(server.port,)),
        metrics=k8s.Endpoint(namespace=namespace, pods=pods, ports=(server.metrics_port,)),
        bucket_init=bucket_init,
    )


def scrape_target(cfg: ObjectStoreConfig, namespace: str) -> ScrapeTarget | None:
    """Return the contract job `object-store` of an in-cluster server (None for external)."""
    if cfg.engine == "external":
        return None
    server = server_for(cfg.engine)
    minio = cfg.engine == "minio"
    return ScrapeTarget(
        job=metrics.JOB_OBJECT_STORE,
        namespace=namespace,
        selector=k8s.selector_labels(server.app, APP_COMPONENT),
        # MinIO serves metrics on its S3 port (MINIO_PROMETHEUS_AUTH_TYPE=public: no bearer
        # token to rotate; the NetworkPolicy admits only the monitoring namespace to that port
        # besides the S3 clients); SeaweedFS on its own port.
        port="s3" if minio else "metrics",
        path="/minio/v2/metrics/cluster" if minio else "/metrics",
    )


def secret_args(
    cfg: ObjectStoreConfig, namespace: str, clients: Iterable[tuple[str, str]]
) -> SecretStoreArgs:
    """Return the S3 keys (generated, or from config for an external S3) and their Secrets.

    Args:
        cfg: the stack's objectStore settings.
        namespace: where the in-cluster server runs (it reads the keys there too).
        clients: (namespace, ServiceAccount) of every S3 client; each client namespace gets
            its own copy of the credentials Secret, readable by its clients only.
    """
    passwords: dict[str, int] = {}
    provided: dict[str, str] = {}
    if cfg.engine == "external":
        assert cfg.access_key_id is not None  # noqa: S101  # validated by config
        assert cfg.secret_access_key is not None  # noqa: S101
        provided = {
            ACCESS_KEY_VALUE: cfg.access_key_id,
            SECRET_KEY_VALUE: cfg.secret_access_key.value,
        }
    else:
        passwords = dict(GENERATED_KEYS)
    readers: dict[str, set[str]] = {}
    for client_ns, account in clients:
        readers.setdefault(client_ns, set()).add(account)
    server = service_name(cfg.engine)
    if server is not None:
        readers.setdefault(namespace, set()).add(server)
    data = {ACCESS_KEY: f"${{{ACCESS_KEY_VALUE}}}", SECRET_KEY: f"${{{SECRET_KEY_VALUE}}}"}
    secrets = [
        SecretSpec(name=CREDENTIALS_SECRET, namespace=ns, data=data, readers=tuple(sorted(sas)))
        for ns, sas in readers.items()
    ]
    if cfg.engine == "seaweedfs":
        secrets.append(
            SecretSpec(
                name=CONFIG_SECRET,
                namespace=namespace,
                data={
                    SEAWEEDFS_CONFIG_KEY: seaweedfs_identities(ACCESS_KEY_VALUE, SECRET_KEY_VALUE)
                },
                readers=(server_for(cfg.engine).app,),
            )
        )
    return SecretStoreArgs(passwords=passwords, provided=provided, secrets=tuple(secrets))


def pvc(name: str, namespace: str, cfg: ObjectStoreConfig) -> dict[str, Any]:
    """Return the data PersistentVolumeClaim."""
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": cfg.storage_size}},
    }
    if cfg.storage_class:
        spec["storageClassName"] = cfg.storage_class
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


# Why the Checkov check "secrets as files, not env" is skipped, per workload.
MINIO_ENV_CREDENTIALS = (
    "the MinIO server reads its root credentials from MINIO_ROOT_USER and MINIO_ROOT_PASSWORD; "
    "Secret refs, never literals"
)
BUCKET_JOB_ENV_CREDENTIALS = (
    "the bucket script hands the S3 keys to mc alias set from env; Secret refs, never "
    "literals, in a one-shot non-root Job"
)


def server_deployment(name: str, namespace: str, cfg: ObjectStoreConfig) -> dict[str, Any]:
    """Return the single-replica server Deployment for minio or seaweedfs."""
    server = server_for(cfg.engine)
    assert cfg.resources is not None  # noqa: S101  # config validation guarantees it
    labels = k8s.labels(server.app, APP_COMPONENT, server.image.rsplit(":", 1)[-1])
    env = [
        k8s.env_credentials("MINIO_ROOT_USER", CREDENTIALS_SECRET, ACCESS_KEY),
        k8s.env_credentials("MINIO_ROOT_PASSWORD", CREDENTIALS_SECRET, SECRET_KEY),
        # Prometheus scrapes /minio/v2/metrics/cluster without a bearer token, in-cluster only.
        {"name": "MINIO_PROMETHEUS_AUTH_TYPE", "value": "public"},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "data", "persistentVolumeClaim": {"claimName": name}},
        {"name": "tmp", "emptyDir": {}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "data", "mountPath": DATA_MOUNT},
        {"name": "tmp", "mountPath": k8s.SCRATCH},
    ]
    if cfg.engine == "seaweedfs":
        env = []
        volumes.append({"name": "s3-config", "secret": {"secretName": CONFIG_SECRET}})
        mounts.append({"name": "s3-config", "mountPath": "/etc/seaweedfs", "readOnly": True})
    if server.probe_path:
        ready = k8s.http_probe(server.probe_path, server.port)
        live = k8s.http_probe("/minio/health/live", server.port, period=20)
    else:
        ready = {"tcpSocket": {"port": server.port}, "periodSeconds": 10, "failureThreshold": 6}
        live = {"tcpSocket": {"port": server.port}, "periodSeconds": 20, "failureThreshold": 6}
    ports = [{"name": "s3", "containerPort": server.port, "protocol": "TCP"}]
    if server.metrics_port != server.port:
        ports.append({"name": "metrics", "containerPort": server.metrics_port, "protocol": "TCP"})
    container: dict[str, Any] = {
        "name": server.app,
        "image": server.image,
        "args": server.args,
        # Anything the server writes relative to its working directory lands on the volume.
        "workingDir": DATA_MOUNT,
        "env": env,
        "ports": ports,
        "readinessProbe": ready,
        "livenessProbe": live,
        "resources": k8s.resources(
            cfg.resources.requests.model_dump(), cfg.resources.limits.model_dump()
        ),
        "securityContext": k8s.container_security_context(),
        "volumeMounts": mounts,
    }
    if server.command:
        container["command"] = server.command
    # SeaweedFS reads its identities from a mounted Secret file; MinIO only from env.
    env_credentials = MINIO_ENV_CREDENTIALS if env else None
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": k8s.scan_skips(images=[server.image], env_credentials=env_credentials),
        },
        "spec": {
            "replicas": 1,
            # One writer on a ReadWriteOnce volume: never run old and new pods side by side.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": k8s.selector_labels(server.app, APP_COMPONENT)},
            "template": {
                "metadata": {"labels": labels},
                "spec": k8s.pod_spec(
                    [container], service_account=name, volumes=volumes, fs_group=k8s.DEFAULT_UID
                ),
            },
        },
    }


def server_service(name: str, namespace: str, engine: str) -> dict[str, Any]:
    """Return the ClusterIP Service in front of the server."""
    server = server_for(engine)
    ports = [{"name": "s3", "port": server.port, "targetPort": "s3", "protocol": "TCP"}]
    if server.metrics_port != server.port:
        ports.append({"name": "metrics", "port": server.metrics_port, "targetPort": "metrics"})
    return k8s.cluster_ip_service(server.app, APP_COMPONENT, namespace, ports, service_name=name)


BUCKET_SCRIPT = """set -eu
mc alias set store "$S3_ENDPOINT" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >/dev/null
for bucket in $BUCKETS; do
  mc mb --ignore-existing "store/$bucket"
done
"""


def bucket_job(name: str, namespace: str, *, endpoint: str, buckets: list[str]) -> dict[str, Any]:
    """Return a Job that creates the buckets idempotently (`mc mb --ignore-existing`)."""
    labels = k8s.labels(BUCKET_INIT, BUCKET_INIT)
    container = {
        "name": "mc",
        "image": versions.MC_IMAGE,
        "command": ["/bin/sh", "-c", BUCKET_SCRIPT],
        "env": [
            {"name": "S3_ENDPOINT", "value": endpoint},
            {"name": "BUCKETS", "value": " ".join(sorted(buckets))},
            # mc keeps its alias file here; the root filesystem is read-only.
            {"name": "MC_CONFIG_DIR", "value": f"{k8s.SCRATCH}/.mc"},
            k8s.env_credentials(ACCESS_KEY, CREDENTIALS_SECRET, ACCESS_KEY),
            k8s.env_credentials(SECRET_KEY, CREDENTIALS_SECRET, SECRET_KEY),
        ],
        "resources": k8s.resources(
            {"cpu": "50m", "memory": "64Mi"}, {"cpu": "200m", "memory": "128Mi"}
        ),
        "securityContext": k8s.container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": k8s.SCRATCH}],
    }
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": k8s.scan_skips(
                images=[versions.MC_IMAGE], env_credentials=BUCKET_JOB_ENV_CREDENTIALS
            ),
        },
        "spec": {
            # Retries cover the window where the server is still starting.
            "backoffLimit": 10,
            "template": {
                "metadata": {"labels": labels},
                "spec": k8s.pod_spec([container], restart_policy="OnFailure"),
            },
        },
    }
