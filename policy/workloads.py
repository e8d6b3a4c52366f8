"""The pods a set of objects will run: labels and named ports per namespace.

Shared by the Service, PodDisruptionBudget and PodMonitor rules, which all select pods by label.
Operator-managed pods (CloudNativePG instances) are modelled from their custom resource.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from mlops_contract import kube

from policy.objects import (
    K8sObject,
    containers,
    dig,
    is_cnpg_cluster,
    kind,
    name,
    namespace,
    pod_spec,
    pod_template_labels,
    ref,
    selector_matches,
)


@dataclass(frozen=True)
class PodShape:
    """Labels and named container ports of the pods one object runs."""

    owner: str
    namespace: str
    labels: dict[str, str]
    port_names: frozenset[str] | None  # None: unknown (operator-managed pods)
    owner_kind: str
    owner_name: str


def pod_shapes(objects: Iterable[K8sObject]) -> list[PodShape]:
    """Every pod shape the objects imply, workloads first, then operator-managed pods."""
    shapes: list[PodShape] = []
    for obj in objects:
        template_labels = pod_template_labels(obj)
        found = pod_spec(obj)
        if template_labels is not None and found is not None:
            ports = frozenset(
                str(port["name"])
                for container in containers(*found)
                for port in container.spec.get("ports") or []
                if port.get("name")
            )
            shapes.append(
                PodShape(ref(obj), namespace(obj), template_labels, ports, kind(obj), name(obj))
            )
        elif is_cnpg_cluster(obj):
            # CloudNativePG labels every instance pod with its cluster and current role.
            for role in ("primary", "replica"):
                cnpg_labels = {
                    kube.CNPG_CLUSTER_LABEL: name(obj),
                    kube.CNPG_POD_ROLE_LABEL: "instance",
                    "cnpg.io/instanceRole": role,
                    "role": role,
                }
                shapes.append(
                    PodShape(ref(obj), namespace(obj), cnpg_labels, None, kind(obj), name(obj))
                )
    return shapes


def matching(selector: object, shapes: list[PodShape], ns: str) -> list[PodShape]:
    """Shapes in namespace `ns` whose labels the selector selects."""
    return [
        shape
        for shape in shapes
        if shape.namespace == ns and selector_matches(selector, shape.labels)
    ]


def replicas(obj: K8sObject) -> int | None:
    """Declared replicas of a scalable workload (floats from mocks rounded), else None."""
    value = dig(obj, "spec", "replicas")
    return int(value) if isinstance(value, int | float) else None
