"""Pure spec builders for the Monitoring component: chart values, Pushgateway, monitors, rules.

Job names are the contract names (`mlops_contract.metrics`): every monitor relabels `job` to its
contract name, so dashboards and alerts do not depend on Service or release names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlops_contract import kube, metrics
from mlops_contract.triggers import Triggers

from dashboards.generate import render_dashboard
from dashboards.panels import dashboards
from dashboards.rules import build_rule_files
from infra import k8s, versions
from infra.components.monitoring_targets import (
    PUSHGATEWAY,
    PUSHGATEWAY_COMPONENT,
    PUSHGATEWAY_PORT,
    RELEASE,
    ScrapeTarget,
    job_relabel,
)
from infra.components.secrets import PASSWORD_LENGTH, SecretSpec, SecretStoreArgs
from infra.config import MonitoringConfig

# Short object names (`kps-operator`, `kps-prometheus`, ...) instead of `<release>-kube-pro...`.
FULLNAME = "kps"
OPERATOR_SA = f"{FULLNAME}-operator"
GRAFANA_SA = "grafana"
DASHBOARD_LABEL = "grafana_dashboard"
ALERTMANAGER_CONFIG_KEY = "alertmanager.yaml"
ALERT_URL_VAR = "alert_webhook_url"
# Secret names (S105: names, not values) and the generated Grafana admin password's name.
GRAFANA_SECRET = "grafana-admin"  # noqa: S105
ALERTMANAGER_SECRET = "alertmanager-config"  # noqa: S105
GRAFANA_PASSWORD = "grafana_admin"  # noqa: S105
# Facts of the chart's pods (Helm-rendered, so not in the render): the Service the operator
# creates for every Prometheus and its web port, the operator's admission webhook port and the
# pod labels the chart sets on the operator and on Alertmanager.
PROMETHEUS_SERVICE = "prometheus-operated"
PROMETHEUS_PORT = 9090
OPERATOR_WEBHOOK_PORT = 10250
OPERATOR_PODS = {"app": "kube-prometheus-stack-operator"}
ALERTMANAGER_PODS = {kube.LABEL_NAME: "alertmanager"}
# The labels of the chart's pods that call the API server, at the pinned versions (checked in
# the chart templates and the operator source): the operator sets app.kubernetes.io/name
# `prometheus` on every Prometheus pod (service discovery lists Endpoints and Pods); the admission
# webhook's hook Jobs (create the certificate Secret, patch the webhook configurations) carry the
# webhook component label; kube-state-metrics lists every object it reports; Grafana's sidecars
# watch the dashboard and datasource ConfigMaps. Alertmanager and the Pushgateway never call it.
PROMETHEUS_PODS = {kube.LABEL_NAME: "prometheus"}
WEBHOOK_JOB_PODS = {kube.LABEL_COMPONENT: "prometheus-operator-webhook"}
KUBE_STATE_METRICS_PODS = {kube.LABEL_NAME: "kube-state-metrics"}
GRAFANA_PODS = {kube.LABEL_NAME: "grafana"}
# The Grafana sub-chart's Service (`<release>-grafana`: no fullnameOverride), its port and the
# container port behind it (what a NetworkPolicy admits).
GRAFANA_SERVICE = f"{RELEASE}-grafana"
GRAFANA_SERVICE_PORT = 80
GRAFANA_PORT = 3000

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


# The chart's CRD files (charts/crds/crds/ at the release tag), applied by Pulumi itself: Helm
# installs a chart's `crds/` once and never upgrades them, so a chart bump would run the new
# operator against old CRDs. Pulumi applies these files (server-side) on every change of the
# pin instead. The chart's own `crds.upgradeJob` is a preview feature whose busybox image
# defaults to `latest` and which needs a cluster-wide CRD-writing ServiceAccount in this
# namespace; the files below are the same CRDs, pinned by the chart's tag.
CRD_FILES = (
    "crd-alertmanagerconfigs.yaml",
    "crd-alertmanagers.yaml",
    "crd-podmonitors.yaml",
    "crd-probes.yaml",
    "crd-prometheusagents.yaml",
    "crd-prometheuses.yaml",
    "crd-prometheusrules.yaml",
    "crd-scrapeconfigs.yaml",
    "crd-servicemonitors.yaml",
    "crd-thanosrulers.yaml",
)
CRD_SOURCE = (
    "https://raw.githubusercontent.com/prometheus-community/helm-charts/"
    "kube-prometheus-stack-{version}/charts/kube-prometheus-stack/charts/crds/crds/{file}"
)


def crd_urls(version: str) -> list[str]:
    """Return the URL of each CRD file of the kube-prometheus-stack chart at version."""
    return [CRD_SOURCE.format(version=version, file=file) for file in CRD_FILES]


def _volume_claim(size: str, storage_class: str | None) -> dict[str, Any]:
    """A volumeClaimTemplate for the operator's StatefulSets (one claim per pod)."""
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"volumeClaimTemplate": {"spec": spec}}


