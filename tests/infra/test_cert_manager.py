"""cert-manager: installed before the backup plugin where the stack says so, or assumed present."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from infra import versions
from infra.components import certmanager
from infra.config import PlatformConfig, load_stack_file
from infra.render import RenderedStack
from tests.infra.crd_schemas import SCHEMA_DIR
from tests.infra.rendering import REPO_ROOT, STACKS, RenderRun

P = "mlops-platform:"


def _releases(rendered: RenderedStack, chart: str) -> list[dict[str, Any]]:
    return [
        r
        for r in rendered.resources
        if r["type"] == "kubernetes:helm.sh/v3:Release" and r["inputs"]["chart"] == chart
    ]


def _policies(rendered: RenderedStack, namespace: str) -> dict[str, dict[str, Any]]:
    return {
        m["metadata"]["name"]: m
        for m in rendered.manifests
        if m["kind"] == "NetworkPolicy" and m["metadata"]["namespace"] == namespace
    }


@pytest.mark.parametrize("stack", STACKS)
def test_the_backup_plugin_is_installed_after_cert_manager_as_the_stack_file_says(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    rendered = rendered_stacks[stack]
    certs = load_stack_file(REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml").cert_manager
    installed = _releases(rendered, versions.CERT_MANAGER_CHART.chart)
    plugins = _releases(rendered, versions.BARMAN_CLOUD_CHART.chart)
    if stack == "dev":
        # No backups in dev, so neither the plugin nor cert-manager.
        assert (certs, installed, plugins) == (None, [], [])
        return
    assert certs is not None
    assert certs.install
    (release,) = installed
    (plugin,) = plugins
    assert release["inputs"]["version"] == versions.CERT_MANAGER_CHART.version
    assert release["inputs"]["namespace"] == certs.namespace
    assert release["inputs"]["values"]["crds"] == {"enabled": True, "keep": True}
    assert release["name"] in plugin["depends_on"]
    namespaces = [m["metadata"]["name"] for m in rendered.manifests if m["kind"] == "Namespace"]
    assert certs.namespace in namespaces


def _stack_config(stack: str) -> PlatformConfig:
    return load_stack_file(REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml")


@pytest.mark.parametrize("stack", ["stage", "prod"])
def test_cert_manager_may_call_only_the_api_server_and_only_its_webhook_is_called(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    policies = _policies(rendered_stacks[stack], "cert-manager")
    assert set(policies) == {
        "default-deny",
        "allow-dns",
        "api-server-cert-manager",
        "cert-manager-webhook",
    }
    egress = policies["api-server-cert-manager"]["spec"]["egress"]
    assert [rule["ports"] for rule in egress] == [
        [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]
    ]
    # Only the stack's control-plane range, not the whole internet.
    assert [rule["to"] for rule in egress] == [
        [{"ipBlock": {"cidr": cidr}} for cidr in _stack_config(stack).network.control_plane_cidrs]
    ]
    webhook = policies["cert-manager-webhook"]["spec"]
    assert webhook["podSelector"] == {"matchLabels": certmanager.WEBHOOK_PODS}
    assert webhook["ingress"] == [{"ports": [{"port": 10250, "protocol": "TCP"}]}]
    assert webhook["policyTypes"] == ["Ingress"]


def test_values_fit_the_cert_manager_charts_values_schema() -> None:
    source = json.loads((SCHEMA_DIR / "cert-manager" / "source.json").read_text())
    assert source["version"] == versions.CERT_MANAGER_CHART.version
    schema = json.loads((SCHEMA_DIR / "cert-manager" / "values.schema.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert list(validator.iter_errors(certmanager.chart_values())) == []
    wrong = copy.deepcopy(certmanager.chart_values())
    wrong["webhook"]["securePort"] = "10250"
    wrong["crds"]["instal"] = True
    assert len(list(validator.iter_errors(wrong))) == 2


def test_an_existing_cert_manager_is_used_without_installing_one(
    tmp_path: Path, render_stack: Callable[..., RenderRun]
) -> None:
    document = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.stage.yaml").read_text())
    document["config"][P + "certManager"] = {"install": False}
    path = tmp_path / "Pulumi.stage.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    rendered = render_stack(path, "stage").load()
    assert _releases(rendered, versions.CERT_MANAGER_CHART.chart) == []
    (plugin,) = _releases(rendered, versions.BARMAN_CLOUD_CHART.chart)
    assert not any("cert-manager" in dep for dep in plugin["depends_on"])
    assert _policies(rendered, "cert-manager") == {}
