"""Monitoring: the pinned chart and its values, dashboards, rules, monitors and job names."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlops_contract.triggers import AccuracyDropTrigger, DriftTrigger, Triggers

from dashboards.rules import TRIGGER_HOLD
from infra import versions
from infra.components import (
    mlflow,
    monitoring_specs,
    monitoring_targets,
    objectstore_specs,
    serving,
)
from infra.components.monitoring import MonitoringArgs, all_targets, validate_args
from infra.config import load_stack_file
from infra.render import RenderedStack
from policy.monitoring import check_monitors, prometheus_release_label
from tests.infra.rendering import REPO_ROOT

STACKS = ("dev", "stage", "prod")
CONFIGS = Path(__file__).parent / "configs"
MONITORS = ("ServiceMonitor", "PodMonitor")


def _release(rendered: RenderedStack) -> dict[str, Any]:
    (release,) = [
        r
        for r in rendered.resources
        if r["type"] == "kubernetes:helm.sh/v3:Release"
        and r["inputs"]["chart"] == versions.KUBE_PROMETHEUS_CHART.chart
    ]
    return release


def _objects(rendered: RenderedStack, *kinds: str) -> list[dict[str, Any]]:
    return [o for o in rendered.manifests if o["kind"] in kinds]


def contract_jobs() -> set[str]:
    """The Prometheus job names listed in docs/contracts.md."""
    text = (REPO_ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    paragraph = text.split("Prometheus job names", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"`([a-z][a-z-]*)`", paragraph))


@pytest.mark.parametrize(("stack", "retention"), [("dev", "2d"), ("stage", "7d"), ("prod", "30d")])
def test_kube_prometheus_stack_is_pinned_with_the_stacks_retention(
    rendered_stacks: dict[str, RenderedStack], stack: str, retention: str
) -> None:
    release = _release(rendered_stacks[stack])
    inputs = release["inputs"]
    assert inputs["version"] == versions.KUBE_PROMETHEUS_CHART.version
    assert inputs["repositoryOpts"]["repo"] == versions.KUBE_PROMETHEUS_CHART.repo
    assert inputs["namespace"] == "mlops-monitoring"
    values = inputs["values"]
    assert values["prometheus"]["prometheusSpec"]["retention"] == retention
    # node-exporter needs host access, which `restricted` forbids.
    assert values["nodeExporter"]["enabled"] is False
    # Grafana's admin password comes from the SecretStore's Secret, never a literal.
    assert values["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    assert "adminPassword" not in values["grafana"]
    assert values["grafana"]["sidecar"]["dashboards"]["label"] == "grafana_dashboard"
    am = values["alertmanager"]["alertmanagerSpec"]
    assert am["useExistingSecret"] is True
    secrets = {
        (o["metadata"]["name"]): o
        for o in _objects(rendered_stacks[stack], "Secret")
        if o["metadata"]["namespace"] == "mlops-monitoring"
    }
    assert set(secrets[am["configSecret"]]["stringData"]) == {"alertmanager.yaml"}
    assert set(secrets["grafana-admin"]["stringData"]) == {"admin-user", "admin-password"}


def test_prod_alerts_go_to_the_secret_webhook_and_dev_alerts_nowhere(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    def config(stack: str) -> dict[str, Any]:
        (secret,) = [
            o
            for o in _objects(rendered_stacks[stack], "Secret")
            if o["metadata"]["name"] == "alertmanager-config"
        ]
        loaded = yaml.safe_load(secret["stringData"]["alertmanager.yaml"])
        assert isinstance(loaded, dict)
        return loaded

    prod = config("prod")
    assert prod["route"]["receiver"] == "platform"
    (receiver,) = [r for r in prod["receivers"] if r["name"] == "platform"]
    assert receiver["webhook_configs"][0]["url"] == "<secret:monitoring.alertReceiver>"
    dev = config("dev")
    assert dev["route"]["receiver"] == "null"
    assert all("webhook_configs" not in r for r in dev["receivers"])
    policies = {
        s: {o["metadata"]["name"] for o in _objects(rendered_stacks[s], "NetworkPolicy")}
        for s in ("dev", "prod")
    }
    assert "alertmanager-egress" in policies["prod"]
    assert "alertmanager-egress" not in policies["dev"]


def _committed_rule_groups() -> list[dict[str, Any]]:
    expected = []
    for path in sorted((REPO_ROOT / "dashboards" / "rules").glob("*.yaml")):
        expected += yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    return expected


def _alert_holds(groups: list[dict[str, Any]]) -> dict[str, str]:
    return {r["alert"]: r["for"] for g in groups for r in g["rules"] if "alert" in r}


@pytest.mark.parametrize("stack", ["stage", "prod"])
def test_prometheus_rule_holds_exactly_the_rule_files_groups(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    # stage and prod keep the default thresholds and hold time: the committed rule files.
    (rule,) = _objects(rendered_stacks[stack], "PrometheusRule")
    assert rule["spec"]["groups"] == _committed_rule_groups()
    assert rule["metadata"]["labels"]["release"] == monitoring_targets.RELEASE


def test_dev_trigger_alerts_hold_for_the_stacks_trigger_hold(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    cfg = load_stack_file(REPO_ROOT / "stacks" / "Pulumi.dev.yaml")
    assert cfg.monitoring.trigger_hold == "1m"
    (rule,) = _objects(rendered_stacks["dev"], "PrometheusRule")
    rendered, committed = (
        _alert_holds(rule["spec"]["groups"]),
        _alert_holds(_committed_rule_groups()),
    )
    trigger_alerts = {"FeatureDriftHigh", "OnlineAccuracyDrop"}
    assert {rendered[a] for a in trigger_alerts} == {"1m"}
    assert {committed[a] for a in trigger_alerts} == {TRIGGER_HOLD}
    # Only the two trigger alerts wait less; every other rule is the committed one.
    assert {a: h for a, h in rendered.items() if a not in trigger_alerts} == {
        a: h for a, h in committed.items() if a not in trigger_alerts
    }
    assert len(rule["spec"]["groups"]) == len(_committed_rule_groups())


def test_dashboards_draw_red_lines_at_the_stacks_thresholds() -> None:
    triggers = Triggers(
        drift=DriftTrigger(max_psi=0.35), accuracy=AccuracyDropTrigger(max_drop=0.08)
    )
    maps = monitoring_specs.dashboard_config_maps("m", triggers)
    (quality,) = [
        json.loads(m["data"]["model-quality.json"])
        for m in maps
        if "model-quality.json" in m["data"]
    ]
    red = {
        panel["title"]: step["value"]
        for panel in quality["panels"]
        for step in panel.get("fieldConfig", {})
        .get("defaults", {})
        .get("thresholds", {})
        .get("steps", [])
        if step.get("color") == "red"
    }
    assert red["Per-feature drift (PSI)"] == 0.35
    assert red["Relative accuracy drop (retrain trigger)"] == 0.08
    default = monitoring_specs.dashboard_config_maps("m", Triggers())
    assert default != maps


@pytest.mark.parametrize("stack", STACKS)
def test_one_labelled_dashboard_config_map_per_json_file(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    files = sorted((REPO_ROOT / "dashboards" / "grafana").glob("*.json"))
    maps = [
        o
        for o in _objects(rendered_stacks[stack], "ConfigMap")
        if o["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    assert len(maps) == len(files) >= 3
    by_key = {key: text for m in maps for key, text in m["data"].items()}
    for path in files:
        assert json.loads(by_key[path.name]) == json.loads(path.read_text(encoding="utf-8"))
    assert {m["metadata"]["namespace"] for m in maps} == {"mlops-monitoring"}


@pytest.mark.parametrize("stack", STACKS)
def test_every_monitor_carries_the_release_label_and_selects_a_rendered_port(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    rendered = rendered_stacks[stack]
    monitors = _objects(rendered, *MONITORS)
    assert len(monitors) == 5
    assert prometheus_release_label(rendered.resources) == monitoring_targets.RELEASE
    for monitor in monitors:
        assert monitor["metadata"]["labels"]["release"] == _release(rendered)["inputs"]["name"]
    assert check_monitors(rendered.manifests, monitoring_targets.RELEASE) == []
    # The check is not vacuous: a monitor pointing at a port no Service has is reported.
    broken = json.loads(json.dumps(monitors))
    for monitor in broken:
        for endpoint in monitor["spec"].get("endpoints", []):
            endpoint["port"] = "nope"
    others = [o for o in rendered.manifests if o["kind"] not in MONITORS]
    assert len(check_monitors(others + broken, monitoring_targets.RELEASE)) == 4


@pytest.mark.parametrize("stack", STACKS)
def test_monitors_wait_for_the_chart_that_installs_their_crds(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    rendered = rendered_stacks[stack]
    release = _release(rendered)["name"]
    custom = [r for r in rendered.resources if r["type"].startswith("kubernetes:monitoring.")]
    assert len(custom) == 6
    for record in custom:
        assert release in record["depends_on"], record["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_job_names_are_the_contract_names(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    jobs = set()
    for monitor in _objects(rendered_stacks[stack], *MONITORS):
        key = "endpoints" if monitor["kind"] == "ServiceMonitor" else "podMetricsEndpoints"
        for endpoint in monitor["spec"][key]:
            (relabel,) = [r for r in endpoint["relabelings"] if r.get("targetLabel") == "job"]
            jobs.add(relabel["replacement"])
    # Prometheus's own job comes from the chart's self-monitor, relabelled the same way.
    values = _release(rendered_stacks[stack])["inputs"]["values"]
    (self_relabel,) = values["prometheus"]["serviceMonitor"]["relabelings"]
    jobs.add(self_relabel["replacement"])
    assert (
        jobs
        == contract_jobs()
        == {
            "serving",
            "mlflow",
            "object-store",
            "postgres",
            "pushgateway",
            "prometheus",
        }
    )


def test_pushgateway_keeps_pushed_job_labels(rendered_stacks: dict[str, RenderedStack]) -> None:
    (monitor,) = [
        o
        for o in _objects(rendered_stacks["dev"], "ServiceMonitor")
        if o["metadata"]["name"] == "pushgateway"
    ]
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True


def test_retrain_pushes_to_the_pushgateway_and_reads_prometheus(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    rendered = rendered_stacks["prod"]
    (cron,) = _objects(rendered, "CronJob")
    container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    (service,) = [
        o
        for o in _objects(rendered, "Service")
        if o["metadata"]["name"] == monitoring_targets.PUSHGATEWAY
    ]
    port = service["spec"]["ports"][0]["port"]
    ns = service["metadata"]["namespace"]
    assert env["PUSHGATEWAY_URL"] == f"http://pushgateway.{ns}.svc.cluster.local:{port}"
    # prometheus-operated is the Service the operator creates for every Prometheus (web: 9090).
    assert env["PROMETHEUS_URL"] == f"http://prometheus-operated.{ns}.svc.cluster.local:9090"


def test_external_object_store_has_no_object_store_monitor() -> None:
    external = load_stack_file(CONFIGS / "external-s3.yaml").object_store
    assert objectstore_specs.scrape_target(external, "p") is None
    seaweed = objectstore_specs.scrape_target(
        load_stack_file(CONFIGS / "seaweedfs.yaml").object_store, "p"
    )
    assert seaweed is not None
    assert (seaweed.job, seaweed.port, seaweed.path) == ("object-store", "metrics", "/metrics")


def test_monitoring_adds_its_own_pushgateway_job_and_refuses_duplicates() -> None:
    cfg = load_stack_file(REPO_ROOT / "stacks" / "Pulumi.dev.yaml")
    args = MonitoringArgs(
        namespace="m",
        config=cfg.monitoring,
        triggers=Triggers(),
        targets=(serving.scrape_target("s"), mlflow.scrape_target("p")),
    )
    assert [t.job for t in all_targets(args)] == ["mlflow", "pushgateway", "serving"]
    twice = replace(args, targets=(*args.targets, serving.scrape_target("other")))
    with pytest.raises(ValueError, match="duplicate job names"):
        validate_args(twice)
