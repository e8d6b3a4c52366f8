"""NetworkPolicies: default-deny in every platform namespace, plus exactly the flows needed.

Every port, pod selector and namespace here comes from the component that owns it (its published
endpoints); this module only says which flows are allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
from mlops_contract.kube import NAMESPACE_NAME_LABEL

from infra import k8s
from infra.components.certmanager import CertManagerEndpoints
from infra.components.kube import manifest_args
from infra.components.monitoring_specs import MonitoringEndpoints
from infra.components.objectstore_specs import ObjectStoreEndpoints
from infra.components.openbao import OpenbaoEndpoints
from infra.components.postgres import PostgresEndpoints

# Services outside the cluster (an external S3, the alert webhook) have no narrower peer.
OUTSIDE = {"ipBlock": {"cidr": "0.0.0.0/0"}}
# The API server is not a pod, so no selector matches it: its addresses come from config
# (`network.controlPlaneCidrs`) and only the pods that call it get this egress.
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
        secret_store: OpenBao and its operator (`secrets.provider: openbao`), else None.
        control_plane: the API server's CIDR blocks (config `network.controlPlaneCidrs`).
        gateway_namespace: the namespace allowed to call serving besides Prometheus (None:
            none).
        ingress_controller: the ingress controller's namespace when an Ingress publishes
            something (None: no Ingress).
        published: the endpoints an Ingress routes to, by name (the controller may reach them).
        cert_manager: cert-manager's namespace and webhook, when the program installs it.
        mlflow_admin: the MLflow auth setup Job's pods (platform namespace), which call MLflow.
        mlflow_metrics: the tracking server's metrics sidecar port (Prometheus scrapes it, not
            the authenticated API port); None: Prometheus scrapes the API port.
        depends_on: the namespaces.
    """

    training: str
    serving: k8s.Endpoint
    mlflow: k8s.Endpoint
    postgres: PostgresEndpoints
    object_store: ObjectStoreEndpoints
    monitoring: MonitoringEndpoints
    alert_receiver: bool = False
    secret_store: OpenbaoEndpoints | None = None
    control_plane: tuple[str, ...] = ("0.0.0.0/0",)
    gateway_namespace: str | None = None
    ingress_controller: str | None = None
    published: dict[str, k8s.Endpoint] = field(default_factory=dict)
    cert_manager: CertManagerEndpoints | None = None
    mlflow_admin: k8s.Endpoint | None = None
    mlflow_metrics: k8s.Endpoint | None = None
    depends_on: tuple[pulumi.Resource, ...] = ()

    def api_clients(self) -> dict[str, k8s.Endpoint]:
        """Every pod set that calls the Kubernetes API, by name, as its owner publishes it."""
        return {**self.monitoring.api_clients, **self.postgres.api_clients}

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
        namespaces: tuple[str, ...] = (
            self.platform,
            self.training,
            home(self.serving),
            self.monitoring_ns,
            home(self.postgres.operator),
        )
        if self.secret_store is not None:
            namespaces += (home(self.secret_store.openbao), home(self.secret_store.operator))
        if self.cert_manager is not None:
            namespaces += (self.cert_manager.namespace,)
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
        return OUTSIDE
    return _ns(endpoint.namespace, endpoint.pods)


def _to(endpoint: k8s.Endpoint) -> dict[str, Any]:
    """An egress rule to an endpoint's pods on its ports."""
    return {"to": [_peer(endpoint)], "ports": _ports(*endpoint.ports)}


