"""Selectors that must select something: Services, PodDisruptionBudgets, HPA targets.

A Service whose selector matches no pod has no endpoints: clients get connection refused while
every resource reports healthy. A named targetPort that no matched container declares behaves
the same. A PDB that selects nothing protects nothing during a node drain.
"""

from typing import Any

from policy.objects import K8sObject, dig, kind, name, namespace, ref
from policy.workloads import PodShape, matching, pod_shapes


def check_service_selectors(objects: list[K8sObject]) -> list[str]:
    """Violations: a Service selector that matches no pod template in its namespace."""
    shapes = pod_shapes(objects)
    out: list[str] = []
    for obj in objects:
        if kind(obj) != "Service" or dig(obj, "spec", "type") == "ExternalName":
            continue
        selector = dig(obj, "spec", "selector")
        if not selector:
            continue  # selector-less Services have hand-managed endpoints
        matched = matching(selector, shapes, namespace(obj))
        if not matched:
            out.append(
                f"{ref(obj)}: spec.selector {selector} matches no pod template in namespace "
                f"{namespace(obj)!r}; align it with the workload's spec.template.metadata.labels"
            )
            continue
        out += _named_target_ports(obj, matched)
    return out


def _named_target_ports(obj: K8sObject, matched: list[PodShape]) -> list[str]:
    """A named targetPort must be declared by a container of a matched pod."""
    known = [shape.port_names for shape in matched]
    if any(names is None for names in known):
        return []  # operator-managed pods: their ports are not ours to know
    declared = frozenset().union(*[names for names in known if names is not None])
    out: list[str] = []
    for index, port in enumerate(dig(obj, "spec", "ports") or []):
        target = port.get("targetPort")
        if isinstance(target, str) and target not in declared:
            out.append(
                f"{ref(obj)}: spec.ports[{index}].targetPort {target!r} is not a named container "
                f"port of the selected pods (declared: {sorted(declared)}); fix the name"
            )
    return out


def check_pdb_selectors(objects: list[K8sObject]) -> list[str]:
    """Violations: a PodDisruptionBudget that selects no pod in its namespace."""
    shapes = pod_shapes(objects)
    return [
        f"{ref(obj)}: spec.selector matches no pod template in namespace {namespace(obj)!r}; "
        "use the workload's pod labels"
        for obj in objects
        if kind(obj) == "PodDisruptionBudget"
        and not matching(dig(obj, "spec", "selector"), shapes, namespace(obj))
    ]


def check_hpa_targets(objects: list[K8sObject]) -> list[str]:
    """Violations: a HorizontalPodAutoscaler whose scaleTargetRef is not rendered."""
    present = {(namespace(obj), kind(obj), name(obj)) for obj in objects}
    out: list[str] = []
    for obj in objects:
        if kind(obj) != "HorizontalPodAutoscaler":
            continue
        target: dict[str, Any] = dig(obj, "spec", "scaleTargetRef") or {}
        key = (namespace(obj), str(target.get("kind")), str(target.get("name")))
        if key not in present:
            out.append(
                f"{ref(obj)}: spec.scaleTargetRef {target.get('kind')}/{target.get('name')} is "
                f"not rendered in namespace {namespace(obj)!r}; point it at the workload"
            )
    return out
