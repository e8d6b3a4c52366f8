"""NetworkPolicies: default-deny in every platform namespace, plus exactly the flows needed.

Every port, pod selector and namespace here comes from the component that owns it (its published
endpoints); this module only says which flows are allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
from mlops_contract.kube import NAMESPACE_NAME_LABEL

from infra import k8s
from infra.components.kube import manifest_args
from infra.components.monitoring_specs import MonitoringEndpoints
from infra.components.objectstore_specs import ObjectStoreEndpoints
from infra.components.postgres import PostgresEndpoints

# The API server is not a pod, so no selector matches it; its address differs per cluster.
# Narrow this to the control-plane CIDR in a fork that knows it. Services outside the cluster
# (an external S3, the alert webhook) have no narrower peer either.
API_SERVER = {"ipBlock": {"cidr": "0.0.0.0/0"}}
API_PORTS = (443, 6443)
DNS_PORT = 53
# Where the alert webhook listens: HTTPS, or HTTP for a receiver inside a private network.
WEBHOOK_PORTS = (443, 80)


@dataclass(frozen=True, kw_only=True)
class NetworkPoliciesArgs:
    """The endpoints between which traffic flows, as their owners publish them.

    Attributes:
        training: the training namespace (its pods are clients only).
        serving: the model server (its namespace is the serving namespace).
        mlflow: the tracking server (its namespace is the platform namespace).
        postgres: the database cluster and its operator (the operator namespace).
        object_store: the S3 API, the server's metrics and the bucket Job.
        monitoring: Prometheus, the Pushgateway, the operator and Alertmanager (the monitoring
            namespace).
        alert_receiver: True when Alertmanager sends to a webhook outside the cluster.
        mlflow_admin: the MLflow auth setup Job's pods (platform namespace), which call MLflow.
        depends_on: the namespaces.
    """

    training: str
    serving: k8s.Endpoint
    mlflow: k8s.Endpoint
    postgres: PostgresEndpoints
    object_store: ObjectStoreEndpoints
    monitoring: MonitoringEndpoints
    alert_receiver: bool = False
    mlflow_admin: k8s.Endpoint | None = None
    depends_on: tuple[pulumi.Resource, ...] = ()

    @property
    def platform(self) -> str:
        """The platform namespace: where MLflow runs."""
        return home(self.mlflow)

    @property
    def monitoring_ns(self) -> str:
        """The monitoring namespace: where Prometheus runs."""
        return home(self.monitoring.prometheus)

    def all_namespaces(self) -> list[str]:
        """Every namespace the platform creates."""
        namespaces = (
            self.platform,
            self.training,
            home(self.serving),
            self.monitoring_ns,
            home(self.postgres.operator),
        )
        return list(dict.fromkeys(namespaces))


def home(endpoint: k8s.Endpoint) -> str:
    """The namespace of an in-cluster endpoint (where its policies live)."""
    if endpoint.namespace is None:
        raise ValueError(f"{endpoint} is outside the cluster: it has no namespace")
    return endpoint.namespace


def _ports(*ports: int, protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"port": p, "protocol": protocol} for p in dict.fromkeys(ports)]


def _ns(name: str, pods: dict[str, str] | None = None) -> dict[str, Any]:
    peer: dict[str, Any] = {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}}
    if pods is not None:
        peer["podSelector"] = {"matchLabels": pods}
    return peer


def _peer(endpoint: k8s.Endpoint) -> dict[str, Any]:
    if endpoint.namespace is None:
        return API_SERVER
    return _ns(endpoint.namespace, endpoint.pods)


def _to(endpoint: k8s.Endpoint) -> dict[str, Any]:
    """An egress rule to an endpoint's pods on its ports."""
    return {"to": [_peer(endpoint)], "ports": _ports(*endpoint.ports)}


def _policy(name: str, ns: str, pods: dict[str, str] | None, **rules: Any) -> dict[str, Any]:
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


def baseline(ns: str) -> list[dict[str, Any]]:
    """Return default-deny (ingress and egress) and DNS egress for one namespace."""
    dns = _ns("kube-system", {"k8s-app": "kube-dns"})
    return [
        _policy("default-deny", ns, {}, ingress=[], egress=[]),
        _policy(
            "allow-dns",
            ns,
            {},
            egress=[{"to": [dns], "ports": _ports(DNS_PORT) + _ports(DNS_PORT, protocol="UDP")}],
        ),
    ]


def _admin_egress(args: NetworkPoliciesArgs) -> list[dict[str, Any]]:
    """The MLflow auth setup Job to MLflow (it creates the identities as the admin)."""
    admin = args.mlflow_admin
    if admin is None:
        return []
    return [_policy("mlflow-auth-setup-egress", home(admin), admin.pods, egress=[_to(args.mlflow)])]


