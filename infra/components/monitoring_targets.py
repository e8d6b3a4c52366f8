"""Scrape targets: the contract Prometheus jobs as ServiceMonitors and PodMonitors (pure).

Each component publishes its own `ScrapeTarget` (which pods, which named port, which path);
the Monitoring component turns them into monitors. Every monitor relabels `job` to its contract
name (`mlops_contract.metrics`), so dashboards and alerts do not depend on Service or release
names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra import k8s

# The Helm release name is also the `release` label every monitor and rule must carry.
RELEASE = "kube-prometheus-stack"
PUSHGATEWAY = "pushgateway"
PUSHGATEWAY_PORT = 9091
PUSHGATEWAY_COMPONENT = "metrics-gateway"


def job_relabel(job: str) -> list[dict[str, Any]]:
    """Relabelings that set `job` to the contract name (after the operator's own job label)."""
    return [{"action": "replace", "targetLabel": "job", "replacement": job}]


@dataclass(frozen=True, kw_only=True)
class ScrapeTarget:
    """One contract job: which Service (or CNPG pods) in which namespace, port and path."""

    job: str
    namespace: str
    selector: dict[str, str]
    port: str
    path: str = "/metrics"
    honor_labels: bool = False
    pods: bool = False  # a PodMonitor (operator-managed pods without our Service)


def monitor(target: ScrapeTarget, monitoring_ns: str, interval: str) -> dict[str, Any]:
    """Return the ServiceMonitor (or PodMonitor) manifest for one target, in monitoring_ns."""
    endpoint: dict[str, Any] = {
        "port": target.port,
        "path": target.path,
        "scheme": "http",
        "interval": interval,
        "relabelings": job_relabel(target.job),
    }
    if target.honor_labels:
        endpoint["honorLabels"] = True
    kind = "PodMonitor" if target.pods else "ServiceMonitor"
    spec: dict[str, Any] = {
        "selector": {"matchLabels": dict(target.selector)},
        "namespaceSelector": {"matchNames": [target.namespace]},
        ("podMetricsEndpoints" if target.pods else "endpoints"): [endpoint],
    }
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": kind,
        "metadata": {
            "name": k8s.name(target.job),
            "namespace": monitoring_ns,
            "labels": {**k8s.labels("monitoring", target.job), "release": RELEASE},
        },
        "spec": spec,
    }
