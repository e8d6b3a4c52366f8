"""A small, correct stack of hand-written manifests that every rule accepts.

Tests deep-copy it, break one field and assert the rule that guards the field reports it.
"""

import copy
from typing import Any

NS = "ml"
RELEASE = "kps"


def _container(name: str, image: str, *, probes: bool = True) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "image": image,
        "ports": [{"name": "http", "containerPort": 8080}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "env": [
            {"name": "MODEL_NAME", "value": "traffic"},
            {
                "name": "DB_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "pg-app", "key": "password"}},
            },
            {
                "name": "BACKEND_URI",
                "value": "postgresql://$(DB_USER):$(DB_PASSWORD)@pg-rw:5432/app",
            },
            {
                "name": "SETTINGS",
                "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "level"}},
            },
        ],
    }
    if probes:
        spec["readinessProbe"] = {"httpGet": {"path": "/readyz", "port": "http"}}
        spec["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"}}
    return spec


def _pod_spec(*, probes: bool = True) -> dict[str, Any]:
    return {
        "serviceAccountName": "serving",
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [
            _container("migrate", "ghcr.io/mlflow/mlflow:v3.1.0-full", probes=False)
        ],
        "containers": [_container("app", "registry.local:5000/serving:1.0.0", probes=probes)],
        "volumes": [
            {
                "name": "config",
                "configMap": {"name": "settings", "items": [{"key": "level", "path": "l"}]},
            },
            {"name": "tmp", "emptyDir": {}},
        ],
    }


def stack() -> list[dict[str, Any]]:
    """A fresh copy of the correct stack."""
    labels = {"app.kubernetes.io/name": "serving"}
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": NS,
                "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": NS},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "serving", "namespace": NS},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": NS},
            "data": {"level": "info"},
        },
        {
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Cluster",
            "metadata": {"name": "pg", "namespace": NS},
            "spec": {"instances": 1, "storage": {"size": "1Gi"}},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "serving", "namespace": NS, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": _pod_spec()},
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "retrain", "namespace": NS},
            "spec": {
                "schedule": "0 3 * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "metadata": {"labels": {"app.kubernetes.io/name": "retrain"}},
                            "spec": {**_pod_spec(probes=False), "restartPolicy": "Never"},
                        }
                    }
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "serving", "namespace": NS, "labels": labels},
            "spec": {
                "selector": labels,
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "serving", "namespace": NS},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}},
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "serving", "namespace": NS},
            "spec": {
                "scaleTargetRef": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "serving",
                },
                "minReplicas": 1,
                "maxReplicas": 3,
            },
        },
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": "serving", "namespace": NS, "labels": {"release": RELEASE}},
            "spec": {"selector": {"matchLabels": labels}, "endpoints": [{"port": "http"}]},
        },
    ]
    return copy.deepcopy(objects)


def helm_resources() -> list[dict[str, Any]]:
    """resources.json entries: the kube-prometheus-stack release named RELEASE."""
    return [
        {
            "type": "kubernetes:helm.sh/v3:Release",
            "name": "monitoring",
            "parent": None,
            "inputs": {"chart": "kube-prometheus-stack", "name": RELEASE, "version": "77.0.0"},
        }
    ]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The first object of `kind` (and `name`) in the list."""
    return next(
        obj
        for obj in objects
        if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name)
    )


def deployment() -> dict[str, Any]:
    """A fresh correct Deployment."""
    return find(stack(), "Deployment")


def app_container(obj: dict[str, Any]) -> dict[str, Any]:
    """The regular container of the Deployment (to break one of its fields)."""
    container: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
    return container
