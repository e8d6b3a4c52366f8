"""Pure spec builders for the ObjectStore component (MinIO, SeaweedFS, the bucket Job)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mlops_contract import env, metrics

from infra import k8s, versions
from infra.components import objectstore_identities as ids
from infra.components.monitoring_targets import ScrapeTarget
from infra.components.secrets import SecretSpec, SecretStoreArgs
from infra.config import ObjectStoreConfig

APP_COMPONENT = "object-store"
# Each credentials Secret's keys are the AWS SDK's variable names, so clients take it by envFrom.
ACCESS_KEY = env.AWS_ACCESS_KEY_ID
SECRET_KEY = env.AWS_SECRET_ACCESS_KEY
# SeaweedFS's identity file (built from every identity's keys); S105: a name, not a value.
CONFIG_SECRET = "seaweedfs-s3-config"  # noqa: S105
# AWS-like lengths of the generated keys (20-character id, 40-character secret).
ACCESS_KEY_LENGTH = 20
SECRET_KEY_LENGTH = 40
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


def credentials_secret(identity: str) -> str:
    """Return the name of the Secret holding one identity's S3 key pair (in its namespace)."""
    return k8s.name("s3", identity, "credentials")


def key_values(identity: str) -> ids.KeyPair:
    """Return the SecretStore value names of one identity's key pair."""
    base = f"s3_{identity.replace('-', '_')}"
    return ids.KeyPair(access_key=f"{base}_access_key", secret_key=f"{base}_secret_key")


def _templates(identity: str) -> ids.KeyPair:
    names = key_values(identity)
    return ids.KeyPair(access_key=f"${{{names.access_key}}}", secret_key=f"${{{names.secret_key}}}")


def identities(cfg: ObjectStoreConfig, backups_bucket: str | None) -> tuple[ids.Identity, ...]:
    """Return the consumer identities of cfg's buckets (and the backups bucket, if any)."""
    return ids.consumers(
        artifacts=cfg.artifacts_bucket,
        datasets=cfg.datasets_bucket,
        inference_log_bucket=cfg.inference_log_bucket,
        backups=backups_bucket,
    )


def seaweedfs_identities(consumers: tuple[ids.Identity, ...]) -> str:
    """Return the SeaweedFS S3 identity file template (`${var}` filled by SecretStore)."""
    names = [ids.ADMIN, *(c.name for c in consumers)]
    return ids.seaweedfs_config({n: _templates(n) for n in names}, consumers)


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


@dataclass(frozen=True, kw_only=True)
class Consumer:
    """Where one identity's key is read: its namespace and the ServiceAccounts reading it."""

    identity: str
    namespace: str
    readers: tuple[str, ...]


