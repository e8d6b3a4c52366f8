"""OpenBao and the External Secrets Operator: the store behind `secrets.provider: openbao`.

Two pinned Helm releases, each in its own namespace, and the ClusterSecretStore through which the
operator reads and writes OpenBao's KV (version 2) engine, logging in with its own ServiceAccount
token (OpenBao's Kubernetes auth: no OpenBao token is stored in the cluster). OpenBao starts
sealed and uninitialised: until an operator initialises and unseals it and creates the auth role
and policy (docs/operations.md), nothing syncs and the platform's Secrets do not appear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from infra import k8s, versions
from infra.components import external_secrets
from infra.components.external_secrets import StoreBackend
from infra.components.kube import pinned_release
from infra.config import OpenbaoConfig

OPENBAO_RELEASE = "openbao"
ESO_RELEASE = "external-secrets"
OPENBAO_PORT = 8200
# ESO's admission webhook (the API server calls it to validate ExternalSecrets and stores).
ESO_WEBHOOK_PORT = 10250
# The chart names every ESO object after the release ("external-secrets" here): the controller's
# ServiceAccount, and the pods' `app.kubernetes.io/name` (`-webhook`, `-cert-controller` added).
ESO_SERVICE_ACCOUNT = ESO_RELEASE
ESO_CONTROLLER_PODS = {
    "app.kubernetes.io/name": ESO_RELEASE,
    "app.kubernetes.io/instance": ESO_RELEASE,
}
OPENBAO_SERVER_PODS = {
    "app.kubernetes.io/name": "openbao",
    "app.kubernetes.io/instance": OPENBAO_RELEASE,
    "component": "server",
}
STORE_NAME = "openbao"
# Vendor pods outside the app namespaces' LimitRange: sized here (a few hundred values).
_SMALL = k8s.resources({"cpu": "50m", "memory": "64Mi"}, {"cpu": "500m", "memory": "256Mi"})
# The chart's defaults miss `capabilities: drop ALL`, which restricted Pod Security requires.
_OPENBAO_POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 100,
    "runAsGroup": 1000,
    "fsGroup": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}
_OPENBAO_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}


@dataclass(frozen=True, kw_only=True)
class OpenbaoEndpoints:
    """What NetworkPolicies need: OpenBao's API, the operator's pods and webhook.

    Attributes:
        openbao: the OpenBao server pods and their API port.
        controller: the operator's controller pods (the only OpenBao client).
        operator: every pod of the operator's namespace (they all watch the API server), with
            the webhook port the API server calls.
    """

    openbao: k8s.Endpoint
    controller: k8s.Endpoint
    operator: k8s.Endpoint


def endpoints(cfg: OpenbaoConfig) -> OpenbaoEndpoints:
    """Return the endpoints of the OpenBao and operator releases (pure)."""
    return OpenbaoEndpoints(
        openbao=k8s.Endpoint(
            namespace=cfg.namespace, pods=OPENBAO_SERVER_PODS, ports=(OPENBAO_PORT,)
        ),
        controller=k8s.Endpoint(
            namespace=cfg.operator_namespace, pods=ESO_CONTROLLER_PODS, ports=()
        ),
        operator=k8s.Endpoint(
            namespace=cfg.operator_namespace, pods=None, ports=(ESO_WEBHOOK_PORT,)
        ),
    )


def openbao_url(cfg: OpenbaoConfig) -> str:
    """OpenBao's in-cluster API URL (the chart's Service is named after the release).

    Plain HTTP inside the cluster, reachable only from the operator's controller (NetworkPolicy);
    TLS on the listener is a hardening step for forks that run cert-manager (docs/operations.md).
    """
    return k8s.service_url(OPENBAO_RELEASE, cfg.namespace, OPENBAO_PORT)


def backend(cfg: OpenbaoConfig, refresh_interval: str) -> StoreBackend:
    """The ExternalSecrets' view of OpenBao: `<pathPrefix>/<value>`, field `value`."""
    return StoreBackend(
        store_name=STORE_NAME,
        refresh_interval=refresh_interval,
        key_prefix=f"{cfg.path_prefix.rstrip('/')}/",
        property=external_secrets.OPENBAO_PROPERTY,
        seed_namespace=cfg.operator_namespace,
    )