def grafana_values(namespace: str, public_url: str | None = None) -> dict[str, Any]:
    """Return the Grafana sub-chart values: namespaced RBAC, dashboards from its own namespace.

    The chart's defaults (and kube-prometheus-stack's `searchNamespace: ALL`) make a ClusterRole
    that reads every ConfigMap and Secret in the cluster; the dashboards are ConfigMaps in this
    namespace, so a Role here is all the sidecars need.
    """
    values: dict[str, Any] = {
        "serviceAccount": {"create": True, "name": GRAFANA_SA},
        # A Role (and RoleBinding) in Grafana's namespace instead of the ClusterRole.
        "rbac": {"namespaced": True},
        "admin": {
            "existingSecret": GRAFANA_SECRET,
            "userKey": "admin-user",
            "passwordKey": "admin-password",
        },
        "resources": GRAFANA_RESOURCES,
        # Grafana's image writes outside its data volume (plugins, provisioning scratch);
        # `restricted` does not require a read-only root, so keep the chart's behaviour.
        **_restricted(472, read_only_root=False),
        "sidecar": {
            "dashboards": {
                "enabled": True,
                "label": DASHBOARD_LABEL,
                "labelValue": "1",
                # Only this namespace, the one the Role covers (the parent chart says ALL).
                "searchNamespace": [namespace],
            },
            "resources": SMALL_RESOURCES,
            "securityContext": container_context(),
        },
    }
    if public_url is not None:
        # Redirects and links use the public HTTPS address behind the Ingress.
        values["grafana.ini"] = {"server": {"root_url": public_url}}
    return values


def container_context() -> dict[str, Any]:
    """The restricted container securityContext the chart's containers get."""
    return k8s.container_security_context()


def chart_values(
    cfg: MonitoringConfig, namespace: str, grafana_url: str | None = None
) -> dict[str, Any]:
    """Return the kube-prometheus-stack values (credentials by Secret name only).

    grafana_url: Grafana's public URL when an Ingress publishes it (None: in-cluster only).
    """
    pod = k8s.pod_security_context(1000, fs_group=2000)
    container = container_context()
    return {
        "fullnameOverride": FULLNAME,
        # The CRDs are applied by the program (CRD_FILES), so that chart bumps upgrade them.
        "crds": {"enabled": False},
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
            # Prometheus scrapes itself as the contract job `prometheus`.
            "serviceMonitor": {
                "selfMonitor": True,
                "relabelings": job_relabel(metrics.JOB_PROMETHEUS),
            },
            "prometheusSpec": {
                "retention": cfg.retention,
                # Every monitor states its own interval too; these cover the rules and any
                # monitor without one.
                "scrapeInterval": cfg.scrape_interval,
                "evaluationInterval": cfg.scrape_interval,
                # The TSDB on a volume: history (and the drift/accuracy trends) survives restarts.
                "storageSpec": _volume_claim(cfg.storage_size, cfg.storage_class),
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
                "configSecret": ALERTMANAGER_SECRET,
                # Silences and the notification log survive restarts (no repeated pages).
                "storage": _volume_claim(cfg.alertmanager_storage_size, cfg.storage_class),
                "resources": SMALL_RESOURCES,
                "securityContext": pod,
            },
        },
        "grafana": grafana_values(namespace, grafana_url),
    }


@dataclass(frozen=True, kw_only=True)
class MonitoringEndpoints:
    """Who listens where in the monitoring namespace.

    Attributes:
        prometheus: the Prometheus pods and web port (retrain queries it; they scrape).
        pushgateway: the Pushgateway pods and port (retrain pushes to it).
        operator_webhook: the Prometheus Operator pods and their admission webhook port.
        alertmanager: the Alertmanager pods (they send to the receiver; they listen for
            nothing from outside the namespace).
        grafana: the Grafana pods and container port (an Ingress may publish it).
        api_clients: the pods that call the Kubernetes API, by name (ports unused).
    """

    prometheus: k8s.Endpoint
    pushgateway: k8s.Endpoint
    operator_webhook: k8s.Endpoint
    alertmanager: k8s.Endpoint
    grafana: k8s.Endpoint
    api_clients: dict[str, k8s.Endpoint]


