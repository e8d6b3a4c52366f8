"""Namespaces: every namespaced object names one the platform creates, each with a default deny.

Without a default-deny NetworkPolicy every pod accepts traffic from every other pod in the
cluster and may call anywhere; the allow rules the platform adds mean nothing until the
default is deny. An object without metadata.namespace lands in whatever namespace the kube
context defaults to, outside every policy.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from mlops_contract.kube import CLUSTER_SCOPED_KINDS

from policy.objects import K8sObject, dig, kind, name, namespace, ref
from policy.workloads import matching, pod_shapes


def is_default_deny(obj: K8sObject) -> set[str]:
    """The policy types (Ingress/Egress) a NetworkPolicy denies for all pods of its namespace."""
    if kind(obj) != "NetworkPolicy":
        return set()
    selector = dig(obj, "spec", "podSelector")
    if selector is None or any(selector.get(k) for k in ("matchLabels", "matchExpressions")):
        return set()  # only an empty podSelector ({}) covers every pod
    denied = set()
    for policy_type in dig(obj, "spec", "policyTypes") or []:
        rules = dig(obj, "spec", str(policy_type).lower())
        if not rules:
            denied.add(str(policy_type))
    return denied


def workload_namespaces(objects: Iterable[K8sObject]) -> set[str]:
    """Namespaces that the platform creates or that hold namespaced objects."""
    out: set[str] = set()
    for obj in objects:
        if kind(obj) == "Namespace":
            out.add(name(obj))
        elif namespace(obj):
            out.add(namespace(obj))
    return out


def check_default_deny(objects: list[K8sObject]) -> list[str]:
    """Violations: a namespace without a default deny covering both Ingress and Egress."""
    denied: dict[str, set[str]] = {}
    for obj in objects:
        denied.setdefault(namespace(obj), set()).update(is_default_deny(obj))
    out: list[str] = []
    for ns in sorted(workload_namespaces(objects)):
        missing = {"Ingress", "Egress"} - denied.get(ns, set())
        if missing:
            out.append(
                f"Namespace/{ns}: no default-deny NetworkPolicy for {sorted(missing)}; add one "
                "with podSelector: {} and policyTypes [Ingress, Egress] and no rules"
            )
    return out


def check_namespaces(objects: list[K8sObject]) -> list[str]:
    """Violations: a namespaced object without metadata.namespace or in a namespace not rendered."""
    created = {name(obj) for obj in objects if kind(obj) == "Namespace"}
    out: list[str] = []
    for obj in objects:
        if kind(obj) in CLUSTER_SCOPED_KINDS:
            continue
        ns = namespace(obj)
        if not ns:
            out.append(
                f"{ref(obj)}: metadata.namespace is not set; set it explicitly (otherwise the "
                "kube context's default namespace is used)"
            )
        elif ns not in created:
            out.append(
                f"{ref(obj)}: metadata.namespace {ns!r} is not a Namespace the platform creates; "
                "create it (Namespaces component) or fix the name"
            )
    return out


def helm_namespaces(resources: Iterable[Mapping[str, Any]]) -> set[str]:
    """Namespaces that a Helm release or chart deploys pods into (pods not rendered here)."""
    return {
        str((resource.get("inputs") or {}).get("namespace"))
        for resource in resources
        if str(resource.get("type", "")).startswith("kubernetes:helm.sh/")
    }


def check_network_policy_selectors(
    objects: list[K8sObject], resources: Iterable[Mapping[str, Any]] = ()
) -> list[str]:
    """Violations: a NetworkPolicy whose non-empty podSelector selects no pod of its namespace.

    Such a policy allows nothing: the flow it was written for stays blocked by the default
    deny, and nothing reports it. Namespaces where a Helm chart runs pods are skipped (their
    pods are not rendered, so their labels are unknown here).
    """
    shapes = pod_shapes(objects)
    charted = helm_namespaces(resources)
    out: list[str] = []
    for obj in objects:
        selector = dig(obj, "spec", "podSelector")
        if kind(obj) != "NetworkPolicy" or not selector or namespace(obj) in charted:
            continue
        if not any(selector.get(key) for key in ("matchLabels", "matchExpressions")):
            continue  # {} selects every pod
        if not matching(selector, shapes, namespace(obj)):
            out.append(
                f"{ref(obj)}: spec.podSelector {selector} selects no pod in namespace "
                f"{namespace(obj)!r}, so the flow it allows stays denied; use the pods' labels"
            )
    return out
