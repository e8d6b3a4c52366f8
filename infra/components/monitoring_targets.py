"""Scrape targets: the contract Prometheus jobs as ServiceMonitors and PodMonitors (pure).

Every monitor relabels `job` to its contract name (docs/contracts.md), so dashboards and alerts
do not depend on Service or release names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra import k8s
from infra.components import mlflow, objectstore_specs, serving
from infra.components.postgres import CLUSTER_LABEL

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


def monitor(target: ScrapeTarget, monitoring_ns: str, interval: str = "30s") -> dict[str, Any]:
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


def platform_targets(
    *,
    platform_ns: str,
    serving_ns: str,
    monitoring_ns: str,
    object_store_engine: str,
    postgres_cluster: str,
) -> list[ScrapeTarget]:
    """Return the contract jobs the platform deploys (object-store only when in-cluster)."""
    targets = [
        ScrapeTarget(
            job="serving",
            namespace=serving_ns,
            selector=k8s.selector_labels(serving.NAME, serving.COMPONENT),
            port="http",
        ),
        # `mlflow server --expose-prometheus` serves /metrics on its own port.
        ScrapeTarget(
            job="mlflow",
            namespace=platform_ns,
            selector=k8s.selector_labels(mlflow.NAME, mlflow.COMPONENT),
            port="http",
        ),
        # CloudNativePG's instance pods export Postgres metrics on their `metrics` port (9187);
        # there is no Service for it, so a PodMonitor.
        ScrapeTarget(
            job="postgres",
            namespace=platform_ns,
            selector={CLUSTER_LABEL: postgres_cluster, "cnpg.io/podRole": "instance"},
            port="metrics",
            pods=True,
        ),
        # Pushed series keep their own job="retrain" label.
        ScrapeTarget(
            job="pushgateway",
            namespace=monitoring_ns,
            selector=k8s.selector_labels(PUSHGATEWAY, PUSHGATEWAY_COMPONENT),
            port="http",
            honor_labels=True,
        ),
    ]
    if object_store_engine in ("minio", "seaweedfs"):
        server = objectstore_specs.server_for(object_store_engine)
        minio = object_store_engine == "minio"
        targets.append(
            ScrapeTarget(
                job="object-store",
                namespace=platform_ns,
                selector=k8s.selector_labels(server.app, objectstore_specs.APP_COMPONENT),
                # MinIO serves metrics on its S3 port (MINIO_PROMETHEUS_AUTH_TYPE=public: no
                # bearer token to rotate; the NetworkPolicy admits only the monitoring
                # namespace to that port besides the S3 clients); SeaweedFS on its own port.
                port="s3" if minio else "metrics",
                path="/minio/v2/metrics/cluster" if minio else "/metrics",
            )
        )
    return sorted(targets, key=lambda t: t.job)