def platform_policies(args: NetworkPoliciesArgs) -> list[dict[str, Any]]:
    """Return the flows of the platform namespace: MLflow, Postgres, the object store."""
    mlflow, pg, store = args.mlflow, args.postgres, args.object_store
    # With backups, the backup sidecar in the database pods writes base backups and WAL to S3.
    backups = pg.backup_plugin is not None
    clients = [_ns(args.training), _ns(home(args.serving)), _ns(args.monitoring_ns)]
    if args.mlflow_admin is not None:
        clients.append(_peer(args.mlflow_admin))
    result = [
        _policy(
            "mlflow-ingress",
            home(mlflow),
            mlflow.pods,
            ingress=[{"from": clients, "ports": _ports(*mlflow.ports)}],
        ),
        _policy(
            "mlflow-egress", home(mlflow), mlflow.pods, egress=[_to(pg.clients), _to(store.api)]
        ),
        _policy(
            "postgres",
            home(pg.clients),
            pg.clients.pods,
            ingress=[
                {"from": [_peer(mlflow)], "ports": _ports(*pg.clients.ports)},
                {"from": [_peer(pg.peers)], "ports": _ports(*pg.peers.ports)},
                {"from": [_ns(home(pg.operator))], "ports": _ports(*pg.peers.ports)},
                {"from": [_ns(args.monitoring_ns)], "ports": _ports(*pg.metrics.ports)},
            ],
            egress=[
                _to(pg.peers),
                # The instance manager in every Postgres pod watches its Cluster object.
                {"to": [API_SERVER], "ports": _ports(*API_PORTS)},
                *([_to(store.api)] if backups else []),
            ],
        ),
        *_admin_egress(args),
        _policy(
            "bucket-init-egress",
            home(store.bucket_init),
            store.bucket_init.pods,
            egress=[_to(store.api)],
        ),
    ]
    if store.metrics is not None:
        # Serving's pods write the inference log; training reads it and writes snapshots.
        writers = [_peer(mlflow), _peer(store.bucket_init), _ns(args.training), _peer(args.serving)]
        if backups:
            writers.append(_peer(pg.clients))
        result.append(
            _policy(
                "object-store-ingress",
                home(store.api),
                store.api.pods,
                ingress=[
                    {"from": writers, "ports": _ports(*store.api.ports)},
                    {"from": [_ns(args.monitoring_ns)], "ports": _ports(*store.metrics.ports)},
                ],
            )
        )
    return result


def scrape_egress(args: NetworkPoliciesArgs) -> list[dict[str, Any]]:
    """Return Prometheus's egress to every scraped endpoint, one rule per namespace."""
    scraped = [args.mlflow, args.postgres.metrics, args.object_store.metrics, args.serving]
    ports: dict[str, list[int]] = {}
    for endpoint in scraped:
        if endpoint is not None:
            ports.setdefault(home(endpoint), []).extend(endpoint.ports)
    return [{"to": [_ns(ns)], "ports": _ports(*found)} for ns, found in ports.items()]


def app_policies(args: NetworkPoliciesArgs) -> list[dict[str, Any]]:
    """Return the flows of the training, serving, monitoring and operator namespaces."""
    mon, serving, operator = args.monitoring, args.serving, args.postgres.operator
    plugin = args.postgres.backup_plugin
    to_mlflow = _to(args.mlflow)
    # Prometheus runs in chart pods whose labels the platform does not set: the whole namespace.
    retrain_ports = _ports(*mon.prometheus.ports, *mon.pushgateway.ports)
    return [
        _policy(
            "training-egress",
            args.training,
            {},
            egress=[
                to_mlflow,
                _to(args.object_store.api),
                {"to": [_ns(args.monitoring_ns)], "ports": retrain_ports},
            ],
        ),
        # The registry (models) and the object store (the inference log), nothing else.
        _policy(
            "serving-egress", home(serving), {}, egress=[to_mlflow, _to(args.object_store.api)]
        ),
        # Serving is the product's API: any client namespace (or ingress controller) may call it.
        _policy("serving-ingress", home(serving), {}, ingress=[{"ports": _ports(*serving.ports)}]),
        _policy(
            "monitoring-internal",
            args.monitoring_ns,
            {},
            ingress=[
                {"from": [{"podSelector": {}}]},
                {"from": [_ns(args.training)], "ports": retrain_ports},
            ],
            egress=[{"to": [{"podSelector": {}}]}],
        ),
        _policy(
            "prometheus-scrape",
            args.monitoring_ns,
            {},
            egress=[
                *scrape_egress(args),
                # Prometheus discovers targets through the API server.
                {"to": [API_SERVER], "ports": _ports(*API_PORTS)},
            ],
        ),
        _policy(
            "operator",
            home(operator),
            {},
            # The API server calls the operator's admission webhook.
            ingress=[{"ports": _ports(*operator.ports)}],
            egress=[
                {"to": [API_SERVER], "ports": _ports(*API_PORTS)},
                _to(args.postgres.peers),
                # The operator calls the Barman Cloud plugin (CNPG-I over gRPC).
                *([_to(plugin)] if plugin is not None else []),
            ],
        ),
        *(
            [
                _policy(
                    "backup-plugin",
                    home(plugin),
                    plugin.pods,
                    ingress=[{"from": [_ns(home(operator))], "ports": _ports(*plugin.ports)}],
                )
            ]
            if plugin is not None
            else []
        ),
    ]


def monitoring_policies(args: NetworkPoliciesArgs) -> list[dict[str, Any]]:
    """Return the chart's own flows: the operator's admission webhook, alert delivery."""
    mon = args.monitoring
    webhook = mon.operator_webhook
    result = [
        _policy(
            "operator-webhook",
            home(webhook),
            webhook.pods,
            # The API server calls the Prometheus Operator's admission webhook.
            ingress=[{"ports": _ports(*webhook.ports)}],
        )
    ]
    if args.alert_receiver:
        result.append(
            _policy(
                "alertmanager-egress",
                home(mon.alertmanager),
                mon.alertmanager.pods,
                # The webhook receiver is outside the cluster; its address is a secret.
                egress=[{"to": [API_SERVER], "ports": _ports(*WEBHOOK_PORTS)}],
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
