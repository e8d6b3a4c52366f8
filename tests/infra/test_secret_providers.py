"""Every secret provider makes the same Secrets, so no workload changes when the provider does.

Each stack is rendered with `secrets.provider` kubernetes (the stack files), openbao and external;
the workloads' pod specs, the Secrets they read (name, namespace, type, keys) and the reader RBAC
must be identical, and the policy rules and wiring checks must pass on every render.
"""

from __future__ import annotations

import json
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from infra.components import external_secrets, openbao
from infra.components.external_secrets import StoreBackend
from infra.config import ConfigError, OpenbaoConfig, load_stack_file
from infra.render import RenderedStack
from policy.objects import kind, name, namespace, pod_spec
from policy.rules import check_stack
from policy.security import restricted_namespaces
from tests.infra.crd_schemas import SCHEMA_DIR
from tests.infra.rendering import REPO_ROOT, SECRET_PROVIDERS, STACKS, with_secrets
from tests.infra.test_invariants import RULES
from tests.infra.test_one_fact import _serving_port_uses
from tests.infra.test_schema import schema_errors

PROVIDERS = tuple(SECRET_PROVIDERS)
OTHERS = ("openbao", "external")
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job")
ES = ("external-secrets.io/v1", "ExternalSecret")


def _app_namespaces(rendered: RenderedStack) -> set[str]:
    """The namespaces whose pods the platform writes (labelled part-of with an app component)."""
    return {
        name(o)
        for o in rendered.manifests
        if kind(o) == "Namespace"
        and o["metadata"]["labels"].get("app.kubernetes.io/component")
        in ("platform", "training", "serving", "monitoring")
    }


def _pod_specs(rendered: RenderedStack) -> dict[str, Any]:
    apps = _app_namespaces(rendered)
    return {
        f"{kind(o)} {namespace(o)}/{name(o)}": pod_spec(o)
        for o in rendered.manifests
        if kind(o) in WORKLOADS and namespace(o) in apps
    }


def _secrets(rendered: RenderedStack) -> dict[str, tuple[str, list[str], dict[str, str]]]:
    """namespace/name -> (type, keys, labels) of every Secret, rendered or an ExternalSecret's."""
    found = {}
    for o in rendered.manifests:
        where = f"{namespace(o)}/{name(o)}"
        if kind(o) == "Secret" and name(o) != external_secrets.SEED_NAME:
            labels = o["metadata"]["labels"]
            found[where] = (o.get("type", "Opaque"), sorted(o["stringData"]), labels)
        elif (o["apiVersion"], kind(o)) == ES:
            target = o["spec"]["target"]
            template = target["template"]
            labels = template["metadata"]["labels"]
            found[f"{namespace(o)}/{target['name']}"] = (
                template["type"],
                sorted(template["data"]),
                labels,
            )
    return found


def _rbac(rendered: RenderedStack) -> list[dict[str, Any]]:
    return [o for o in rendered.manifests if kind(o) in ("Role", "RoleBinding")]


@pytest.mark.parametrize("provider", OTHERS)
@pytest.mark.parametrize("stack", STACKS)
def test_switching_the_secret_provider_leaves_every_workload_pod_spec_unchanged(
    provider_renders: dict[tuple[str, str], RenderedStack], stack: str, provider: str
) -> None:
    kubernetes_specs = _pod_specs(provider_renders[(stack, "kubernetes")])
    # Not vacuous: the workloads are there and read Secrets.
    assert {"Deployment", "CronJob", "Job"} <= {key.split()[0] for key in kubernetes_specs}
    assert "secretKeyRef" in json.dumps(kubernetes_specs)
    assert _pod_specs(provider_renders[(stack, provider)]) == kubernetes_specs


@pytest.mark.parametrize("provider", OTHERS)
@pytest.mark.parametrize("stack", STACKS)
def test_every_provider_makes_the_same_secrets_and_reader_rbac(
    provider_renders: dict[tuple[str, str], RenderedStack], stack: str, provider: str
) -> None:
    kubernetes_render = provider_renders[(stack, "kubernetes")]
    render = provider_renders[(stack, provider)]
    assert _secrets(render) == _secrets(kubernetes_render)
    assert _rbac(render) == _rbac(kubernetes_render)
    external = [o for o in render.manifests if (o["apiVersion"], kind(o)) == ES]
    assert len(external) >= 5, "each credential Secret is an ExternalSecret's target"
    # No credential reaches the manifests: only remote key names.
    assert all("<secret:" not in json.dumps(o) for o in external)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stack", STACKS)
def test_every_rendered_object_is_strictly_valid_with_every_provider(
    provider_renders: dict[tuple[str, str], RenderedStack], stack: str, provider: str
) -> None:
    manifests = provider_renders[(stack, provider)].manifests
    assert [message for obj in manifests for message in schema_errors(obj)] == []


def test_the_openbao_render_has_its_store_and_push(
    provider_renders: dict[tuple[str, str], RenderedStack],
) -> None:
    render = provider_renders[("prod", "openbao")]
    kinds = {(o["apiVersion"], kind(o)) for o in render.manifests}
    assert {
        ES,
        ("external-secrets.io/v1", "ClusterSecretStore"),
        ("external-secrets.io/v1alpha1", "PushSecret"),
    } <= kinds
    (push,) = [o for o in render.manifests if kind(o) == "PushSecret"]
    pushed = {d["match"]["remoteRef"]["remoteKey"] for d in push["spec"]["data"]}
    read = {
        d["remoteRef"]["key"]
        for o in render.manifests
        if (o["apiVersion"], kind(o)) == ES
        for d in o["spec"]["data"]
    }
    assert read == pushed, "every value an ExternalSecret reads is pushed, and only those"
    # The chart workloads run in namespaces that enforce restricted Pod Security.
    assert {"openbao", "external-secrets"} <= restricted_namespaces(render.manifests)
    charts = {r["inputs"]["chart"] for r in render.resources if "helm.sh" in r["type"]}
    assert {"openbao", "external-secrets"} <= charts