def _to_api_server(control_plane: tuple[str, ...]) -> dict[str, Any]:
    """Return the egress rule to the API server: its ports, at the control-plane CIDRs only."""
    peers = [{"ipBlock": {"cidr": cidr}} for cidr in control_plane]
    return {"to": peers, "ports": _ports(*API_PORTS)}


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
    clients = [_ns(args.training), _ns(home(args.serving))]
    if args.mlflow_admin is not None:
        clients.append(_peer(args.mlflow_admin))
    prometheus = [_peer(args.monitoring.prometheus)]
    if args.mlflow_metrics is None:
        mlflow_ingress = [{"from": clients + prometheus, "ports": _ports(*mlflow.ports)}]
    else:
        # The API port for the apps; the metrics sidecar for Prometheus only.
        mlflow_ingress = [
            {"from": clients, "ports": _ports(*mlflow.ports)},
            {"from": prometheus, "ports": _ports(*args.mlflow_metrics.ports)},
        ]
    result = [
        _policy("mlflow-ingress", home(mlflow), mlflow.pods, ingress=mlflow_ingress),
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
            # The instance managers' API calls: api_policies.
            egress=[_to(pg.peers), *([_to(store.api)] if backups else [])],
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
    scraped = [
        args.mlflow_metrics or args.mlflow,
        args.postgres.metrics,
        args.object_store.metrics,
        args.serving,
    ]
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
    # Retrain queries Prometheus and pushes to the Pushgateway: their ports, namespace-wide.
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
        # The model API and /metrics: Prometheus and the configured gateway only (the Ingress's
        # controller has its own policy), so no other pod can send /feedback.
        _policy(
            "serving-ingress",
            home(serving),
            {},
            ingress=[{"from": serving_clients(args), "ports": _ports(*serving.ports)}],
        ),
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
        # Its service discovery's API calls: api_policies.
        _policy(
            "prometheus-scrape", args.monitoring_ns, mon.prometheus.pods, egress=scrape_egress(args)
        ),
        _policy(
            "operator",
            home(operator),
            {},
            # The API server calls the operator's admission webhook.
            ingress=[{"ports": _ports(*operator.ports)}],
            # The operator's and the plugin's API calls: api_policies.
            egress=[
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
                egress=[{"to": [OUTSIDE], "ports": _ports(*WEBHOOK_PORTS)}],
            )
        )
    return result


def secret_store_policies(
    store: OpenbaoEndpoints | None, control_plane: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Return the flows of OpenBao and its operator: only the controller calls OpenBao.

    Every operator pod watches the API server, whose webhook calls reach the operator's webhook;
    OpenBao calls the API server to review the operator's ServiceAccount token at login.
    """
    if store is None:
        return []
    bao, operator = store.openbao, store.operator
    # The API server's webhook calls may come from a node address rather than the control-plane
    # range (CNI-dependent), so webhook ingress is by port only, as for the Prometheus Operator's.
    return [
        _policy(
            "openbao",
            home(bao),
            bao.pods,
            ingress=[{"from": [_peer(store.controller)], "ports": _ports(*bao.ports)}],
            egress=[_to_api_server(control_plane)],
        ),
        _policy(
            "external-secrets",
            home(operator),
            operator.pods,
            ingress=[{"ports": _ports(*operator.ports)}],
            egress=[_to_api_server(control_plane)],
        ),
        _policy(
            "external-secrets-to-openbao",
            home(store.controller),
            store.controller.pods,
            egress=[_to(bao)],
        ),
    ]


def cert_manager_policies(
    certs: CertManagerEndpoints | None, control_plane: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Return cert-manager's flows: every pod to the API server, the API server to its webhook.

    The certificates the platform asks for are self-signed (the backup plugin's Issuer), so no
    pod needs anything outside the cluster.
    """
    if certs is None:
        return []
    webhook = certs.webhook
    return [
        # The controller, cainjector, webhook and startup check all watch or write API objects.
        _policy(
            "api-server-cert-manager",
            certs.namespace,
            certs.pods,
            egress=[_to_api_server(control_plane)],
        ),
        # The API server calls the webhook to validate and convert cert-manager resources.
        _policy(
            "cert-manager-webhook",
            home(webhook),
            webhook.pods,
            ingress=[{"ports": _ports(*webhook.ports)}],
        ),
    ]


def serving_clients(args: NetworkPoliciesArgs) -> list[dict[str, Any]]:
    """Return who may call serving: Prometheus (scrapes) and the gateway namespace, if any."""
    peers = [_peer(args.monitoring.prometheus)]
    if args.gateway_namespace is not None:
        peers.append(_ns(args.gateway_namespace))
    return peers


def api_policies(args: NetworkPoliciesArgs) -> list[dict[str, Any]]:
    """Return one egress policy per pod set that calls the API server, to its CIDRs only."""
    return [
        _policy(
            f"api-server-{name}",
            home(client),
            client.pods,
            egress=[_to_api_server(args.control_plane)],
        )
        for name, client in args.api_clients().items()
    ]


def ingress_policies(args: NetworkPoliciesArgs) -> list[dict[str, Any]]:
    """Return the ingress controller's way in to each published endpoint (none without one)."""
    controller = args.ingress_controller
    if controller is None:
        return []
    return [
        _policy(
            f"ingress-controller-{name}",
            home(endpoint),
            endpoint.pods,
            ingress=[{"from": [_ns(controller)], "ports": _ports(*endpoint.ports)}],
        )
        for name, endpoint in args.published.items()
    ]


def all_policies(args: NetworkPoliciesArgs) -> list[dict[str, Any]]:
    """Return every NetworkPolicy manifest (metadata + spec)."""
    result = [p for ns in args.all_namespaces() for p in baseline(ns)]
    result += platform_policies(args) + app_policies(args) + monitoring_policies(args)
    return (
        result
        + api_policies(args)
        + ingress_policies(args)
        + secret_store_policies(args.secret_store, args.control_plane)
        + cert_manager_policies(args.cert_manager, args.control_plane)
    )


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
