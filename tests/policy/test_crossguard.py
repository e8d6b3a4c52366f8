"""The CrossGuard pack: validators called in-process with hand-built engine arguments."""

import runpy
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy.crossguard import PACK_NAME, build_policies, object_from
from tests.policy.manifests import NS, app_container, find, helm_resources, stack

REPO_ROOT = Path(__file__).resolve().parents[2]

_TYPES = {
    "Namespace": "kubernetes:core/v1:Namespace",
    "NetworkPolicy": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "ServiceAccount": "kubernetes:core/v1:ServiceAccount",
    "ConfigMap": "kubernetes:core/v1:ConfigMap",
    "Cluster": "kubernetes:postgresql.cnpg.io/v1:Cluster",
    "Deployment": "kubernetes:apps/v1:Deployment",
    "CronJob": "kubernetes:batch/v1:CronJob",
    "Service": "kubernetes:core/v1:Service",
    "PodDisruptionBudget": "kubernetes:policy/v1:PodDisruptionBudget",
    "HorizontalPodAutoscaler": "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "ServiceMonitor": "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
}


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def _urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:dev::mlops-platform::{resource_type}::{name}"


def _policies() -> dict[str, Any]:
    return {policy.name: policy for policy in build_policies()}


def _validate_resource(policy: Any, resource_type: str, props: Any) -> list[str]:
    violations: list[str] = []
    args = ResourceValidationArgs(
        resource_type, props, _urn(resource_type, "r"), "r", _opts(), None
    )
    policy.validate(args, lambda message, _urn=None: violations.append(message))
    return violations


def _stack_args(objects: list[dict[str, Any]]) -> StackValidationArgs:
    resources = [
        PolicyResource(
            _TYPES[obj["kind"]],
            obj,
            _urn(_TYPES[obj["kind"]], obj["metadata"]["name"]),
            obj["metadata"]["name"],
            _opts(),
            None,
            None,
            [],
            {},
        )
        for obj in objects
    ]
    resources += [
        PolicyResource(
            item["type"],
            item["inputs"],
            _urn(item["type"], item["name"]),
            item["name"],
            _opts(),
            None,
            None,
            [],
            {},
        )
        for item in helm_resources()
    ]
    return StackValidationArgs(resources)


def test_pack_has_one_mandatory_policy_per_object_rule_and_a_stack_policy() -> None:
    policies = _policies()
    assert set(policies) == {
        "resources-required",
        "probes-required",
        "image-pinned",
        "no-literal-credentials",
        "service-not-exposed",
        "ingress-tls",
        "platform-stack-invariants",
    }
    assert all(p.enforcement_level == EnforcementLevel.MANDATORY for p in policies.values())
    assert isinstance(policies["image-pinned"], ResourceValidationPolicy)
    assert isinstance(policies["platform-stack-invariants"], StackValidationPolicy)


def test_resource_policies_pass_the_correct_deployment() -> None:
    deployment = find(stack(), "Deployment")
    for name, policy in _policies().items():
        if name != "platform-stack-invariants":
            assert _validate_resource(policy, _TYPES["Deployment"], deployment) == []


def test_resource_policy_reports_latest_image_through_the_engine_proxy() -> None:
    deployment = find(stack(), "Deployment")
    app_container(deployment)["image"] = "nginx:latest"
    violations = _validate_resource(
        _policies()["image-pinned"], _TYPES["Deployment"], unknown_checking_proxy(deployment)
    )
    assert violations == [
        f"Deployment/{NS}/serving: spec.template.spec.containers[0].image 'nginx:latest' uses "
        "the :latest tag; pin a version tag or an @sha256 digest (in infra/versions.py)"
    ]


