"""Data safety in the renders: protected stateful resources, backups, persistent monitoring."""

from __future__ import annotations

from typing import Any

import pytest

from infra import versions
from infra.components import monitoring_specs, postgres
from infra.config import load_stack_file
from infra.render import RenderedStack
from tests.infra.crd_schemas import SCHEMA_DIR
from tests.infra.rendering import REPO_ROOT, STACKS

STATEFUL_TYPES = {
    "kubernetes:core/v1:Namespace",
    "kubernetes:core/v1:PersistentVolumeClaim",
}


def _cfg(stack: str) -> Any:
    return load_stack_file(REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml")


def _stateful(rendered: RenderedStack) -> list[dict[str, Any]]:
    """Namespaces, the object store's claim and the CloudNativePG Cluster."""
    return [
        r
        for r in rendered.resources
        if r["type"] in STATEFUL_TYPES
        or (
            r["type"].startswith("kubernetes:postgresql.cnpg.io/")
            and r["inputs"]["kind"] == "Cluster"
        )
    ]


def _one(rendered: RenderedStack, kind: str) -> dict[str, Any]:
    (found,) = [m for m in rendered.manifests if m["kind"] == kind]
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_stateful_resources_are_protected_as_the_stack_file_says(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    stateful = _stateful(rendered_stacks[stack])
    kinds = {r["inputs"].get("kind") or r["type"].rsplit(":", 1)[-1] for r in stateful}
    assert kinds == {"Namespace", "PersistentVolumeClaim", "Cluster"}
    protect = _cfg(stack).protect_data
    assert protect is (stack != "dev")
    for rec in stateful:
        assert rec["options"]["protect"] is protect, rec["name"]
        assert rec["options"]["retainOnDelete"] is protect, rec["name"]


def test_stateless_resources_stay_replaceable(rendered_stacks: dict[str, RenderedStack]) -> None:
    # Protection is for data: a Deployment or a Job must still be replaceable by `pulumi up`.
    prod = rendered_stacks["prod"]
    stateless = [r for r in prod.resources if r["type"].startswith("kubernetes:apps/v1:")]
    assert stateless
    assert not any(r["options"]["protect"] for r in stateless)


@pytest.mark.parametrize("stack", ["stage", "prod"])
def test_stage_and_prod_archive_wal_and_back_up_on_schedule(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    rendered, backups = rendered_stacks[stack], _cfg(stack).postgres.backups
    assert backups is not None
    cluster, store = _one(rendered, "Cluster"), _one(rendered, "ObjectStore")
    scheduled = _one(rendered, "ScheduledBackup")
    assert cluster["spec"]["plugins"] == [
        {
            "name": postgres.BARMAN_PLUGIN,
            "isWALArchiver": True,
            "parameters": {"barmanObjectName": store["metadata"]["name"]},
        }
    ]
    assert "backup" not in cluster["spec"], "the in-tree barmanObjectStore is deprecated"
    assert store["spec"]["retentionPolicy"] == backups.retention
    assert store["spec"]["configuration"]["destinationPath"] == f"s3://{backups.bucket}/"
    assert scheduled["spec"]["method"] == "plugin"
    assert scheduled["spec"]["schedule"] == backups.schedule
    assert scheduled["spec"]["cluster"] == {"name": cluster["metadata"]["name"]}
    plugin = [
        r
        for r in rendered.resources
        if r["type"] == "kubernetes:helm.sh/v3:Release"
        and r["inputs"]["chart"] == versions.BARMAN_CLOUD_CHART.chart
    ]
    assert [p["inputs"]["namespace"] for p in plugin] == ["cnpg-system"]
    assert plugin[0]["inputs"]["version"] == versions.BARMAN_CLOUD_CHART.version


def test_dev_has_no_backups(rendered_stacks: dict[str, RenderedStack]) -> None:
    kinds = {m["kind"] for m in rendered_stacks["dev"].manifests}
    assert not kinds & {"ObjectStore", "ScheduledBackup"}
    assert "plugins" not in _one(rendered_stacks["dev"], "Cluster")["spec"]


def _policy(rendered: RenderedStack, name: str) -> dict[str, Any]:
    (found,) = [
        m
        for m in rendered.manifests
        if m["kind"] == "NetworkPolicy" and m["metadata"]["name"] == name
    ]
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_backup_flows_exist_exactly_when_backups_do(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    rendered = rendered_stacks[stack]
    has_backups = _cfg(stack).postgres.backups is not None
    pg = _policy(rendered, "postgres")
    s3_ports = [
        r["ports"] for r in pg["spec"]["egress"] if {"port": 8333, "protocol": "TCP"} in r["ports"]
    ]
    assert bool(s3_ports) is has_backups
    ingress = _policy(rendered, "object-store-ingress")["spec"]["ingress"][0]["from"]
    pg_pods = {"cnpg.io/cluster": _one(rendered, "Cluster")["metadata"]["name"]}
    assert any(peer.get("podSelector", {}).get("matchLabels") == pg_pods for peer in ingress) is (
        has_backups
    )
    names = {m["metadata"]["name"] for m in rendered.manifests if m["kind"] == "NetworkPolicy"}
    assert ("backup-plugin" in names) is has_backups


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_and_alertmanager_keep_their_data_on_volumes(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    monitoring = _cfg(stack).monitoring
    (release,) = [
        r
        for r in rendered_stacks[stack].resources
        if r["type"] == "kubernetes:helm.sh/v3:Release"
        and r["inputs"]["chart"] == versions.KUBE_PROMETHEUS_CHART.chart
    ]
    values = release["inputs"]["values"]
    prometheus = values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]
    alertmanager = values["alertmanager"]["alertmanagerSpec"]["storage"]["volumeClaimTemplate"]
    assert prometheus["spec"]["resources"]["requests"]["storage"] == monitoring.storage_size
    assert alertmanager["spec"]["resources"]["requests"]["storage"] == (
        monitoring.alertmanager_storage_size
    )


def test_prometheus_operator_crds_are_applied_by_the_program_at_the_pinned_version(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    version = versions.KUBE_PROMETHEUS_CHART.version
    # One file per CRD the chart ships (the schemas come from the same files).
    schemas = sorted(p.name for p in (SCHEMA_DIR / "kube-prometheus-stack").glob("monitoring.*"))
    assert len(monitoring_specs.CRD_FILES) == len(schemas)
    for rendered in rendered_stacks.values():
        files = [r for r in rendered.resources if r["type"] == "kubernetes:yaml/v2:ConfigFile"]
        urls = sorted(r["inputs"]["file"] for r in files)
        assert urls == sorted(monitoring_specs.crd_urls(version))
        assert all(f"/kube-prometheus-stack-{version}/" in url for url in urls)
        (release,) = [
            r
            for r in rendered.resources
            if r["type"] == "kubernetes:helm.sh/v3:Release"
            and r["inputs"]["chart"] == versions.KUBE_PROMETHEUS_CHART.chart
        ]
        # Helm must not own them (it would never upgrade them), and they exist before it.
        assert release["inputs"]["values"]["crds"] == {"enabled": False}
        assert {r["name"] for r in files} <= set(release["depends_on"])