def _key_sources(cfg: ObjectStoreConfig, names: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    """Return (generated, provided) key values: generated in-cluster, from config if external."""
    passwords: dict[str, int] = {}
    provided: dict[str, str] = {}
    for name in names:
        values = key_values(name)
        if cfg.engine != "external":
            passwords[values.access_key] = ACCESS_KEY_LENGTH
            passwords[values.secret_key] = SECRET_KEY_LENGTH
            continue
        if name == ids.ADMIN:
            assert cfg.access_key_id is not None  # noqa: S101  # validated by config
            assert cfg.secret_access_key is not None  # noqa: S101
            pair = (cfg.access_key_id, cfg.secret_access_key.value)
        else:
            assert cfg.keys is not None  # noqa: S101  # validated by config
            given = getattr(cfg.keys, name.replace("-", "_"))
            assert given is not None  # noqa: S101  # validated by config
            pair = (given.access_key_id, given.secret_access_key.value)
        provided[values.access_key], provided[values.secret_key] = pair
    return passwords, provided


def admin_secret_data(engine: str, consumers: Iterable[str]) -> dict[str, str]:
    """Return the bucket Job's Secret: the admin key, plus (MinIO) the users it creates."""
    admin = _templates(ids.ADMIN)
    data = {ACCESS_KEY: admin.access_key, SECRET_KEY: admin.secret_key}
    if engine == "minio":
        for name in consumers:
            pair = _templates(name)
            data[user_env(name, "ACCESS")] = pair.access_key
            data[user_env(name, "SECRET")] = pair.secret_key
    return data


def secret_args(
    cfg: ObjectStoreConfig,
    namespace: str,
    consumers: Iterable[Consumer],
    backups_bucket: str | None = None,
) -> SecretStoreArgs:
    """Return every identity's S3 key (generated, or from config for an external S3).

    Each consumer's Secret holds only its own key, in its own namespace; the admin key is in
    the bucket Job's Secret only (and in SeaweedFS's identity file, which the server reads).

    Args:
        cfg: the stack's objectStore settings.
        namespace: where the server and the bucket Job run.
        consumers: each identity's namespace and reading ServiceAccounts.
        backups_bucket: the database backups' bucket (its identity exists only then).
    """
    wanted = list(consumers)
    known = identities(cfg, backups_bucket)
    # Every identity gets its key (the server's identity file names them all), placed or not.
    names = [ids.ADMIN, *(i.name for i in known)]
    unknown = sorted({c.identity for c in wanted} - set(names))
    if unknown:
        raise ValueError(
            f"objectstore_specs.secret_args: no S3 identity {unknown} (known: {names})"
        )
    passwords, provided = _key_sources(cfg, names)
    server = service_name(cfg.engine)
    admin_readers = (BUCKET_INIT,) if server is None else tuple(sorted({BUCKET_INIT, server}))
    secrets = [
        SecretSpec(
            name=credentials_secret(ids.ADMIN),
            namespace=namespace,
            data=admin_secret_data(cfg.engine, [c.identity for c in wanted]),
            readers=admin_readers,
        )
    ]
    for consumer in wanted:
        pair = _templates(consumer.identity)
        secrets.append(
            SecretSpec(
                name=credentials_secret(consumer.identity),
                namespace=consumer.namespace,
                data={ACCESS_KEY: pair.access_key, SECRET_KEY: pair.secret_key},
                readers=tuple(sorted(consumer.readers)),
            )
        )
    if cfg.engine == "seaweedfs":
        secrets.append(
            SecretSpec(
                name=CONFIG_SECRET,
                namespace=namespace,
                data={SEAWEEDFS_CONFIG_KEY: seaweedfs_identities(known)},
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
    admin = credentials_secret(ids.ADMIN)
    env = [
        # MinIO's root user is the admin identity: only the server and the bucket Job see it.
        k8s.env_credentials("MINIO_ROOT_USER", admin, ACCESS_KEY),
        k8s.env_credentials("MINIO_ROOT_PASSWORD", admin, SECRET_KEY),
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


def user_env(identity: str, part: str) -> str:
    """Return the bucket Job's variable for one MinIO user's ACCESS, SECRET or POLICY."""
    return f"S3_{identity.upper().replace('-', '_')}_{part}"


def minio_user_script(identity: str) -> str:
    """Return the shell lines that (re)create one consumer's MinIO policy and user.

    Each command is idempotent: `policy create` replaces the policy, `user add` updates the
    user's secret, and `policy attach` accepts an existing attachment (mc since 2024-10).
    """
    policy = ids.policy_name(identity)
    path = f"{k8s.SCRATCH}/{policy}.json"
    access, secret, document = (user_env(identity, p) for p in ("ACCESS", "SECRET", "POLICY"))
    return (
        f'printf "%s" "${document}" > {path}\n'
        f"mc admin policy create store {policy} {path}\n"
        f'mc admin user add store "${access}" "${secret}"\n'
        f'mc admin policy attach store {policy} --user "${access}"\n'
    )


def _minio_users(
    consumers: tuple[ids.Identity, ...], secret: str
) -> tuple[str, list[dict[str, Any]]]:
    script = ""
    env: list[dict[str, Any]] = []
    for identity in consumers:
        script += minio_user_script(identity.name)
        for part in ("ACCESS", "SECRET"):
            var = user_env(identity.name, part)
            env.append(k8s.env_credentials(var, secret, var))
        document = json.dumps(ids.policy_document(identity), sort_keys=True)
        env.append({"name": user_env(identity.name, "POLICY"), "value": document})
    return script, env


def bucket_job(
    name: str,
    namespace: str,
    *,
    endpoint: str,
    buckets: list[str],
    engine: str = "seaweedfs",
    consumers: tuple[ids.Identity, ...] = (),
) -> dict[str, Any]:
    """Return a Job that creates the buckets idempotently (`mc mb --ignore-existing`).

    It is the only workload with the admin key. On MinIO it also creates one user per
    consumer with its policy; SeaweedFS reads its identities from its config file.
    """
    labels = k8s.labels(BUCKET_INIT, BUCKET_INIT)
    admin = credentials_secret(ids.ADMIN)
    script, users_env = _minio_users(consumers, admin) if engine == "minio" else ("", [])
    container = {
        "name": "mc",
        "image": versions.MC_IMAGE,
        "command": ["/bin/sh", "-c", BUCKET_SCRIPT + script],
        "env": [
            {"name": "S3_ENDPOINT", "value": endpoint},
            {"name": "BUCKETS", "value": " ".join(sorted(buckets))},
            # mc keeps its alias file here; the root filesystem is read-only.
            {"name": "MC_CONFIG_DIR", "value": f"{k8s.SCRATCH}/.mc"},
            k8s.env_credentials(ACCESS_KEY, admin, ACCESS_KEY),
            k8s.env_credentials(SECRET_KEY, admin, SECRET_KEY),
            *users_env,
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
                "spec": k8s.pod_spec(
                    [container], service_account=BUCKET_INIT, restart_policy="OnFailure"
                ),
            },
        },
    }
