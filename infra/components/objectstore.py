"""ObjectStore: the S3 endpoint (in-cluster MinIO or SeaweedFS, or external) and its buckets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from infra import k8s
from infra.components import objectstore_specs as specs
from infra.components.kube import manifest_args
from infra.config import ObjectStoreConfig


@dataclass(frozen=True, kw_only=True)
class ObjectStoreArgs:
    """Engine, buckets and credentials.

    Attributes:
        namespace: the platform namespace (server and bucket Job run here).
        config: the stack's objectStore settings.
        credentials_secret: Secret (in namespace) with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
        config_secret: SeaweedFS only: Secret holding its S3 identity file.
        depends_on: resources that must exist first (namespace, Secrets).
    """

    namespace: str
    config: ObjectStoreConfig
    credentials_secret: str
    config_secret: str | None = None
    depends_on: tuple[pulumi.Resource, ...] = ()


def service_name(engine: str) -> str | None:
    """Return the in-cluster Service name for an engine, None for external."""
    return None if engine == "external" else specs.server_for(engine).app


def endpoint_for(cfg: ObjectStoreConfig, namespace: str) -> str:
    """Return the S3 endpoint URL clients use."""
    service = service_name(cfg.engine)
    if service is None:
        assert cfg.endpoint is not None  # noqa: S101  # config validation guarantees it
        return cfg.endpoint
    return specs.in_cluster_endpoint(cfg.engine, service, namespace)


class ObjectStore(pulumi.ComponentResource):
    """An S3 endpoint plus the MLflow-artifacts and datasets buckets, created by a Job."""

    endpoint: str
    port: int
    credentials_secret: str
    buckets: dict[str, str]
    in_cluster: bool
    ready: pulumi.Resource

    def __init__(
        self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the server (unless external) and the bucket Job that waits for it."""
        cfg = args.config
        if cfg.engine == "seaweedfs" and not args.config_secret:
            raise ValueError("ObjectStoreArgs.config_secret is required for engine 'seaweedfs'")
        super().__init__("mlops:index:ObjectStore", name, None, opts)
        ns = args.namespace
        self.endpoint = endpoint_for(cfg, ns)
        self.in_cluster = cfg.engine != "external"
        self.credentials_secret = args.credentials_secret
        self.buckets = {"artifacts": cfg.artifacts_bucket, "datasets": cfg.datasets_bucket}
        job_deps: list[pulumi.Resource] = list(args.depends_on)
        server_name = service_name(cfg.engine)
        if server_name is not None:
            self.port = specs.server_for(cfg.engine).port
            job_deps.append(self._server(name, server_name, args))
        else:
            self.port = 443 if self.endpoint.startswith("https://") else 80
        self.ready = kubernetes.batch.v1.Job(
            f"{name}-buckets",
            opts=pulumi.ResourceOptions(parent=self, depends_on=job_deps),
            **manifest_args(
                specs.bucket_job(
                    k8s.name(server_name or "s3", "buckets"),
                    ns,
                    endpoint=self.endpoint,
                    credentials_secret=args.credentials_secret,
                    buckets=list(self.buckets.values()),
                )
            ),
        )
        self.register_outputs(
            {"endpoint": self.endpoint, "buckets": self.buckets, "secret": self.credentials_secret}
        )

    def _server(self, name: str, server_name: str, args: ObjectStoreArgs) -> pulumi.Resource:
        ns = args.namespace
        deps = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        kubernetes.core.v1.ServiceAccount(
            f"{name}-sa",
            opts=deps,
            **manifest_args(
                {
                    "metadata": {"name": server_name, "namespace": ns},
                    # The server never talks to the Kubernetes API.
                    "automountServiceAccountToken": False,
                }
            ),
        )
        claim = kubernetes.core.v1.PersistentVolumeClaim(
            f"{name}-data", opts=deps, **manifest_args(specs.pvc(server_name, ns, args.config))
        )
        deployment = kubernetes.apps.v1.Deployment(
            f"{name}-server",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[claim, *args.depends_on]),
            **manifest_args(
                specs.server_deployment(
                    server_name,
                    ns,
                    args.config,
                    credentials_secret=args.credentials_secret,
                    config_secret=args.config_secret,
                )
            ),
        )
        kubernetes.core.v1.Service(
            f"{name}-service",
            opts=deps,
            **manifest_args(specs.server_service(server_name, ns, args.config.engine)),
        )
        return deployment
