"""Small accessors over Kubernetes objects held as plain dicts (as in a manifest)."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

K8sObject = dict[str, Any]

# Stands in for a value Pulumi cannot know during preview (e.g. an image digest still to be
# built); rules skip what they cannot judge instead of reporting a false violation.
UNKNOWN = "<unknown during preview>"

# Where each workload kind keeps its pod template, as a path of keys from the object root.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}

# Workloads that run forever and are therefore expected to answer probes.
LONG_RUNNING_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class Container:
    """One container of a pod template and where it sits in the object."""

    spec: dict[str, Any]
    path: str
    list_name: str

    @property
    def name(self) -> str:
        """The container's name (or `?` when the manifest leaves it out)."""
        return str(self.spec.get("name", "?"))


def kind(obj: K8sObject) -> str:
    """The object's kind, or an empty string."""
    return str(obj.get("kind", ""))


def name(obj: K8sObject) -> str:
    """The object's metadata.name, or an empty string."""
    return str(meta(obj).get("name", ""))


def namespace(obj: K8sObject) -> str:
    """The object's metadata.namespace, or an empty string (cluster scoped or unset)."""
    return str(meta(obj).get("namespace") or "")


def meta(obj: K8sObject) -> dict[str, Any]:
    """The object's metadata mapping (empty when absent)."""
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def labels(obj: K8sObject) -> dict[str, str]:
    """The object's metadata.labels (empty when absent)."""
    value = meta(obj).get("labels")
    return dict(value) if isinstance(value, dict) else {}


def ref(obj: K8sObject) -> str:
    """Human reference `Kind/namespace/name` used at the start of every violation message."""
    ns = namespace(obj)
    return f"{kind(obj)}/{ns}/{name(obj)}" if ns else f"{kind(obj)}/{name(obj)}"


def dig(obj: Any, *keys: str) -> Any:
    """Follow `keys` through nested dicts; None as soon as one is missing."""
    current = obj
    for key in keys:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def is_cnpg_cluster(obj: K8sObject) -> bool:
    """Whether the object is a CloudNativePG `Cluster` custom resource."""
    return kind(obj) == "Cluster" and str(obj.get("apiVersion", "")).startswith(
        "postgresql.cnpg.io/"
    )


def pod_spec(obj: K8sObject) -> tuple[dict[str, Any], str] | None:
    """The pod spec of a workload and its dotted path, or None for objects that run no pods."""
    path = POD_SPEC_PATHS.get(kind(obj))
    if path is None:
        return None
    spec = dig(obj, *path)
    if not isinstance(spec, dict):
        return None
    return spec, ".".join(path)


def pod_template_labels(obj: K8sObject) -> dict[str, str] | None:
    """Labels the workload's pods will carry, or None when the object runs no pods."""
    path = POD_SPEC_PATHS.get(kind(obj))
    if path is None:
        return None
    holder = obj if kind(obj) == "Pod" else dig(obj, *path[:-1])
    value = dig(holder, "metadata", "labels")
    return dict(value) if isinstance(value, dict) else {}


def containers(spec: dict[str, Any], spec_path: str) -> Iterator[Container]:
    """Every container of a pod spec (init, regular and ephemeral) with its path."""
    for list_name in CONTAINER_LISTS:
        items = spec.get(list_name) or []
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield Container(item, f"{spec_path}.{list_name}[{index}]", list_name)


def workload_containers(obj: K8sObject) -> Iterator[Container]:
    """Every container of a workload's pod spec; nothing for objects that run no pods."""
    found = pod_spec(obj)
    if found is not None:
        yield from containers(*found)


def selector_matches(selector: Any, target: dict[str, str]) -> bool:
    """Whether a label selector (plain map or LabelSelector) selects `target` labels.

    An empty or missing selector matches nothing here: for Services and monitors an empty
    selector is either "no selector" or "everything", and both are handled by the callers.
    """
    if not isinstance(selector, dict) or not selector:
        return False
    if "matchLabels" in selector or "matchExpressions" in selector:
        match_labels = selector.get("matchLabels") or {}
        expressions = selector.get("matchExpressions") or []
    else:
        match_labels, expressions = selector, []
    if not match_labels and not expressions:
        return False
    if any(target.get(key) != value for key, value in match_labels.items()):
        return False
    return all(_expression_matches(expr, target) for expr in expressions)


def _expression_matches(expr: dict[str, Any], target: dict[str, str]) -> bool:
    """Evaluate one matchExpressions entry (In, NotIn, Exists, DoesNotExist)."""
    key, operator = expr.get("key", ""), expr.get("operator", "")
    values = expr.get("values") or []
    if operator == "In":
        return target.get(key) in values
    if operator == "NotIn":
        return target.get(key) not in values
    if operator == "Exists":
        return key in target
    if operator == "DoesNotExist":
        return key not in target
    return False
