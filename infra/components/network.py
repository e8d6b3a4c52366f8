"""NetworkPolicies: default-deny in every platform namespace, plus exactly the flows needed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from infra import k8s
from infra.components import mlflow
from infra.components.kube import manifest_args
from infra.components.postgres import CLUSTER_LABEL
from infra.components.postgres import PORT as POSTGRES_PORT

NS_LABEL = "kubernetes.io/metadata.name"
# The API server is not a pod, so no selector matches it; its address differs per cluster.
# Narrow this to the control-plane CIDR in a fork that knows it.
API_SERVER = {"ipBlock": {"cidr": "0.0.0.0/0"}}
API_PORTS = (443, 6443)
CNPG_STATUS_PORT = 8000
CNPG_METRICS_PORT = 9187
CNPG_WEBHOOK_PORT = 9443
SERVING_PORT = 8080
PROMETHEUS_PORT = 9090
PUSHGATEWAY_PORT = 9091
OBJECT_STORE = {"app.kubernetes.io/component": "object-store"}
# kube-prometheus-stack pods (Helm-rendered, so not in the render: labels from the chart).
OPERATOR_PODS = {"app": "kube-prometheus-stack-operator"}
ALERTMANAGER_PODS = {"app.kubernetes.io/name": "alertmanager"}
OPERATOR_WEBHOOK_PORT = 10250
BUCKET_INIT = {"app.kubernetes.io/name": "bucket-init"}


@dataclass(frozen=True, kw_only=True)
class NetworkPoliciesArgs:
    """Namespaces and the endpoints between them.

    Attributes:
        platform, training, serving, monitoring, operator: namespace names.
        postgres_cluster: CloudNativePG cluster name (its pods carry cnpg.io/cluster).
        s3_in_cluster: False for an external S3 (egress then goes out of the cluster).
        s3_ports: S3 API port, then any metrics port of the in-cluster server.
        alert_receiver: True when Alertmanager sends to a webhook outside the cluster.
        depends_on: the namespaces.
    """

    platform: str
    training: str
    serving: str
    monitoring: str
    operator: str
    postgres_cluster: str
    s3_in_cluster: bool
    s3_ports: tuple[int, ...]
    alert_receiver: bool = False
    depends_on: tuple[pulumi.Resource, ...] = ()

    def all_namespaces(self) -> list[str]:
        """Every namespace the platform creates."""
        return [self.platform, self.training, self.serving, self.monitoring, self.operator]


def _ports(*ports: int, protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"port": p, "protocol": protocol} for p in ports]


def _ns(name: str, pods: dict[str, str] | None = None) -> dict[str, Any]:
    peer: dict[str, Any] = {"namespaceSelector": {"matchLabels": {NS_LABEL: name}}}
    if pods is not None:
        peer["podSelector"] = {"matchLabels": pods}
    return peer


def _policy(name: str, ns: str, pods: dict[str, str], **rules: Any) -> dict[str, Any]:
    types = [t for t, key in (("Ingress", "ingress"), ("Egress", "egress")) if key in rules]
    return {
        "metadata": {
            "name": k8s.name(name),
            "namespace": ns,
            "labels": k8s.labels("network", name),
        },
        "spec": {
            "podSelector": {"matchLabels": pods} if pods else {},
            "policyTypes": types,
            **rules,
        },
    }


def _s3_egress(args: NetworkPoliciesArgs) -> dict[str, Any]:
    if args.s3_in_cluster:
        return {"to": [_ns(args.platform, OBJECT_STORE)], "ports": _ports(args.s3_ports[0])}
    return {"to": [API_SERVER], "ports": _ports(args.s3_ports[0])}


def baseline(ns: str) -> list[dict[str, Any]]:
    """Return default-deny (ingress and egress) and DNS egress for one namespace."""
    dns = _ns("kube-system", {"k8s-app": "kube-dns"})
    return [
        _policy("default-deny", ns, {}, ingress=[], egress=[]),
        _policy(
            "allow-dns",
            ns,
            {},
            egress=[{"to": [dns], "ports": _ports(53) + _ports(53, protocol="UDP")}],
        ),
    ]


def platform_policies(args: NetworkPoliciesArgs) -> list[dict[str, Any]]:
    """Return the flows of the platform namespace: MLflow, Postgres, the object store."""
    ns, mlflow_pods = args.platform, k8s.selector_labels(mlflow.NAME, mlflow.COMPONENT)
    pg_pods = {CLUSTER_LABEL: args.postgres_cluster}
    clients = [_ns(args.training), _ns(args.serving), _ns(args.monitoring)]
    result = [
        _policy(
            "mlflow-ingress",
            ns,
            mlflow_pods,
            ingress=[{"from": clients, "ports": _ports(mlflow.PORT)}],
        ),
        _policy(
            "mlflow-egress",
            ns,
            mlflow_pods,
            egress=[
                {"to": [_ns(ns, pg_pods)], "ports": _ports(POSTGRES_PORT)},
                _s3_egress(args),
            ],
        ),
        _policy(
            "postgres",
            ns,
            pg_pods,
            ingress=[
                {"from": [_ns(ns, mlflow_pods)], "ports": _ports(POSTGRES_PORT)},
                {"from": [_ns(ns, pg_pods)], "ports": _ports(POSTGRES_PORT, CNPG_STATUS_PORT)},
                {"from": [_ns(args.operator)], "ports": _ports(POSTGRES_PORT, CNPG_STATUS_PORT)},
                {"from": [_ns(args.monitoring)], "ports": _ports(CNPG_METRICS_PORT)},
            ],
            egress=[
                {"to": [_ns(ns, pg_pods)], "ports": _ports(POSTGRES_PORT, CNPG_STATUS_PORT)},
                # The instance manager in every Postgres pod watches its Cluster object.
                {"to": [API_SERVER], "ports": _ports(*API_PORTS)},
            ],
        ),
        _policy("bucket-init-egress", ns, BUCKET_INIT, egress=[_s3_egress(args)]),
    ]
    if args.s3_in_cluster:
        writers = [_ns(ns, mlflow_pods), _ns(ns, BUCKET_INIT), _ns(args.training)]
        result.append(
            _policy(
                "object-store-ingress",
                ns,
                OBJECT_STORE,
                ingress=[
                    {"from": writers, "ports": _ports(args.s3_ports[0])},
                    {"from": [_ns(args.monitoring)], "ports": _ports(*args.s3_ports)},
                ],
            )
        )
    return result


def app_policies(args: NetworkPoliciesArgs) -> list[dict[str, Any]]:
    """Return the flows of the training, serving, monitoring and operator namespaces."""
    mlflow_peer = _ns(args.platform, k8s.selector_labels(mlflow.NAME, mlflow.COMPONENT))
    to_mlflow = {"to": [mlflow_peer], "ports": _ports(mlflow.PORT)}
    pg_peer = _ns(args.platform, {CLUSTER_LABEL: args.postgres_cluster})
    mon = args.monitoring
    return [
        _policy(
            "training-egress",
            args.training,
            {},
            egress=[
                to_mlflow,
                _s3_egress(args),
                {"to": [_ns(mon)], "ports": _ports(PROMETHEUS_PORT, PUSHGATEWAY_PORT)},
            ],
        ),
        _policy("serving-egress", args.serving, {}, egress=[to_mlflow]),
        # Serving is the product's API: any client namespace (or ingress controller) may call it.
        _policy("serving-ingress", args.serving, {}, ingress=[{"ports": _ports(SERVING_PORT)}]),
        _policy(
            "monitoring-internal",
            mon,
            {},
            ingress=[
                {"from": [{"podSelector": {}}]},
                {"from": [_ns(args.training)], "ports": _ports(PROMETHEUS_PORT, PUSHGATEWAY_PORT)},
            ],
            egress=[{"to": [{"podSelector": {}}]}],
        ),
        _policy(
            "prometheus-scrape",
            mon,
            {},
            egress=[
                {
                    "to": [_ns(args.platform)],
                    "ports": _ports(mlflow.PORT, CNPG_METRICS_PORT, *args.s3_ports),
                },
                {"to": [_ns(args.serving)], "ports": _ports(SERVING_PORT)},
                # Prometheus discovers targets through the API server.
                {"to": [API_SERVER], "ports": _ports(*API_PORTS)},
            ],
        ),
        _policy(
            "operator",
            args.operator,
            {},
            # The API server calls the operator's admission webhook.
            ingress=[{"ports": _ports(CNPG_WEBHOOK_PORT)}],
            egress=[
                {"to": [API_SERVER], "ports": _ports(*API_PORTS)},
                {"to": [pg_peer], "ports": _ports(POSTGRES_PORT, CNPG_STATUS_PORT)},
            ],
        ),
    ]


def monitoring_policies(args: NetworkPoliciesArgs) -> list[dict[str, Any]]:
    """Return the chart's own flows: the operator's admission webhook, alert delivery."""
    mon = args.monitoring
    result = [
        _policy(
            "operator-webhook",
            mon,
            OPERATOR_PODS,
            # The API server calls the Prometheus Operator's admission webhook.
            ingress=[{"ports": _ports(OPERATOR_WEBHOOK_PORT)}],
        )
    ]
    if args.alert_receiver:
        result.append(
            _policy(
                "alertmanager-egress",
                mon,
                ALERTMANAGER_PODS,
                # The webhook receiver is outside the cluster; its address is a secret.
                egress=[{"to": [API_SERVER], "ports": _ports(443, 80)}],
            )
        )
    return result


def all_policies(args: NetworkPoliciesArgs) -> list[dict[str, Any]]:
    """Return every NetworkPolicy manifest (metadata + spec)."""
    result = [p for ns in args.all_namespaces() for p in baseline(ns)]
    return result + platform_policies(args) + app_policies(args) + monitoring_policies(args)


class NetworkPolicies(pulumi.ComponentResource):
    """Default-deny per namespace plus the flows the MLOps loop needs."""

    names: list[str]

    def __init__(
        self, name: str, args: NetworkPoliciesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create one NetworkPolicy per rule from all_policies(args)."""
        policies = all_policies(args)
        super().__init__("mlops:index:NetworkPolicies", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        self.names = []
        for policy in policies:
            meta = policy["metadata"]
            full = f"{meta['namespace']}/{meta['name']}"
            kubernetes.networking.v1.NetworkPolicy(
                f"{name}-{meta['namespace']}-{meta['name']}", opts=child, **manifest_args(policy)
            )
            self.names.append(full)
        self.register_outputs({"policies": self.names})
