"""ObjectStore: the S3 endpoint (in-cluster MinIO or SeaweedFS, or external) and its buckets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from infra import k8s
from infra.components import objectstore_specs as specs
from infra.components.kube import manifest_args
from infra.components.monitoring_targets import ScrapeTarget
from infra.config import ObjectStoreConfig


@dataclass(frozen=True, kw_only=True)
class ObjectStoreArgs:
    """Engine and buckets.

    Attributes:
        namespace: the platform namespace (server and bucket Job run here).
        config: the stack's objectStore settings.
        depends_on: resources that must exist first (namespace, the Secrets of
            `objectstore_specs.secret_args`).
        backups_bucket: the database backups' bucket (another component owns it; None: no
            backups); the bucket Job creates it with the store's own, and its identity exists
            only then.
        protect: protect the server's volume and retain it on delete (it holds every bucket).
    """

    namespace: str
    config: ObjectStoreConfig
    depends_on: tuple[pulumi.Resource, ...] = ()
    backups_bucket: str | None = None
    protect: bool = False


class ObjectStore(pulumi.ComponentResource):
    """An S3 endpoint plus the MLflow-artifacts, datasets and inference-log buckets (a Job).

    Published facts: url (the S3 endpoint URL), port, credentials_secret(identity) (the Secret
    with one identity's keys, in that consumer's namespace), buckets (by role),
    inference_log_bucket, in_cluster, endpoints, scrape_target (None for an external S3), ready
    (the bucket Job: the store is usable once it succeeded).
    """

    url: str
    port: int
    buckets: dict[str, str]
    inference_log_bucket: str
    in_cluster: bool
    endpoints: specs.ObjectStoreEndpoints
    scrape_target: ScrapeTarget | None
    ready: pulumi.Resource

    def __init__(
        self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the server (unless external) and the bucket Job that waits for it."""
        cfg = args.config
        super().__init__("mlops:index:ObjectStore", name, None, opts)
        ns = args.namespace
        self.url = specs.url(cfg, ns)
        self.endpoints = specs.endpoints(cfg, ns)
        self.port = self.endpoints.api.ports[0]
        self.in_cluster = cfg.engine != "external"
        self.scrape_target = specs.scrape_target(cfg, ns)
        extra = {} if args.backups_bucket is None else {"postgresBackups": args.backups_bucket}
        self.buckets = {**specs.buckets(cfg), **extra}
        if len(set(self.buckets.values())) != len(self.buckets):
            raise ValueError(
                f"ObjectStoreArgs.backups_bucket: one bucket named twice in {self.buckets}"
            )
        self.inference_log_bucket = cfg.inference_log_bucket
        job_deps: list[pulumi.Resource] = list(args.depends_on)
        server_name = specs.service_name(cfg.engine)
        if server_name is not None:
            job_deps.append(self._server(name, server_name, args))
        job_deps.append(self._service_account(f"{name}-buckets-sa", specs.BUCKET_INIT, args))
        self.ready = kubernetes.batch.v1.Job(
            f"{name}-buckets",
            opts=pulumi.ResourceOptions(parent=self, depends_on=job_deps),
            **manifest_args(
                specs.bucket_job(
                    k8s.name(server_name or "s3", "buckets"),
                    ns,
                    endpoint=self.url,
                    buckets=list(self.buckets.values()),
                    engine=cfg.engine,
                    consumers=specs.identities(cfg, args.backups_bucket),
                )
            ),
        )
        self.register_outputs({"endpoint": self.url, "buckets": self.buckets})

    @staticmethod
    def credentials_secret(identity: str) -> str:
        """Return the Secret with `identity`'s keys (objectstore_identities names them)."""
        return specs.credentials_secret(identity)

    def _service_account(self, name: str, account: str, args: ObjectStoreArgs) -> pulumi.Resource:
        return kubernetes.core.v1.ServiceAccount(
            name,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
            **manifest_args(
                {
                    "metadata": {"name": account, "namespace": args.namespace},
                    # The pod never talks to the Kubernetes API.
                    "automountServiceAccountToken": False,
                }
            ),
        )

    def _server(self, name: str, server_name: str, args: ObjectStoreArgs) -> pulumi.Resource:
        ns = args.namespace
        deps = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        self._service_account(f"{name}-sa", server_name, args)
        # The claim holds every bucket: deleting it deletes the artifacts and the backups.
        claim = kubernetes.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            opts=pulumi.ResourceOptions.merge(
                deps, pulumi.ResourceOptions(protect=args.protect, retain_on_delete=args.protect)
            ),
            **manifest_args(specs.pvc(server_name, ns, args.config)),
        )
        deployment = kubernetes.apps.v1.Deployment(
            f"{name}-server",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[claim, *args.depends_on]),
            **manifest_args(specs.server_deployment(server_name, ns, args.config)),
        )
        kubernetes.core.v1.Service(
            f"{name}-service",
            opts=deps,
            **manifest_args(specs.server_service(server_name, ns, args.config.engine)),
        )
        return deployment
