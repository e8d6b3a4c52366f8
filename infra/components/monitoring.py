"""Monitoring: kube-prometheus-stack, the Pushgateway, dashboards, rules and scrape monitors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from infra import versions
from infra.components import monitoring_specs as specs
from infra.components import monitoring_targets as scrape
from infra.components.kube import manifest_args
from infra.config import MonitoringConfig

# The Prometheus Operator exposes every Prometheus as the `prometheus-operated` Service.
PROMETHEUS_SERVICE = "prometheus-operated"


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    """Where monitoring runs and what it watches.

    Attributes:
        namespace: the monitoring namespace.
        config: retention and alert receiver settings.
        grafana_secret: Secret (in namespace) with keys admin-user / admin-password.
        alertmanager_secret: Secret (in namespace) with key alertmanager.yaml.
        targets: the contract scrape jobs (ServiceMonitors / PodMonitors to create).
        depends_on: namespaces and the Secrets above.
    """

    namespace: str
    config: MonitoringConfig
    grafana_secret: str
    alertmanager_secret: str
    targets: tuple[scrape.ScrapeTarget, ...]
    depends_on: tuple[pulumi.Resource, ...] = ()


def prometheus_url(namespace: str) -> str:
    """Return the in-cluster Prometheus URL (PROMETHEUS_URL for retrain)."""
    return f"http://{PROMETHEUS_SERVICE}.{namespace}.svc.cluster.local:{specs.PROMETHEUS_PORT}"


def validate_args(args: MonitoringArgs) -> None:
    """Raise ValueError if two targets share a job name or none is given."""
    jobs = [t.job for t in args.targets]
    if not jobs:
        raise ValueError("MonitoringArgs.targets: at least one scrape target is needed")
    if len(set(jobs)) != len(jobs):
        raise ValueError(f"MonitoringArgs.targets: duplicate job names in {sorted(jobs)}")


class Monitoring(pulumi.ComponentResource):
    """Prometheus, Alertmanager and Grafana (chart), Pushgateway, dashboards, rules, monitors."""

    release: kubernetes.helm.v3.Release
    release_name: str
    prometheus_url: str
    pushgateway_url: str
    jobs: list[str]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Install the chart, then the objects that need its CRDs."""
        validate_args(args)
        rules = specs.prometheus_rule(args.namespace, specs.rule_groups())
        dashboards = specs.dashboard_config_maps(args.namespace)
        super().__init__("mlops:index:Monitoring", name, None, opts)
        ns = args.namespace
        deps = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        chart = versions.KUBE_PROMETHEUS_CHART
        # helm.v3.Release: it runs the admission-webhook hook Jobs and waits until the CRDs and
        # the operator exist, so the custom resources below can depend on it.
        self.release = kubernetes.helm.v3.Release(
            f"{name}-stack",
            name=scrape.RELEASE,
            chart=chart.chart,
            version=chart.version,
            repository_opts={"repo": chart.repo},
            namespace=ns,
            create_namespace=False,
            values=specs.chart_values(
                retention=args.config.retention,
                grafana_secret=args.grafana_secret,
                alertmanager_secret=args.alertmanager_secret,
            ),
            opts=deps,
        )
        kubernetes.apps.v1.Deployment(
            f"{name}-pushgateway",
            opts=deps,
            **manifest_args(specs.pushgateway_deployment(ns)),
        )
        kubernetes.core.v1.Service(
            f"{name}-pushgateway-service",
            opts=deps,
            **manifest_args(specs.pushgateway_service(ns)),
        )
        for dashboard in dashboards:
            kubernetes.core.v1.ConfigMap(
                f"{name}-{dashboard['metadata']['name']}", opts=deps, **manifest_args(dashboard)
            )
        after_chart = pulumi.ResourceOptions(
            parent=self, depends_on=[self.release, *args.depends_on]
        )
        self._custom(f"{name}-rules", rules, after_chart)
        for target in args.targets:
            self._custom(f"{name}-{target.job}-monitor", scrape.monitor(target, ns), after_chart)
        self.release_name = scrape.RELEASE
        self.prometheus_url = prometheus_url(ns)
        self.pushgateway_url = specs.pushgateway_url(ns)
        self.jobs = sorted(t.job for t in args.targets)
        self.register_outputs(
            {
                "release": self.release_name,
                "prometheusUrl": self.prometheus_url,
                "pushgatewayUrl": self.pushgateway_url,
                "jobs": self.jobs,
            }
        )

    @staticmethod
    def _custom(
        name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions
    ) -> kubernetes.apiextensions.CustomResource:
        return kubernetes.apiextensions.CustomResource(
            name,
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=opts,
        )