def endpoints(namespace: str) -> MonitoringEndpoints:
    """Return the monitoring endpoints in namespace."""
    return MonitoringEndpoints(
        prometheus=k8s.Endpoint(
            namespace=namespace, pods=dict(PROMETHEUS_PODS), ports=(PROMETHEUS_PORT,)
        ),
        pushgateway=k8s.Endpoint(
            namespace=namespace,
            pods=k8s.selector_labels(PUSHGATEWAY, PUSHGATEWAY_COMPONENT),
            ports=(PUSHGATEWAY_PORT,),
        ),
        operator_webhook=k8s.Endpoint(
            namespace=namespace, pods=dict(OPERATOR_PODS), ports=(OPERATOR_WEBHOOK_PORT,)
        ),
        alertmanager=k8s.Endpoint(namespace=namespace, pods=dict(ALERTMANAGER_PODS), ports=()),
        grafana=k8s.Endpoint(namespace=namespace, pods=dict(GRAFANA_PODS), ports=(GRAFANA_PORT,)),
        api_clients={
            name: k8s.Endpoint(namespace=namespace, pods=dict(pods), ports=())
            for name, pods in (
                ("prometheus", PROMETHEUS_PODS),
                ("prometheus-operator", OPERATOR_PODS),
                ("operator-webhook-jobs", WEBHOOK_JOB_PODS),
                ("kube-state-metrics", KUBE_STATE_METRICS_PODS),
                ("grafana", GRAFANA_PODS),
            )
        },
    )


def prometheus_url(namespace: str) -> str:
    """Return the in-cluster Prometheus URL (PROMETHEUS_URL for retrain)."""
    return k8s.service_url(PROMETHEUS_SERVICE, namespace, PROMETHEUS_PORT)


def pushgateway_target(namespace: str) -> ScrapeTarget:
    """Return the contract job `pushgateway`; pushed series keep their own job label."""
    return ScrapeTarget(
        job=metrics.JOB_PUSHGATEWAY,
        namespace=namespace,
        selector=k8s.selector_labels(PUSHGATEWAY, PUSHGATEWAY_COMPONENT),
        port="http",
        honor_labels=True,
    )


def secret_args(cfg: MonitoringConfig, namespace: str) -> SecretStoreArgs:
    """Return Grafana's admin credentials and the Alertmanager config with the receiver URL."""
    receiver = cfg.alert_receiver
    return SecretStoreArgs(
        passwords={GRAFANA_PASSWORD: PASSWORD_LENGTH},
        provided={} if receiver is None else {ALERT_URL_VAR: receiver.value},
        secrets=(
            SecretSpec(
                name=GRAFANA_SECRET,
                namespace=namespace,
                data={"admin-user": "admin", "admin-password": f"${{{GRAFANA_PASSWORD}}}"},
                readers=(GRAFANA_SA,),
            ),
            # The operator reads it and renders the Alertmanager's config from it.
            SecretSpec(
                name=ALERTMANAGER_SECRET,
                namespace=namespace,
                data={ALERTMANAGER_CONFIG_KEY: alertmanager_config(receiver is not None)},
                readers=(OPERATOR_SA,),
            ),
        ),
    )


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
        "metadata": {
            "name": PUSHGATEWAY,
            "namespace": namespace,
            "labels": labels,
            "annotations": k8s.scan_skips(images=[versions.PUSHGATEWAY_IMAGE]),
        },
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


def dashboard_config_maps(namespace: str, triggers: Triggers) -> list[dict[str, Any]]:
    """Return one ConfigMap per dashboard, labelled for Grafana's sidecar.

    Built with the stack's triggers, so the quality panels draw their red lines where this
    stack's alerts fire (at the defaults the text equals the committed dashboards/grafana file).
    """
    return [
        {
            "metadata": {
                "name": k8s.name("dashboard", file_name.removesuffix(".json")),
                "namespace": namespace,
                "labels": {**k8s.labels("grafana", "dashboard"), DASHBOARD_LABEL: "1"},
            },
            "data": {file_name: render_dashboard(content)},
        }
        for file_name, content in sorted(dashboards(triggers).items())
    ]


def rule_groups(triggers: Triggers, hold: str) -> list[dict[str, Any]]:
    """Return every rule group, with the stack's trigger thresholds and hold time (`for:`)."""
    files = build_rule_files(triggers, hold)
    return [group for name in sorted(files) for group in files[name]["groups"]]


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
    return k8s.service_url(PUSHGATEWAY, namespace, PUSHGATEWAY_PORT)
