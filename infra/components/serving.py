"""ModelServing: the model server that follows the registry alias (Deployment, HPA, PDB).

Its name, port and routes are the contract's (`mlops_contract.serving`), read when a spec is
built, never copied at import: the Deployment, Service, NetworkPolicies and ServiceMonitor all
follow one value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
from mlops_contract import env, metrics
from mlops_contract import serving as contract

from infra import k8s
from infra.components import mlflow_auth
from infra.components.kube import ServiceFacts, manifest_args, service_workload
from infra.components.monitoring_targets import ScrapeTarget
from infra.config import ServingConfig

# Scale out before a pod saturates: one uvicorn worker per pod, so CPU tracks load directly.
CPU_TARGET_PERCENT = 70


@dataclass(frozen=True, kw_only=True)
class InferenceLogArgs:
    """Where serving writes its inference log (docs/inference-log.md), as the ObjectStore says.

    Attributes:
        bucket: the inference-log bucket (INFERENCE_LOG_BUCKET).
        endpoint: the S3 endpoint URL (INFERENCE_LOG_ENDPOINT_URL).
        region: the S3 region (AWS_DEFAULT_REGION).
        credentials_secret: Secret in the serving namespace whose keys are AWS_ACCESS_KEY_ID and
            AWS_SECRET_ACCESS_KEY (taken by envFrom, never copied).
    """

    bucket: str
    endpoint: str
    region: str
    credentials_secret: str


@dataclass(frozen=True, kw_only=True)
class ModelServingArgs:
    """Image, model and size.

    Attributes:
        namespace: the serving namespace.
        image: the pinned serving image (a digest ref once built and pushed).
        image_version: its version, for the app.kubernetes.io/version label.
        model_name: registered model name (MODEL_NAME).
        model_alias: the registry alias to follow (MODEL_ALIAS; the one training moves).
        tracking_uri: MLflow tracking URI (artifacts are proxied: models need no S3 keys).
        config: replicas, poll interval, resources.
        inference_log: where every replica writes its predictions and labels (None: the log
            is off).
        depends_on: namespace (and the MLflow server it talks to).
    """

    namespace: str
    image: pulumi.Input[str]
    image_version: str
    model_name: str
    model_alias: str
    tracking_uri: str
    config: ServingConfig
    inference_log: InferenceLogArgs | None = None
    depends_on: tuple[pulumi.Resource, ...] = ()


def service_account() -> str:
    """Return the serving ServiceAccount (the only reader of serving's S3 credentials)."""
    return contract.NAME


def log_env(log: InferenceLogArgs | None) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """Return the inference log's variables and envFrom (both empty when the log is off)."""
    if log is None:
        return [], []
    variables = [
        {"name": env.INFERENCE_LOG_BUCKET, "value": log.bucket},
        {"name": env.INFERENCE_LOG_ENDPOINT_URL, "value": log.endpoint},
        {"name": env.AWS_DEFAULT_REGION, "value": log.region},
    ]
    # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, by reference only.
    return variables, [{"secretRef": {"name": log.credentials_secret}}]


def pods() -> dict[str, str]:
    """Return the selector labels of the serving pods."""
    return k8s.selector_labels(contract.NAME, contract.COMPONENT)


def endpoint(namespace: str) -> k8s.Endpoint:
    """Return the serving pods and their HTTP port (the model API and /metrics)."""
    return k8s.Endpoint(namespace=namespace, pods=pods(), ports=(contract.PORT,))


def url(namespace: str) -> str:
    """Return the in-cluster URL of the serving Service."""
    return k8s.service_url(contract.NAME, namespace, contract.PORT)


def scrape_target(namespace: str) -> ScrapeTarget:
    """Return the contract job `serving`: /metrics on the Service's named HTTP port."""
    return ScrapeTarget(
        job=metrics.JOB_SERVING,
        namespace=namespace,
        selector=pods(),
        port=contract.PORT_NAME,
        path=contract.METRICS_PATH,
    )


# Why the Checkov check "secrets as files, not env" is skipped when the inference log is on.
ENV_CREDENTIALS = (
    "boto3 reads the inference-log S3 keys from env (envFrom the Secret, never literals) in a "
    "one-process non-root container"
)


def deployment(args: ModelServingArgs) -> dict[str, Any]:
    """Return the serving Deployment (one uvicorn worker per pod; scale by replicas)."""
    cfg, name, port = args.config, contract.NAME, contract.PORT_NAME
    labels = k8s.labels(name, contract.COMPONENT, args.image_version)
    log_variables, log_secrets = log_env(args.inference_log)
    container: dict[str, Any] = {
        "name": name,
        "image": args.image,
        "command": ["uvicorn", "serving.main:app"],
        "args": ["--host", "0.0.0.0", "--port", str(contract.PORT), "--workers", "1"],  # noqa: S104
        "env": [
            {"name": env.MLFLOW_TRACKING_URI, "value": args.tracking_uri},
            # The `serving` identity: READ on the model and its runs, nothing else.
            *mlflow_auth.identity_env(),
            {"name": env.MODEL_NAME, "value": args.model_name},
            {"name": env.MODEL_ALIAS, "value": args.model_alias},
            {"name": env.MODEL_POLL_INTERVAL_SECONDS, "value": str(cfg.poll_interval_seconds)},
            *log_variables,
            {"name": "HOME", "value": k8s.SCRATCH},
        ],
        "ports": [{"name": port, "containerPort": contract.PORT, "protocol": "TCP"}],
        "readinessProbe": k8s.http_probe(contract.READY_PATH, port, period=5),
        "livenessProbe": k8s.http_probe(contract.HEALTH_PATH, port, period=20, delay=10),
        # Loading the first model can take a while; do not kill the pod meanwhile.
        "startupProbe": {
            **k8s.http_probe(contract.HEALTH_PATH, port, period=5),
            "failureThreshold": 60,
        },
        "resources": k8s.resources(
            cfg.resources.requests.model_dump(), cfg.resources.limits.model_dump()
        ),
        "securityContext": k8s.container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": k8s.SCRATCH}],
    }
    if log_secrets:
        container["envFrom"] = log_secrets
    env_credentials = ENV_CREDENTIALS if log_secrets else None
    return {
        "metadata": {
            "name": name,
            "namespace": args.namespace,
            "labels": labels,
            # The ref is known once built and pushed (a digest then): annotate from its value.
            "annotations": pulumi.Output.from_input(args.image).apply(
                lambda image: k8s.scan_skips(images=[image], env_credentials=env_credentials)
            ),
        },
        "spec": {
            "replicas": cfg.replicas,
            "selector": {"matchLabels": pods()},
            # Never drop below the desired count during a rollout: surge first.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": k8s.pod_spec([container], service_account=name),
            },
        },
    }


