"""Namespaces: the platform's namespaces with Pod Security labels, ResourceQuota and LimitRange."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
from mlops_contract import kube

from infra import k8s
from infra.components.kube import fields, manifest_args
from infra.config import Quota

# App namespaces run only our own pods and CNPG instances: all fit the `restricted` standard.
APP_POD_SECURITY = "restricted"
# The operator namespace runs a vendor chart; enforce baseline, warn and audit at restricted.
OPERATOR_POD_SECURITY = "baseline"

# Defaults for containers that do not declare resources (vendor pods); ours always declare them.
DEFAULT_REQUEST = {"cpu": "50m", "memory": "64Mi"}
DEFAULT_LIMIT = {"cpu": "500m", "memory": "512Mi"}


@dataclass(frozen=True, kw_only=True)
class NamespacesArgs:
    """Which namespaces to create.

    Attributes:
        app: role -> namespace name for the app namespaces (platform, training, serving, ...).
        operators: role -> namespace name for operator namespaces (e.g. the CNPG operator).
        vendors: role -> namespace name for vendor charts whose pods the platform configures to
            fit `restricted` (OpenBao, the External Secrets Operator): enforced there too.
        quota: the ResourceQuota applied to each app namespace.
        protect: protect every namespace and retain it on delete: deleting a namespace deletes
            everything in it, the database's and the object store's volumes included.
    """

    app: dict[str, str]
    operators: dict[str, str]
    quota: Quota
    protect: bool = False
    vendors: dict[str, str] = field(default_factory=dict)


def namespace_metadata(name: str, role: str, enforce: str) -> dict[str, Any]:
    """Return Namespace metadata with Pod Security Admission labels."""
    return {
        "name": k8s.name(name),
        "labels": {
            **k8s.labels("mlops-platform", role),
            # kubernetes.io/metadata.name is set by the API server; NetworkPolicies select on it.
            kube.POD_SECURITY_ENFORCE_LABEL: enforce,
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/audit": "restricted",
        },
    }


def quota_spec(quota: Quota) -> dict[str, Any]:
    """Return a ResourceQuota spec bounding what one namespace may request."""
    return {
        "hard": {
            "requests.cpu": quota.requests_cpu,
            "requests.memory": quota.requests_memory,
            "limits.cpu": quota.limits_cpu,
            "limits.memory": quota.limits_memory,
        }
    }


def limit_range_spec() -> dict[str, Any]:
    """Return a LimitRange giving containers without resources a default (the quota needs it)."""
    return {
        "limits": [
            {"type": "Container", "defaultRequest": DEFAULT_REQUEST, "default": DEFAULT_LIMIT}
        ]
    }


class Namespaces(pulumi.ComponentResource):
    """The platform's namespaces, each with Pod Security labels, a quota and default limits."""

    names: dict[str, str]
    resources: list[kubernetes.core.v1.Namespace]

    def __init__(
        self, name: str, args: NamespacesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the namespaces; app namespaces get a ResourceQuota and a LimitRange."""
        super().__init__("mlops:index:Namespaces", name, None, opts)
        self.names = {**args.app, **args.operators, **args.vendors}
        self.resources = []
        child = pulumi.ResourceOptions(
            parent=self, protect=args.protect, retain_on_delete=args.protect
        )
        for role, ns_name in sorted(args.app.items()):
            ns = kubernetes.core.v1.Namespace(
                f"{name}-{role}",
                opts=child,
                **fields(metadata=namespace_metadata(ns_name, role, APP_POD_SECURITY)),
            )
            in_ns = pulumi.ResourceOptions(parent=self, depends_on=[ns])
            kubernetes.core.v1.ResourceQuota(
                f"{name}-{role}-quota",
                opts=in_ns,
                **manifest_args(
                    {
                        "metadata": {"name": "platform-quota", "namespace": ns_name},
                        "spec": quota_spec(args.quota),
                    }
                ),
            )
            kubernetes.core.v1.LimitRange(
                f"{name}-{role}-limits",
                opts=in_ns,
                **manifest_args(
                    {
                        "metadata": {"name": "platform-limits", "namespace": ns_name},
                        "spec": limit_range_spec(),
                    }
                ),
            )
            self.resources.append(ns)
        levels = [(args.operators, OPERATOR_POD_SECURITY), (args.vendors, APP_POD_SECURITY)]
        for namespaces, level in levels:
            for role, ns_name in sorted(namespaces.items()):
                self.resources.append(
                    kubernetes.core.v1.Namespace(
                        f"{name}-{role}",
                        opts=child,
                        **fields(metadata=namespace_metadata(ns_name, role, level)),
                    )
                )
        self.register_outputs({"names": self.names})