def test_resource_policy_reports_missing_limits_and_literal_password() -> None:
    deployment = find(stack(), "Deployment")
    container = app_container(deployment)
    del container["resources"]["limits"]
    container["env"][1] = {"name": "DB_PASSWORD", "value": "x"}
    policies = _policies()
    limits = _validate_resource(policies["resources-required"], _TYPES["Deployment"], deployment)
    assert [m.split(" is missing")[0].rsplit(".", 2)[-2:] for m in limits] == [
        ["limits", "cpu"],
        ["limits", "memory"],
    ]
    [secret] = _validate_resource(
        policies["no-literal-credentials"], _TYPES["Deployment"], deployment
    )
    assert "env[1] (DB_PASSWORD) takes a literal value" in secret


def test_image_unknown_during_preview_is_not_a_violation() -> None:
    deployment = find(stack(), "Deployment")
    app_container(deployment)["image"] = UNKNOWN_STRING_VALUE
    props = unknown_checking_proxy(deployment)
    assert _validate_resource(_policies()["image-pinned"], _TYPES["Deployment"], props) == []


def test_non_kubernetes_and_helm_resources_are_ignored() -> None:
    assert object_from("random:index/randomPassword:RandomPassword", {"length": 32}) is None
    assert object_from("kubernetes:helm.sh/v3:Release", {"chart": "x"}) is None
    assert object_from("kubernetes:apps/v1:DeploymentPatch", {"spec": {}}) is None
    obj = object_from("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "c"}})
    assert obj == {"metadata": {"name": "c"}, "apiVersion": "v1", "kind": "ConfigMap"}
    group = object_from("kubernetes:networking.k8s.io/v1:NetworkPolicy", {})
    assert group is not None
    assert group["apiVersion"] == "networking.k8s.io/v1"


def test_stack_policy_passes_the_correct_stack() -> None:
    violations: list[tuple[str, str | None]] = []
    _policies()["platform-stack-invariants"].validate(
        _stack_args(stack()), lambda message, urn=None: violations.append((message, urn))
    )
    assert violations == []


def test_stack_policy_reports_broken_references_against_the_resource_urn() -> None:
    objects = stack()
    find(objects, "Service")["spec"]["selector"] = {"app": "nothing"}
    find(objects, "NetworkPolicy")["spec"]["policyTypes"] = ["Ingress"]
    objects[0]["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": "restricted"}
    app_container(find(objects, "Deployment"))["securityContext"]["privileged"] = True
    violations: list[tuple[str, str | None]] = []
    _policies()["platform-stack-invariants"].validate(
        _stack_args(objects), lambda message, urn=None: violations.append((message, urn))
    )
    by_rule = {message.split("]")[0].lstrip("["): (message, urn) for message, urn in violations}
    assert set(by_rule) == {
        "pod-security-restricted",
        "service-selects-pods",
        "default-deny-network-policy",
    }
    assert by_rule["service-selects-pods"][1] == _urn(_TYPES["Service"], "serving")
    assert by_rule["pod-security-restricted"][1] == _urn(_TYPES["Deployment"], "serving")
    assert "privileged is true" in by_rule["pod-security-restricted"][0]
    # a namespace-wide finding is attached to the Namespace resource
    assert by_rule["default-deny-network-policy"][1] == _urn(_TYPES["Namespace"], NS)


def test_policy_pack_entry_point_does_not_start_a_server_when_imported() -> None:
    namespace = runpy.run_path(str(REPO_ROOT / "policy" / "__main__.py"), run_name="not_main")
    assert namespace["PACK_NAME"] == PACK_NAME == "mlops-platform"


def test_policy_project_file_runs_python_from_the_project_venv() -> None:
    import yaml

    project = yaml.safe_load((REPO_ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert project["runtime"] == {"name": "python", "options": {"virtualenv": "../.venv"}}


@pytest.mark.parametrize("rule", ["probes-required", "resources-required"])
def test_resource_policies_ignore_objects_without_pods(rule: str) -> None:
    service = find(stack(), "Service")
    assert _validate_resource(_policies()[rule], _TYPES["Service"], service) == []