def service(namespace: str) -> dict[str, Any]:
    """Return the ClusterIP Service `serving` on the contract port."""
    port = k8s.http_service_port(contract.PORT, contract.PORT_NAME)
    return k8s.cluster_ip_service(contract.NAME, contract.COMPONENT, namespace, [port])


def autoscaler(namespace: str, cfg: ServingConfig) -> dict[str, Any]:
    """Return a CPU-based HorizontalPodAutoscaler between replicas and maxReplicas."""
    name = contract.NAME
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": k8s.labels(name, contract.COMPONENT),
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
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
    """Serving Deployment + Service, an HPA when it may scale, a PDB when replicated.

    Published facts: `facts` (ServiceFacts) and `url`.
    """

    facts: ServiceFacts
    url: str

    def __init__(
        self, name: str, args: ModelServingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the serving workload."""
        super().__init__("mlops:index:ModelServing", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        ns, cfg = args.namespace, args.config
        self.facts = ServiceFacts(
            service_name=contract.NAME,
            port=contract.PORT,
            url=url(ns),
            pods=pods(),
            service_account=service_account(),
            endpoint=endpoint(ns),
            scrape_target=scrape_target(ns),
        )
        self.url = self.facts.url
        budget = k8s.disruption_budget(contract.NAME, contract.COMPONENT, ns, max_unavailable=1)
        service_workload(
            name,
            child,
            namespace=ns,
            service_account=self.facts.service_account,
            manifests=(deployment(args), service(ns)),
            budget=budget if cfg.replicas > 1 else None,
        )
        if cfg.max_replicas > cfg.replicas:
            kubernetes.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-hpa", opts=child, **manifest_args(autoscaler(ns, cfg))
            )
        self.register_outputs({"serviceUrl": self.url})
