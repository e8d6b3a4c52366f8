"""build_platform: wires the components for one stack from its typed config."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as kubernetes

from infra.components.namespaces import Namespaces, NamespacesArgs
from infra.config import PlatformConfig


@dataclass(frozen=True)
class PlatformOutputs:
    """What the stack exports: names and in-cluster addresses, never secret values."""

    namespaces: dict[str, str]


def build_platform(cfg: PlatformConfig) -> PlatformOutputs:
    """Create every platform resource for cfg and return the stack outputs."""
    # An explicit provider pinned to the stack's kube context: the default provider is disabled
    # in every stack file so nothing can land in whatever context kubectl happens to point at.
    provider = kubernetes.Provider("k8s", context=cfg.kube_context)
    opts = pulumi.ResourceOptions(providers=[provider])
    ns_cfg = cfg.namespaces
    namespaces = Namespaces(
        "namespaces",
        NamespacesArgs(
            app={
                "platform": ns_cfg.platform,
                "training": ns_cfg.training,
                "serving": ns_cfg.serving,
                "monitoring": ns_cfg.monitoring,
            },
            operators={"postgres-operator": cfg.postgres.operator_namespace},
            quota=cfg.quota,
        ),
        opts=opts,
    )
    return PlatformOutputs(namespaces=namespaces.names)
