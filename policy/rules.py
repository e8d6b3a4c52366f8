"""Every rule in one place: per-object rules, stack (cross-object) rules and both together."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from policy.credentials import check_credentials
from policy.exposure import check_ingress_tls, check_service_exposure
from policy.images import check_images
from policy.monitoring import check_monitors, prometheus_release_label
from policy.network import check_default_deny, check_namespaces, check_network_policy_selectors
from policy.objects import K8sObject
from policy.probes import check_probes
from policy.references import check_references
from policy.resources import check_resources
from policy.security import check_restricted, restricted_namespaces
from policy.selectors import check_hpa_targets, check_pdb_selectors, check_service_selectors

ObjectRule = Callable[[K8sObject], list[str]]
StackRule = Callable[[list[K8sObject]], list[str]]

# Rules that need only the object itself (pod security needs the namespace set: see below).
OBJECT_RULES: dict[str, ObjectRule] = {
    "resources-required": check_resources,
    "probes-required": check_probes,
    "image-pinned": check_images,
    "no-literal-credentials": check_credentials,
    "service-not-exposed": check_service_exposure,
    "ingress-tls": check_ingress_tls,
}

# Rules that need every object of the stack.
STACK_RULES: dict[str, StackRule] = {
    "references-exist": check_references,
    "service-selects-pods": check_service_selectors,
    "pdb-selects-pods": check_pdb_selectors,
    "hpa-target-exists": check_hpa_targets,
    "default-deny-network-policy": check_default_deny,
    "namespace-exists": check_namespaces,
}


def check_stack(
    objects: list[K8sObject], resources: Iterable[Mapping[str, Any]] = ()
) -> dict[str, list[str]]:
    """Every rule over a whole stack, keyed by rule name (empty lists when clean).

    Args:
        objects: every rendered Kubernetes object.
        resources: Pulumi resources (`type`, `inputs`); used to find the kube-prometheus-stack
            release whose label monitors must carry.
    """
    restricted = restricted_namespaces(objects)
    results: dict[str, list[str]] = {
        "pod-security-restricted": [
            message for obj in objects for message in check_restricted(obj, restricted)
        ]
    }
    for rule_name, rule in OBJECT_RULES.items():
        results[rule_name] = [message for obj in objects for message in rule(obj)]
    for rule_name, stack_rule in STACK_RULES.items():
        results[rule_name] = stack_rule(objects)
    resource_list = list(resources)
    results["network-policy-selects-pods"] = check_network_policy_selectors(objects, resource_list)
    results["monitors-select-targets"] = check_monitors(
        objects, prometheus_release_label(resource_list)
    )
    return results
