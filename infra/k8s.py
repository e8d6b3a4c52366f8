"""Pure helpers for Kubernetes object specs: names, labels, security contexts, resources.

Everything here returns plain dicts in Kubernetes (camelCase) form, so the same values are
used by the components and checked by unit tests without the Pulumi engine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlops_contract import kube

MAX_NAME_LENGTH = 63

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

# The restricted Pod Security Standard needs a numeric non-root UID when the image's USER is a
# name or root. 10001: above the 0-9999 range distributions give to system and login users, so
# a container escape does not land on a host account's UID (Checkov CKV_K8S_40); the app images'
# USER is the same UID (apps/Dockerfile APP_UID), and it owns nothing in the upstream images.
DEFAULT_UID = 10001
# Writable scratch space for read-only-root containers: always an emptyDir volume in the pod.
SCRATCH = "/tmp"  # noqa: S108  # a pod-local emptyDir mount point, not the node's /tmp


def is_dns1123_label(value: str) -> bool:
    """Return True if value is a valid DNS-1123 label (what Kubernetes names must be)."""
    return len(value) <= MAX_NAME_LENGTH and bool(_DNS1123_LABEL.match(value))


def name(*parts: str) -> str:
    """Join parts with '-' into a Kubernetes metadata.name; raise ValueError if it is invalid.

    Names are explicit (never auto-suffixed) because Services and Secrets are addressed by them.
    """
    if not parts or any(not p for p in parts):
        raise ValueError(f"name parts must be non-empty strings, got {parts!r}")
    joined = "-".join(parts)
    if len(joined) > MAX_NAME_LENGTH:
        raise ValueError(
            f"Kubernetes name {joined!r} is {len(joined)} characters; at most "
            f"{MAX_NAME_LENGTH} are allowed (shorten the configured names)"
        )
    if not _DNS1123_LABEL.match(joined):
        raise ValueError(
            f"Kubernetes name {joined!r} is not a DNS-1123 label: use lowercase letters, "
            "digits and '-', starting and ending with a letter or digit"
        )
    return joined


def labels(app: str, component: str, version: str | None = None) -> dict[str, str]:
    """Return the recommended app.kubernetes.io/* labels for one workload."""
    result = {
        kube.LABEL_NAME: app,
        kube.LABEL_COMPONENT: component,
        kube.LABEL_PART_OF: kube.PART_OF,
        kube.LABEL_MANAGED_BY: kube.MANAGED_BY,
    }
    if version is not None:
        # Label values are limited like names; image tags can hold '+' or be long.
        cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", version)[:MAX_NAME_LENGTH].strip("-._")
        result[kube.LABEL_VERSION] = cleaned
    return result


def selector_labels(app: str, component: str) -> dict[str, str]:
    """Return the stable subset of labels used in selectors (never the version)."""
    return {kube.LABEL_NAME: app, kube.LABEL_COMPONENT: component}


def pod_security_context(uid: int = DEFAULT_UID, fs_group: int | None = None) -> dict[str, Any]:
    """Return a pod securityContext that satisfies the `restricted` Pod Security Standard."""
    ctx: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if fs_group is not None:
        ctx["fsGroup"] = fs_group
    return ctx


def container_security_context(*, read_only_root: bool = True) -> dict[str, Any]:
    """Return a container securityContext for the `restricted` standard.

    Args:
        read_only_root: False only for images that write outside mounted volumes.
    """
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": read_only_root,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resources(requests: Mapping[str, str], limits: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Return container resources with both requests and limits; raise if either is empty."""
    if not requests or not limits:
        raise ValueError("containers need both resource requests and limits")
    missing = {"cpu", "memory"} - set(requests)
    if missing:
        raise ValueError(f"resource requests miss {sorted(missing)}")
    if "memory" not in limits:
        raise ValueError("resource limits need memory (an unbounded pod can evict its node)")
    return {"requests": dict(requests), "limits": dict(limits)}


def http_probe(path: str, port: int | str, *, period: int = 10, delay: int = 5) -> dict[str, Any]:
    """Return an HTTP GET probe."""
    return {
        "httpGet": {"path": path, "port": port},
        "initialDelaySeconds": delay,
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": 6,
    }


def service_dns(service: str, namespace: str) -> list[str]:
    """Return the in-cluster DNS names of a Service, shortest first (the last is service_host)."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        service_host(service, namespace),
    ]


def service_host(service: str, namespace: str) -> str:
    """Return the fully qualified in-cluster DNS name of a Service."""
    return f"{service}.{namespace}.svc.cluster.local"


def service_url(service: str, namespace: str, port: int, scheme: str = "http") -> str:
    """Return the in-cluster URL of a Service port: how every platform address is written."""
    return f"{scheme}://{service_host(service, namespace)}:{port}"


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """Pods that listen, as their owner publishes them: what a NetworkPolicy peer needs.

    Attributes:
        namespace: the pods' namespace; None for a service outside the cluster.
        pods: their selector labels; None for every pod of the namespace (a chart's pods whose
            labels the platform does not set, or a service outside the cluster).
        ports: the TCP ports they listen on for this kind of traffic.
    """

    namespace: str | None
    pods: dict[str, str] | None
    ports: tuple[int, ...]


def env_credentials(var: str, secret: str, key: str) -> dict[str, Any]:
    """Return an env entry that reads a value from a Secret key (never a literal)."""
    return {"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def disruption_budget(
    app: str, component: str, namespace: str, *, max_unavailable: int
) -> dict[str, Any]:
    """Return a policy/v1 PodDisruptionBudget manifest for the pods of `app`/`component`.

    `maxUnavailable` rather than `minAvailable`: it keeps node drains possible at any replica
    count the HPA picks, while never evicting more than that many pods at once.
    """
    return {
        "metadata": {"name": app, "namespace": namespace, "labels": labels(app, component)},
        "spec": {
            "maxUnavailable": max_unavailable,
            "selector": {"matchLabels": selector_labels(app, component)},
        },
    }


def cluster_ip_service(
    app: str,
    component: str,
    namespace: str,
    ports: list[dict[str, Any]],
    *,
    service_name: str | None = None,
) -> dict[str, Any]:
    """Return a ClusterIP Service manifest selecting the pods of `app`/`component`."""
    return {
        "metadata": {
            "name": service_name or app,
            "namespace": namespace,
            "labels": labels(app, component),
        },
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(app, component),
            "ports": ports,
        },
    }


def http_service_port(port: int, name: str = "http") -> dict[str, Any]:
    """Return the Service port `name` forwarding to the container port of the same name."""
    return {"name": name, "port": port, "targetPort": name, "protocol": "TCP"}


SCRATCH_VOLUME = {"name": "tmp", "emptyDir": {}}


def pod_spec(
    containers: list[dict[str, Any]],
    *,
    service_account: str | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    uid: int = DEFAULT_UID,
    fs_group: int | None = None,
    restart_policy: str | None = None,
) -> dict[str, Any]:
    """Return a restricted pod spec: no API token, non-root pod securityContext.

    `volumes` defaults to the one `tmp` emptyDir that read-only-root containers write to;
    pass `[]` for a pod that needs none.
    """
    spec: dict[str, Any] = {}
    if restart_policy is not None:
        spec["restartPolicy"] = restart_policy
    if service_account is not None:
        spec["serviceAccountName"] = service_account
    # None of the platform's pods talks to the Kubernetes API.
    spec["automountServiceAccountToken"] = False
    spec["securityContext"] = pod_security_context(uid, fs_group)
    if init_containers:
        spec["initContainers"] = init_containers
    spec["containers"] = containers
    volumes = [dict(SCRATCH_VOLUME)] if volumes is None else volumes
    if volumes:
        spec["volumes"] = volumes
    return spec


# Checkov (`make lint`: scripts/security_scan.py) reads a skip from the object it reports, as the
# annotation `checkov.io/skip<N>: <check>=<reason>`. Skips are built only here, and each workload
# declares its own in the code that builds it, so the reason sits next to the object.
SCAN_SKIP_PREFIX = "checkov.io/skip"
IMAGE_DIGEST_CHECK = "CKV_K8S_43"
PULL_ALWAYS_CHECK = "CKV_K8S_15"
ENV_CREDENTIALS_CHECK = "CKV_K8S_35"


def scan_skips(*, images: Sequence[str] = (), env_credentials: str | None = None) -> dict[str, str]:
    """Return a workload's Checkov skip annotations (for its metadata.annotations).

    Args:
        images: the workload's image refs. Refs pinned by tag skip the digest and pull-policy
            checks, naming the refs; a digest passes both, so digest refs skip nothing.
        env_credentials: why the workload's processes must take Secret values as env vars (skips
            CKV_K8S_35); None for a workload that takes none.
    """
    skips: list[tuple[str, str]] = []
    tagged = ", ".join(sorted({ref for ref in images if "@" not in ref}))
    if tagged:
        skips.append(
            (
                IMAGE_DIGEST_CHECK,
                f"{tagged} pinned by exact release tag (never latest); no registry digest is "
                "readable offline where pins are recorded, and images the program builds "
                "deploy by their pushed digest",
            )
        )
        skips.append(
            (
                PULL_ALWAYS_CHECK,
                f"{tagged} pinned by tag: IfNotPresent keeps pod starts independent of the "
                "registry; pinning the digest, not re-pulling the tag, is the fix",
            )
        )
    if env_credentials is not None:
        skips.append((ENV_CREDENTIALS_CHECK, env_credentials))
    return {f"{SCAN_SKIP_PREFIX}{n}": _skip_value(*skip) for n, skip in enumerate(skips, 1)}


def _skip_value(check: str, reason: str) -> str:
    # Checkov splits the annotation at '=' into check and reason: a second '=' breaks it.
    if not reason.strip() or "=" in reason or "\n" in reason:
        raise ValueError(
            f"Checkov skip {check}: the reason must be one non-empty line without '=', "
            f"got {reason!r}"
        )
    return f"{check}={reason}"
