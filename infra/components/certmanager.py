"""cert-manager: the pinned chart, CRDs included, in its own namespace (config `certManager`).

The Barman Cloud plugin (Postgres backups) gets its mTLS certificates from cert-manager: its
chart renders an Issuer and Certificates. With `certManager.install: true` the program installs
cert-manager and the plugin release depends on it; with `false` the cluster's own is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
from mlops_contract import kube

from infra import k8s, versions
from infra.components.kube import pinned_release

RELEASE = "cert-manager"
# The webhook's HTTPS port (chart value webhook.securePort, set here so the NetworkPolicy and the
# chart agree): the API server calls it to validate and convert cert-manager resources.
WEBHOOK_PORT = 10250
# The chart labels its webhook pods with the component name and the release.
WEBHOOK_PODS = {kube.LABEL_NAME: "webhook", "app.kubernetes.io/instance": RELEASE}
# Every pod of the chart (controller, cainjector, webhook, startup check) carries the release
# label, and each of them calls the API server.
RELEASE_PODS = {"app.kubernetes.io/instance": RELEASE}
# Three small controllers; the platform asks for a handful of certificates.
RESOURCES = {
    "requests": {"cpu": "10m", "memory": "64Mi"},
    "limits": {"cpu": "200m", "memory": "256Mi"},
}


@dataclass(frozen=True, kw_only=True)
class CertManagerEndpoints:
    """Who listens where in the cert-manager namespace.

    Attributes:
        namespace: where the chart's pods run.
        pods: the labels every pod of the release carries (they all call the API server).
        webhook: the webhook pods and their HTTPS port (the API server calls them).
    """

    namespace: str
    webhook: k8s.Endpoint
    pods: dict[str, str] = field(default_factory=lambda: dict(RELEASE_PODS))


def endpoints(namespace: str) -> CertManagerEndpoints:
    """Return the endpoints of a cert-manager installed by the program into namespace."""
    return CertManagerEndpoints(
        namespace=namespace,
        webhook=k8s.Endpoint(namespace=namespace, pods=WEBHOOK_PODS, ports=(WEBHOOK_PORT,)),
    )


def chart_values() -> dict[str, Any]:
    """Return the cert-manager chart values: CRDs from the chart, kept on uninstall, sized.

    The chart's CRDs are templates, so Helm installs and upgrades them with the pinned chart.
    `keep`: uninstalling the release must not delete the CRDs, which would delete every
    Certificate in the cluster (the plugin's included). The chart's security contexts already
    fit `restricted` (non-root, no privilege escalation, all capabilities dropped).
    """
    return {
        "crds": {"enabled": True, "keep": True},
        "resources": RESOURCES,
        "webhook": {"securePort": WEBHOOK_PORT, "resources": RESOURCES},
        "cainjector": {"resources": RESOURCES},
        "startupapicheck": {"resources": RESOURCES},
        # Not scraped by the platform's Prometheus: no metrics annotations to mislead.
        "prometheus": {"enabled": False},
    }


class CertManager(pulumi.ComponentResource):
    """The pinned cert-manager Helm release; `release` is what its users depend on."""

    release: kubernetes.helm.v3.Release
    endpoints: CertManagerEndpoints

    def __init__(
        self,
        name: str,
        namespace: str,
        depends_on: tuple[pulumi.Resource, ...],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Install the chart into namespace (created by the Namespaces component)."""
        super().__init__("mlops:index:CertManager", name, None, opts)
        self.endpoints = endpoints(namespace)
        # helm.v3.Release waits for the chart's startupapicheck hook: cert-manager answers
        # (webhook up, CRDs served) before the backup plugin asks it for certificates.
        self.release = pinned_release(
            f"{name}-release",
            versions.CERT_MANAGER_CHART,
            release=RELEASE,
            namespace=namespace,
            values=chart_values(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )
        self.register_outputs({"namespace": namespace})