def openbao_values(cfg: OpenbaoConfig) -> dict[str, Any]:
    """Chart values: one standalone server with a data volume; no injector, UI or CSI."""
    storage: dict[str, Any] = {"enabled": True, "size": cfg.storage_size}
    if cfg.storage_class:
        storage["storageClass"] = cfg.storage_class
    return {
        # The agent injector is a cluster-wide mutating webhook the platform does not use.
        "injector": {"enabled": False},
        "ui": {"enabled": False},
        "server": {
            "resources": _SMALL,
            "dataStorage": storage,
            "statefulSet": {
                "securityContext": {
                    "pod": _OPENBAO_POD_SECURITY,
                    "container": _OPENBAO_CONTAINER_SECURITY,
                }
            },
        },
    }


def operator_values() -> dict[str, Any]:
    """Chart values: the operator with its CRDs, webhook and cert controller, sized."""
    return {
        "installCRDs": True,
        "resources": _SMALL,
        "webhook": {"resources": _SMALL},
        "certController": {"resources": _SMALL},
    }


def cluster_secret_store(cfg: OpenbaoConfig) -> dict[str, Any]:
    """The ClusterSecretStore of OpenBao's KV v2 mount, Kubernetes auth as the operator."""
    return {
        "apiVersion": external_secrets.API_VERSION,
        "kind": external_secrets.STORE_KIND,
        "metadata": {"name": STORE_NAME, "labels": k8s.labels("secret-store", "openbao")},
        "spec": {
            "provider": {
                # OpenBao speaks the Vault API; ESO's vault provider is its client.
                "vault": {
                    "server": openbao_url(cfg),
                    "path": cfg.kv_mount,
                    "version": "v2",
                    "auth": {
                        "kubernetes": {
                            "mountPath": cfg.auth_mount,
                            "role": cfg.role,
                            "serviceAccountRef": {
                                "name": ESO_SERVICE_ACCOUNT,
                                "namespace": cfg.operator_namespace,
                            },
                        }
                    },
                }
            }
        },
    }


class OpenbaoStore(pulumi.ComponentResource):
    """OpenBao, the External Secrets Operator and the ClusterSecretStore that joins them.

    `ready` is what an ExternalSecret or PushSecret must wait for (the CRDs and the store).
    """

    ready: list[pulumi.Resource]

    def __init__(
        self,
        name: str,
        cfg: OpenbaoConfig,
        depends_on: tuple[pulumi.Resource, ...],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Install both charts once depends_on (their namespaces) exist, then the store."""
        super().__init__("mlops:index:OpenbaoStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(depends_on))
        bao = pinned_release(
            f"{name}-openbao",
            versions.OPENBAO_CHART,
            release=OPENBAO_RELEASE,
            namespace=cfg.namespace,
            values=openbao_values(cfg),
            # A sealed server is never ready: do not hold `pulumi up` until someone unseals it.
            opts=child,
            skip_await=True,
        )
        eso = pinned_release(
            f"{name}-operator",
            versions.EXTERNAL_SECRETS_CHART,
            release=ESO_RELEASE,
            namespace=cfg.operator_namespace,
            values=operator_values(),
            opts=child,
        )
        store = cluster_secret_store(cfg)
        cluster_store = kubernetes.apiextensions.CustomResource(
            f"{name}-cluster-store",
            api_version=store["apiVersion"],
            kind=store["kind"],
            metadata=store["metadata"],
            spec=store["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[eso, bao, *depends_on]),
        )
        self.ready = [eso, cluster_store]
        self.register_outputs({"store": STORE_NAME})
