"""ServiceMonitors and PodMonitors that Prometheus will actually use.

kube-prometheus-stack's Prometheus only picks up monitors and rules labelled with the chart's
`release` (unless `serviceMonitorSelectorNilUsesHelmValues` is false); a monitor whose
selector or port name matches nothing is accepted by the API server and scrapes nothing. Both
fail silently, so they are checked here.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from policy.objects import K8sObject, dig, kind, labels, namespace, ref, selector_matches
from policy.workloads import pod_shapes

MONITOR_KINDS = frozenset({"ServiceMonitor", "PodMonitor", "PrometheusRule"})
KUBE_PROMETHEUS_CHART = "kube-prometheus-stack"


def prometheus_release_label(resources: Iterable[Mapping[str, Any]]) -> str | None:
    """The `release` label monitors need, from the kube-prometheus-stack helm resource.

    Args:
        resources: Pulumi resources as `{"type": ..., "inputs": {...}}` (resources.json).

    Returns:
        The release name, or None when no such chart is deployed or its Prometheus selects
        monitors without the label (`*SelectorNilUsesHelmValues: false`).
    """
    for resource in resources:
        inputs = resource.get("inputs") or {}
        if not str(resource.get("type", "")).startswith("kubernetes:helm.sh/"):
            continue
        # The chart may be named bare, as `repo/chart` or as an `oci://.../chart` URL.
        if str(inputs.get("chart", "")).rsplit("/", 1)[-1] != KUBE_PROMETHEUS_CHART:
            continue
        spec = dig(inputs.get("values") or {}, "prometheus", "prometheusSpec") or {}
        if spec.get("serviceMonitorSelectorNilUsesHelmValues") is False:
            return None
        return str(inputs.get("name") or resource.get("name"))
    return None


def check_monitors(objects: list[K8sObject], release_label: str | None = None) -> list[str]:
    """Violations: monitors selecting nothing, unknown port names, missing `release` label."""
    out: list[str] = []
    for obj in objects:
        if kind(obj) not in MONITOR_KINDS:
            continue
        if release_label is not None and labels(obj).get("release") != release_label:
            out.append(
                f"{ref(obj)}: metadata.labels.release is {labels(obj).get('release')!r}; set it "
                f"to {release_label!r} or kube-prometheus-stack's Prometheus ignores it"
            )
        if kind(obj) == "ServiceMonitor":
            out += _service_monitor(obj, objects)
        elif kind(obj) == "PodMonitor":
            out += _pod_monitor(obj, objects)
    return out


def _namespaces(obj: K8sObject, objects: list[K8sObject]) -> set[str]:
    """Namespaces a monitor looks in (its own by default)."""
    ns_selector = dig(obj, "spec", "namespaceSelector") or {}
    if ns_selector.get("any") is True:
        return {namespace(other) for other in objects}
    return set(ns_selector.get("matchNames") or [namespace(obj)])


def _service_monitor(obj: K8sObject, objects: list[K8sObject]) -> list[str]:
    """The selector matches a Service's labels and every endpoint port is a named Service port."""
    selector = dig(obj, "spec", "selector")
    namespaces = _namespaces(obj, objects)
    services = [
        other
        for other in objects
        if kind(other) == "Service"
        and namespace(other) in namespaces
        and selector_matches(selector, labels(other))
    ]
    if not services:
        return [
            f"{ref(obj)}: spec.selector {selector} matches no Service's metadata.labels in "
            f"{sorted(namespaces)}; use the Service's labels"
        ]
    port_names = {
        str(port.get("name")) for svc in services for port in dig(svc, "spec", "ports") or []
    }
    return [
        f"{ref(obj)}: spec.endpoints[{index}].port {endpoint['port']!r} is not a named port of "
        f"the selected Services (named: {sorted(port_names)}); fix the name"
        for index, endpoint in enumerate(dig(obj, "spec", "endpoints") or [])
        if "port" in endpoint and endpoint["port"] not in port_names
    ]


def _pod_monitor(obj: K8sObject, objects: list[K8sObject]) -> list[str]:
    """The selector matches a pod template and every endpoint port is a named container port."""
    selector = dig(obj, "spec", "selector")
    namespaces = _namespaces(obj, objects)
    shapes = [
        shape
        for shape in pod_shapes(objects)
        if shape.namespace in namespaces and selector_matches(selector, shape.labels)
    ]
    if not shapes:
        return [
            f"{ref(obj)}: spec.selector {selector} matches no pod template in "
            f"{sorted(namespaces)}; use the workload's pod labels"
        ]
    if any(shape.port_names is None for shape in shapes):
        return []
    port_names = frozenset().union(*[s.port_names for s in shapes if s.port_names is not None])
    return [
        f"{ref(obj)}: spec.podMetricsEndpoints[{index}].port {endpoint['port']!r} is not a named "
        f"container port of the selected pods (named: {sorted(port_names)}); fix the name"
        for index, endpoint in enumerate(dig(obj, "spec", "podMetricsEndpoints") or [])
        if "port" in endpoint and endpoint["port"] not in port_names
    ]
