"""Optional HTTPS Ingress for MLflow, Grafana and serving (config `ingress`).

One Ingress per published Service, each with its own host and TLS Secret, which cert-manager
fills from the configured ClusterIssuer (the `cert-manager.io/cluster-issuer` annotation on the
Ingress). The NetworkPolicies admit the controller's namespace to the same pods
(network.ingress_policies). Serving publishes only the model API routes: /metrics, /healthz and
/readyz stay in-cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from infra import k8s
from infra.components.kube import manifest_args
from infra.config import IngressConfig, IngressRoute

# cert-manager's ingress-shim reads this annotation and keeps a Certificate for every TLS host.
CLUSTER_ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer"
# The Ingress objects' component label (app.kubernetes.io/component).
COMPONENT = "ingress"


@dataclass(frozen=True, kw_only=True)
class Backend:
    """A Service an Ingress routes to, as its owner publishes it.

    Attributes:
        namespace: the Service's namespace (the Ingress lives there too).
        service: the Service's metadata.name.
        port: the Service port number.
        pods: the pods and container ports behind it (the NetworkPolicy admits these).
        paths: the (path, pathType) pairs to publish; ("/", "Prefix") for a whole UI.
    """

    namespace: str
    service: str
    port: int
    pods: k8s.Endpoint
    paths: tuple[tuple[str, str], ...] = (("/", "Prefix"),)


def public_url(route: IngressRoute) -> str:
    """Return the https:// URL of a published host."""
    return f"https://{route.host}"


def ingress(name: str, backend: Backend, route: IngressRoute, cfg: IngressConfig) -> dict[str, Any]:
    """Return the networking.k8s.io/v1 Ingress for one Service: TLS on its host, issuer named."""
    if cfg.class_name is None or cfg.cluster_issuer is None:
        raise ValueError("ingress.className and ingress.clusterIssuer are required when enabled")
    service = {"name": backend.service, "port": {"number": backend.port}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": backend.namespace,
            "labels": k8s.labels(name, COMPONENT),
            "annotations": {CLUSTER_ISSUER_ANNOTATION: cfg.cluster_issuer},
        },
        "spec": {
            "ingressClassName": cfg.class_name,
            "tls": [{"hosts": [route.host], "secretName": route.tls_secret}],
            "rules": [
                {
                    "host": route.host,
                    "http": {
                        "paths": [
                            {"path": path, "pathType": kind, "backend": {"service": service}}
                            for path, kind in backend.paths
                        ]
                    },
                }
            ],
        },
    }


def ingresses(cfg: IngressConfig, backends: dict[str, Backend]) -> list[dict[str, Any]]:
    """Return the Ingress of every configured route (none when ingress is off).

    Raises:
        ValueError: a route names a Service that has no backend.
    """
    routes = cfg.routes()
    unknown = sorted(set(routes) - set(backends))
    if unknown:
        raise ValueError(f"ingress routes without a backend: {unknown} (known: {sorted(backends)})")
    return [ingress(name, backends[name], route, cfg) for name, route in routes.items()]


class PlatformIngress(pulumi.ComponentResource):
    """One Ingress per configured route; published facts: `urls` (https:// by Service)."""

    urls: dict[str, str]

    def __init__(
        self,
        name: str,
        cfg: IngressConfig,
        backends: dict[str, Backend],
        depends_on: tuple[pulumi.Resource, ...] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Create the Ingress objects (validated first, before any resource exists)."""
        manifests = ingresses(cfg, backends)
        super().__init__("mlops:index:PlatformIngress", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(depends_on))
        for manifest in manifests:
            kubernetes.networking.v1.Ingress(
                f"{name}-{manifest['metadata']['name']}", opts=child, **manifest_args(manifest)
            )
        self.urls = {key: public_url(route) for key, route in cfg.routes().items()}
        self.register_outputs({"urls": self.urls})
