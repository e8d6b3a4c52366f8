"""Monitoring: kube-prometheus-stack, the Pushgateway, dashboards, rules and scrape monitors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
from mlops_contract.triggers import Triggers

from infra import versions
from infra.components import monitoring_specs as specs
from infra.components import monitoring_targets as scrape
from infra.components.kube import manifest_args, pinned_release
from infra.config import MonitoringConfig


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    """Where monitoring runs and what it watches.

    Attributes:
        namespace: the monitoring namespace.
        config: retention, the trigger alerts' hold time and the alert receiver.
        triggers: the stack's retrain triggers; the drift and accuracy alerts and the
            dashboards' red lines use their thresholds, so an alert fires when the CronJob
            would retrain.
        targets: the other components' scrape jobs (ServiceMonitors / PodMonitors to create);
            the Pushgateway's own job is added here.
        grafana_url: Grafana's public https:// URL when an Ingress publishes it (its root_url).
        depends_on: namespaces and the Secrets of `monitoring_specs.secret_args`.
    """

    namespace: str
    config: MonitoringConfig
    triggers: Triggers
    targets: tuple[scrape.ScrapeTarget, ...]
    grafana_url: str | None = None
    depends_on: tuple[pulumi.Resource, ...] = ()


def all_targets(args: MonitoringArgs) -> list[scrape.ScrapeTarget]:
    """Return every scrape job: the given ones and the Pushgateway, sorted by job name."""
    return sorted([*args.targets, specs.pushgateway_target(args.namespace)], key=lambda t: t.job)


def validate_args(args: MonitoringArgs) -> None:
    """Raise ValueError if two targets share a job name."""
    jobs = [t.job for t in all_targets(args)]
    if len(set(jobs)) != len(jobs):
        raise ValueError(f"MonitoringArgs.targets: duplicate job names in {sorted(jobs)}")


class Monitoring(pulumi.ComponentResource):
    """Prometheus, Alertmanager and Grafana (chart), Pushgateway, dashboards, rules, monitors.

    Published facts: release_name, prometheus_url, pushgateway_url, endpoints, jobs.
    """

    release: kubernetes.helm.v3.Release
    release_name: str
    prometheus_url: str
    pushgateway_url: str
    endpoints: specs.MonitoringEndpoints
    jobs: list[str]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Install the chart, then the objects that need its CRDs."""
        validate_args(args)
        groups = specs.rule_groups(args.triggers, args.config.trigger_hold)
        rules = specs.prometheus_rule(args.namespace, groups)
        targets = all_targets(args)
        dashboards = specs.dashboard_config_maps(args.namespace, args.triggers)
        super().__init__("mlops:index:Monitoring", name, None, opts)
        ns = args.namespace
        self.release_name = scrape.RELEASE
        self.prometheus_url = specs.prometheus_url(ns)
        self.pushgateway_url = specs.pushgateway_url(ns)
        self.endpoints = specs.endpoints(ns)
        self.jobs = sorted(t.job for t in targets)
        deps = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        chart = versions.KUBE_PROMETHEUS_CHART
        # The chart's CRDs at the pinned version, applied by Pulumi (server-side apply): a pin
        # bump upgrades them, which Helm never does (monitoring_specs.CRD_FILES says why).
        crds = [
            kubernetes.yaml.v2.ConfigFile(
                f"{name}-{file.removesuffix('.yaml')}", file=url, opts=deps
            )
            for file, url in zip(specs.CRD_FILES, specs.crd_urls(chart.version), strict=True)
        ]
        # helm.v3.Release: it runs the admission-webhook hook Jobs and waits until the
        # operator exists, so the custom resources below can depend on it.
        self.release = pinned_release(
            f"{name}-stack",
            chart,
            release=scrape.RELEASE,
            namespace=ns,
            values=specs.chart_values(args.config, ns, args.grafana_url),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*crds, *args.depends_on]),
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
        for target in targets:
            self._custom(
                f"{name}-{target.job}-monitor",
                scrape.monitor(target, ns, args.config.scrape_interval),
                after_chart,
            )
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
