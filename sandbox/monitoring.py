"""Prometheus config from the render: scrape jobs from the monitors, rules from the PrometheusRule.

The sandbox and the live monitoring test run a real Prometheus against loopback servers;
building its `scrape_configs` and rule file from the render means the job names, paths,
schemes, label handling and alert rules it runs are the ones `pulumi up` deploys:

    rendered = load_rendered(out_dir, "dev")
    configs = scrape_configs_from_rendered(rendered, {"serving": "127.0.0.1:8080", ...})
    prometheus_yml = {"global": {...}, "scrape_configs": configs}

Prometheus's own job ("prometheus") comes from the chart's self-monitor, which is not rendered;
add it to the config once the test Prometheus's port is known. The rules are the rendered
PrometheusRule's `spec.groups` as they stand (the stack's thresholds and alert hold times).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from infra.render import RenderedStack

MONITOR_KINDS = {"ServiceMonitor": "endpoints", "PodMonitor": "podMetricsEndpoints"}
# What the Prometheus operator uses when a Prometheus or a monitor sets no interval.
OPERATOR_DEFAULT_INTERVAL = "30s"


def evaluation_interval(rendered: RenderedStack) -> str:
    """The rule evaluation interval the rendered kube-prometheus-stack release sets.

    The operator's default applies when the release states none (or the render has no release).
    """
    for resource in rendered.resources:
        values = resource.get("inputs", {}).get("values", {})
        spec = values.get("prometheus", {}).get("prometheusSpec", {}) if values else {}
        if "evaluationInterval" in spec:
            return str(spec["evaluationInterval"])
    return OPERATOR_DEFAULT_INTERVAL


def rule_groups(rendered: RenderedStack) -> list[dict[str, Any]]:
    """The `groups` of every rendered PrometheusRule, as one Prometheus rule file holds them.

    Raises:
        ValueError: the render has no PrometheusRule (nothing would alert).
    """
    groups: list[dict[str, Any]] = []
    for obj in rendered.manifests:
        if obj["kind"] == "PrometheusRule":
            groups += obj["spec"]["groups"]
    if not groups:
        raise ValueError(f"rendered stack {rendered.stack} has no PrometheusRule with groups")
    return groups


def _job(endpoint: Mapping[str, Any], fallback: str) -> str:
    """The job a monitor's relabelings set (the contract name), else the monitor's name."""
    for rule in endpoint.get("relabelings") or []:
        action = str(rule.get("action", "replace")).lower()
        if rule.get("targetLabel") == "job" and action == "replace" and "replacement" in rule:
            return str(rule["replacement"])
    return fallback


def _addresses(value: str | Sequence[str]) -> list[str]:
    """One `host:port` or several (replicas of one job) as a target list."""
    return [value] if isinstance(value, str) else list(value)


def scrape_configs_from_rendered(
    rendered: RenderedStack,
    targets: Mapping[str, str | Sequence[str]],
    interval: str | None = None,
) -> list[dict[str, Any]]:
    """Return one Prometheus scrape config per rendered monitor endpoint, aimed at `targets`.

    Args:
        rendered: a rendered stack (infra.render.load_rendered).
        targets: job name -> loopback `host:port` (or a list, one per replica); every
            rendered job needs at least one, and no other job may appear.
        interval: overrides every endpoint's scrape interval (and timeout) when given.

    Raises:
        ValueError: a rendered job has no target, or a target names no rendered job.
    """
    configs: list[dict[str, Any]] = []
    for obj in rendered.manifests:
        key = MONITOR_KINDS.get(obj["kind"])
        if key is None:
            continue
        for endpoint in obj["spec"][key]:
            job = _job(endpoint, obj["metadata"]["name"])
            every = interval or str(endpoint.get("interval", OPERATOR_DEFAULT_INTERVAL))
            configs.append(
                {
                    "job_name": job,
                    "metrics_path": str(endpoint.get("path", "/metrics")),
                    "scheme": str(endpoint.get("scheme", "http")),
                    "honor_labels": bool(endpoint.get("honorLabels", False)),
                    "scrape_interval": every,
                    "scrape_timeout": str(endpoint.get("scrapeTimeout", every)),
                    "static_configs": [{"targets": _addresses(targets.get(job, []))}],
                }
            )
    jobs = [c["job_name"] for c in configs]
    if len(set(jobs)) != len(jobs):
        raise ValueError(f"rendered monitors repeat a job name: {sorted(jobs)}")
    missing = sorted(job for job in jobs if not _addresses(targets.get(job, [])))
    unknown = sorted(set(targets) - set(jobs))
    if missing or unknown:
        raise ValueError(
            f"targets must name every rendered job exactly: missing {missing}, unknown {unknown} "
            f"(rendered jobs: {sorted(jobs)})"
        )
    return sorted(configs, key=lambda c: c["job_name"])