def test_the_external_provider_creates_no_store_and_generates_nothing(
    provider_renders: dict[tuple[str, str], RenderedStack],
) -> None:
    render = provider_renders[("prod", "external")]
    kinds = {kind(o) for o in render.manifests}
    assert "ClusterSecretStore" not in kinds
    assert "PushSecret" not in kinds
    assert not [
        r for r in render.resources if r["type"] == "random:index/randomPassword:RandomPassword"
    ]
    stores = {
        o["spec"]["secretStoreRef"]["name"]
        for o in render.manifests
        if (o["apiVersion"], kind(o)) == ES
    }
    assert stores == {"cloud-secrets"}


@pytest.mark.parametrize("provider", OTHERS)
@pytest.mark.parametrize("stack", STACKS)
def test_policy_rules_and_wiring_hold_with_every_provider(
    provider_renders: dict[tuple[str, str], RenderedStack], stack: str, provider: str
) -> None:
    render = provider_renders[(stack, provider)]
    violations = check_stack(render.manifests, render.resources)
    assert set(violations) == set(RULES)
    assert {rule: found for rule, found in violations.items() if found} == {}
    # The wiring checks of test_one_fact see the same facts as with Kubernetes Secrets.
    kubernetes_render = provider_renders[(stack, "kubernetes")]
    assert _serving_port_uses(render) == _serving_port_uses(kubernetes_render)
    assert _app_namespaces(render) <= restricted_namespaces(render.manifests)


def test_external_without_a_store_name_is_a_clear_config_error(tmp_path: Path) -> None:
    config = with_secrets("dev", {"provider": "external"}, tmp_path / "Pulumi.dev.yaml")
    with pytest.raises(ConfigError) as error:
        load_stack_file(config)
    assert error.value.problems == [
        (
            "mlops-platform:secrets.external",
            "required when secrets.provider is 'external': name the existing "
            "ClusterSecretStore with secrets.external.storeName (docs/forking.md)",
        )
    ]


def test_provider_settings_for_another_provider_are_refused(tmp_path: Path) -> None:
    secrets = {"provider": "kubernetes", "openbao": {"kvMount": "kv"}}
    config = with_secrets("dev", secrets, tmp_path / "Pulumi.dev.yaml")
    with pytest.raises(ConfigError) as error:
        load_stack_file(config)
    [(key, what)] = error.value.problems
    assert key == "mlops-platform:secrets.openbao"
    assert "only used when secrets.provider is 'openbao'" in what


def _render_go(template: str, values: dict[str, str]) -> str:
    """Evaluate the two actions go_template emits (`{{ .name }}`, `{{ "{{" }}`), as Go would."""
    out, rest = [], template
    while "{{" in rest:
        before, _, rest = rest.partition("{{")
        action, _, rest = rest.partition("}}")
        action = action.strip()
        out += [before, "{{" if action == '"{{"' else values[action.removeprefix(".")]]
    return "".join([*out, rest])


@pytest.mark.parametrize(
    "template",
    ["postgresql://u:${pw}@h:5432/db", '{"a": {"b": "${pw}"}}', "x {{ y }} $$ ${pw}", "plain"],
)
def test_go_templates_build_the_same_values_as_the_kubernetes_provider(template: str) -> None:
    values = {"pw": "s3cr3t"}
    expected = string.Template(template).substitute(values)
    assert _render_go(external_secrets.go_template(template), values) == expected


def test_remote_keys_are_what_every_cloud_secret_manager_accepts() -> None:
    backend = StoreBackend(store_name="s", refresh_interval="1h", key_prefix="mlops-platform-")
    assert external_secrets.remote_key(backend, "s3_secret_key") == "mlops-platform-s3-secret-key"


def test_chart_values_fit_the_charts_values_schemas() -> None:
    for chart, values in (
        ("openbao", openbao.openbao_values(OpenbaoConfig(storage_class="fast"))),
        ("external-secrets", openbao.operator_values()),
    ):
        schema = json.loads((SCHEMA_DIR / chart / "values.schema.json").read_text())
        validator = jsonschema.Draft7Validator(schema)
        assert list(validator.iter_errors(values)) == [], chart
        assert not validator.is_valid({**values, "global": "not-a-mapping"}), chart


def test_the_listed_remote_keys_are_the_ones_the_external_render_reads(
    provider_renders: dict[tuple[str, str], RenderedStack], tmp_path: Path
) -> None:
    config = with_secrets("prod", SECRET_PROVIDERS["external"], tmp_path / "Pulumi.prod.yaml")
    proc = subprocess.run(
        [sys.executable, "-m", "infra.secret_keys", "--stack", "prod", "--config", str(config)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    listed = {line.split("\t")[0] for line in proc.stdout.splitlines()}
    read = {
        d["remoteRef"]["key"]
        for o in provider_renders[("prod", "external")].manifests
        if (o["apiVersion"], kind(o)) == ES
        for d in o["spec"]["data"]
    }
    assert listed == read
    assert "mlops-platform-postgres-app" in listed
