"""ModelServing: the model server that follows the registry alias (Deployment, HPA, PDB)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from infra import k8s
from infra.components.kube import manifest_args
from infra.config import ServingConfig

NAME = "serving"
COMPONENT = "model-server"
PORT = 8080
# Scale out before a pod saturates: one uvicorn worker per pod, so CPU tracks load directly.
CPU_TARGET_PERCENT = 70


@dataclass(frozen=True, kw_only=True)
class ModelServingArgs:
    """Image, model and size.

    Attributes:
        namespace: the serving namespace.
        image: the pinned serving image (a digest ref once built and pushed).
        image_version: its version, for the app.kubernetes.io/version label.
        model_name: registered model name (MODEL_NAME).
        tracking_uri: MLflow tracking URI (artifacts are proxied; no S3 keys needed).
        config: replicas, alias, poll interval, resources.
        depends_on: namespace (and the MLflow server it talks to).
    """

    namespace: str
    image: pulumi.Input[str]
    image_version: str
    model_name: str
    tracking_uri: str
    config: ServingConfig
    depends_on: tuple[pulumi.Resource, ...] = ()


def deployment(args: ModelServingArgs) -> dict[str, Any]:
    """Return the serving Deployment (one uvicorn worker per pod; scale by replicas)."""
    cfg = args.config
    labels = k8s.labels(NAME, COMPONENT, args.image_version)
    container = {
        "name": NAME,
        "image": args.image,
        "command": ["uvicorn", "serving.main:app"],
        "args": ["--host", "0.0.0.0", "--port", str(PORT), "--workers", "1"],  # noqa: S104
        "env": [
            {"name": "MLFLOW_TRACKING_URI", "value": args.tracking_uri},
            {"name": "MODEL_NAME", "value": args.model_name},
            {"name": "MODEL_ALIAS", "value": cfg.model_alias},
            {"name": "MODEL_POLL_INTERVAL_SECONDS", "value": str(cfg.poll_interval_seconds)},
            {"name": "HOME", "value": k8s.SCRATCH},
        ],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "readinessProbe": k8s.http_probe("/readyz", "http", period=5),
        "livenessProbe": k8s.http_probe("/healthz", "http", period=20, delay=10),
        # Loading the first model can take a while; do not kill the pod meanwhile.
        "startupProbe": {**k8s.http_probe("/healthz", "http", period=5), "failureThreshold": 60},
        "resources": k8s.resources(
            cfg.resources.requests.model_dump(), cfg.resources.limits.model_dump()
        ),
        "securityContext": k8s.container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": k8s.SCRATCH}],
    }
    return {
        "metadata": {"name": NAME, "namespace": args.namespace, "labels": labels},
        "spec": {
            "replicas": cfg.replicas,
            "selector": {"matchLabels": k8s.selector_labels(NAME, COMPONENT)},
            # Never drop below the desired count during a rollout: surge first.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": k8s.pod_spec([container], service_account=NAME),
            },
        },
    }


def service(namespace: str) -> dict[str, Any]:
    """Return the ClusterIP Service `serving` on port 8080."""
    return k8s.cluster_ip_service(NAME, COMPONENT, namespace, [k8s.http_service_port(PORT)])


def autoscaler(namespace: str, cfg: ServingConfig) -> dict[str, Any]:
    """Return a CPU-based HorizontalPodAutoscaler between replicas and maxReplicas."""
    return {
        "metadata": {"name": NAME, "namespace": namespace, "labels": k8s.labels(NAME, COMPONENT)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
            "minReplicas": cfg.replicas,
            "maxReplicas": cfg.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": CPU_TARGET_PERCENT},
                    },
                }
            ],
        },
    }


class ModelServing(pulumi.ComponentResource):
    """Serving Deployment + Service, an HPA when it may scale, a PDB when replicated."""

    service_url: str

    def __init__(
        self, name: str, args: ModelServingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the serving workload."""
        super().__init__("mlops:index:ModelServing", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        ns, cfg = args.namespace, args.config
        kubernetes.core.v1.ServiceAccount(
            f"{name}-sa",
            opts=child,
            **manifest_args(
                {"metadata": {"name": NAME, "namespace": ns}, "automountServiceAccountToken": False}
            ),
        )
        kubernetes.apps.v1.Deployment(
            f"{name}-deployment", opts=child, **manifest_args(deployment(args))
        )
        kubernetes.core.v1.Service(f"{name}-service", opts=child, **manifest_args(service(ns)))
        if cfg.max_replicas > cfg.replicas:
            kubernetes.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-hpa", opts=child, **manifest_args(autoscaler(ns, cfg))
            )
        if cfg.replicas > 1:
            kubernetes.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                opts=child,
                **manifest_args(k8s.disruption_budget(NAME, COMPONENT, ns, max_unavailable=1)),
            )
        self.service_url = f"http://{NAME}.{ns}.svc.cluster.local:{PORT}"
        self.register_outputs({"serviceUrl": self.service_url})
