"""Pure spec builders for the Monitoring component: chart values, Pushgateway, monitors, rules.

Job names are the contract names (docs/contracts.md): every monitor relabels `job` to its
contract name, so dashboards and alerts do not depend on Service or release names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from infra import k8s, versions
from infra.components.monitoring_targets import (
    PUSHGATEWAY,
    PUSHGATEWAY_COMPONENT,
    PUSHGATEWAY_PORT,
    RELEASE,
    job_relabel,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO_ROOT / "dashboards" / "grafana"
RULES_DIR = REPO_ROOT / "dashboards" / "rules"

# Short object names (`kps-operator`, `kps-prometheus`, ...) instead of `<release>-kube-pro...`.
FULLNAME = "kps"
OPERATOR_SA = f"{FULLNAME}-operator"
GRAFANA_SA = "grafana"
DASHBOARD_LABEL = "grafana_dashboard"
ALERTMANAGER_CONFIG_KEY = "alertmanager.yaml"
ALERT_URL_VAR = "alert_webhook_url"
PROMETHEUS_PORT = 9090
OPERATOR_WEBHOOK_PORT = 10250

# Sized for the platform's handful of targets; Prometheus memory grows with series, not pods.
PROMETHEUS_RESOURCES = {
    "requests": {"cpu": "200m", "memory": "512Mi"},
    "limits": {"cpu": "1", "memory": "2Gi"},
}
SMALL_RESOURCES = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"cpu": "200m", "memory": "256Mi"},
}
GRAFANA_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "512Mi"},
}


def _restricted(uid: int, *, read_only_root: bool = True) -> dict[str, Any]:
    """Pod and container securityContexts for chart values (restricted Pod Security)."""
    return {
        "securityContext": k8s.pod_security_context(uid, fs_group=uid),
        "containerSecurityContext": k8s.container_security_context(read_only_root=read_only_root),
    }


def chart_values(
    *, retention: str, grafana_secret: str, alertmanager_secret: str
) -> dict[str, Any]:
    """Return the kube-prometheus-stack values (credentials by Secret name only)."""
    pod = k8s.pod_security_context(1000, fs_group=2000)
    container = k8s.container_security_context()
    return {
        "fullnameOverride": FULLNAME,
        "crds": {"enabled": True},
        # node-exporter needs hostNetwork/hostPID/hostPath: impossible under `restricted`.
        "nodeExporter": {"enabled": False},
        # Cluster-component monitors and rules target the control plane this platform does not
        # own; the platform ships its own rules (dashboards/rules).
        "defaultRules": {"create": False},
        "kubeStateMetrics": {"enabled": True},
        "kube-state-metrics": {
            "resources": SMALL_RESOURCES,
            "securityContext": {**pod, "runAsUser": 65534, "runAsGroup": 65534, "fsGroup": 65534},
            "containerSecurityContext": container,
        },
        "prometheusOperator": {
            "serviceAccount": {"create": True, "name": OPERATOR_SA},
            "resources": SMALL_RESOURCES,
            "securityContext": pod,
            "containerSecurityContext": container,
            # Kept on: helm.v3.Release runs the hook Jobs that mint the webhook certificates.
            "admissionWebhooks": {
                "enabled": True,
                "patch": {"enabled": True, "securityContext": {**pod, "runAsUser": 2000}},
                "createSecretJob": {"securityContext": container},
                "patchWebhookJob": {"securityContext": container},
            },
        },
        "prometheus": {
            # Prometheus scrapes itself as job "prometheus" (docs/contracts.md).
            "serviceMonitor": {"selfMonitor": True, "relabelings": job_relabel("prometheus")},
            "prometheusSpec": {
                "retention": retention,
                # Only monitors and rules labelled `release: <RELEASE>` (the chart default,
                # stated here because the policy pack checks every monitor for that label).
                "ruleSelectorNilUsesHelmValues": True,
                "serviceMonitorSelectorNilUsesHelmValues": True,
                "podMonitorSelectorNilUsesHelmValues": True,
                "resources": PROMETHEUS_RESOURCES,
                "securityContext": pod,
            },
        },
        "alertmanager": {
            "alertmanagerSpec": {
                # The config (with the receiver's URL) lives in a Secret the SecretStore owns.
                "useExistingSecret": True,
                "configSecret": alertmanager_secret,
                "resources": SMALL_RESOURCES,
                "securityContext": pod,
            },
        },
        "grafana": {
            "serviceAccount": {"create": True, "name": GRAFANA_SA},
            "admin": {
                "existingSecret": grafana_secret,
                "userKey": "admin-user",
                "passwordKey": "admin-password",
            },
            "resources": GRAFANA_RESOURCES,
            # Grafana's image writes outside its data volume (plugins, provisioning scratch);
            # `restricted` does not require a read-only root, so keep the chart's behaviour.
            **_restricted(472, read_only_root=False),
            "sidecar": {
                "dashboards": {"enabled": True, "label": DASHBOARD_LABEL, "labelValue": "1"},
                "resources": SMALL_RESOURCES,
                "securityContext": container,
            },
        },
    }


def alertmanager_config(has_receiver: bool) -> str:
    """Return alertmanager.yaml (JSON is YAML); `${alert_webhook_url}` filled by SecretStore.

    Without a receiver (dev) alerts route to a receiver that sends nothing: they are visible in
    the Alertmanager and Prometheus UIs only.
    """
    receivers: list[dict[str, Any]] = [{"name": "null"}]
    route: dict[str, Any] = {
        "receiver": "null",
        "group_by": ["alertname", "job"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
    }
    if has_receiver:
        webhook = {"url": f"${{{ALERT_URL_VAR}}}", "send_resolved": True}
        receivers.append({"name": "platform", "webhook_configs": [webhook]})
        route["receiver"] = "platform"
    return json.dumps({"route": route, "receivers": receivers}, indent=2, sort_keys=True)


def pushgateway_deployment(namespace: str) -> dict[str, Any]:
    """Return the Pushgateway Deployment (in-memory: a lost push is re-sent by the next run)."""
    labels = k8s.labels(
        PUSHGATEWAY, PUSHGATEWAY_COMPONENT, versions.PUSHGATEWAY_IMAGE.split(":")[-1]
    )
    container = {
        "name": PUSHGATEWAY,
        "image": versions.PUSHGATEWAY_IMAGE,
        "args": [f"--web.listen-address=:{PUSHGATEWAY_PORT}"],
        "ports": [{"name": "http", "containerPort": PUSHGATEWAY_PORT, "protocol": "TCP"}],
        "readinessProbe": k8s.http_probe("/-/ready", "http"),
        "livenessProbe": k8s.http_probe("/-/healthy", "http", period=20),
        "resources": k8s.resources(SMALL_RESOURCES["requests"], SMALL_RESOURCES["limits"]),
        "securityContext": k8s.container_security_context(),
    }
    return {
        "metadata": {"name": PUSHGATEWAY, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": k8s.selector_labels(PUSHGATEWAY, PUSHGATEWAY_COMPONENT)},
            "template": {
                "metadata": {"labels": labels},
                # The image's user is `nobody`; it writes nothing, so no scratch volume.
                "spec": k8s.pod_spec([container], uid=65534, volumes=[]),
            },
        },
    }


def pushgateway_service(namespace: str) -> dict[str, Any]:
    """Return the ClusterIP Service `pushgateway` on 9091."""
    return k8s.cluster_ip_service(
        PUSHGATEWAY, PUSHGATEWAY_COMPONENT, namespace, [k8s.http_service_port(PUSHGATEWAY_PORT)]
    )


def dashboard_config_maps(namespace: str, folder: Path = DASHBOARDS_DIR) -> list[dict[str, Any]]:
    """Return one ConfigMap per dashboards/grafana/*.json, labelled for Grafana's sidecar."""
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise ValueError(f"no dashboards in {folder}: run `python -m dashboards.generate`")
    result = []
    for path in paths:
        json.loads(path.read_text(encoding="utf-8"))  # fail the render on a broken file
        result.append(
            {
                "metadata": {
                    "name": k8s.name("dashboard", path.stem),
                    "namespace": namespace,
                    "labels": {**k8s.labels("grafana", "dashboard"), DASHBOARD_LABEL: "1"},
                },
                "data": {path.name: path.read_text(encoding="utf-8")},
            }
        )
    return result


def rule_groups(folder: Path = RULES_DIR) -> list[dict[str, Any]]:
    """Return the groups of every dashboards/rules/*.yaml, files in sorted order."""
    groups: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        found = document.get("groups")
        if not isinstance(found, list):
            raise ValueError(f"{path}: a Prometheus rule file needs a top-level `groups:` list")
        groups += found
    if not groups:
        raise ValueError(f"no rule groups in {folder}: run `python -m dashboards.generate`")
    return groups


def prometheus_rule(namespace: str, groups: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the one PrometheusRule holding every platform alert and recording rule."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "mlops-platform-rules",
            "namespace": namespace,
            "labels": {**k8s.labels("monitoring", "rules"), "release": RELEASE},
        },
        "spec": {"groups": groups},
    }


def pushgateway_url(namespace: str) -> str:
    """Return the in-cluster Pushgateway URL (PUSHGATEWAY_URL)."""
    return f"http://{PUSHGATEWAY}.{namespace}.svc.cluster.local:{PUSHGATEWAY_PORT}"
