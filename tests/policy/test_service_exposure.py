"""`service-not-exposed`: no Service reaches outside the cluster except through the Ingress."""

from typing import Any

import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs

from policy.crossguard import build_policies
from policy.exposure import check_service_exposure
from policy.rules import OBJECT_RULES, check_stack
from tests.policy.manifests import NS, find, stack

SERVICE = f"Service/{NS}/serving"
SERVICE_TYPE = "kubernetes:core/v1:Service"


def _service(**spec: Any) -> dict[str, Any]:
    service = find(stack(), "Service")
    service["spec"].update(spec)
    return service


def _crossguard_violations(service: dict[str, Any]) -> list[str]:
    """What the pack's CrossGuard resource policy reports for ``service``."""
    [policy] = [p for p in build_policies() if p.name == "service-not-exposed"]
    options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    urn = f"urn:pulumi:dev::mlops-platform::{SERVICE_TYPE}::serving"
    args = ResourceValidationArgs(SERVICE_TYPE, service, urn, "serving", options, None)
    violations: list[str] = []
    policy.validate(args, lambda message, _urn=None: violations.append(message))
    return violations


@pytest.mark.parametrize("service_type", ["LoadBalancer", "NodePort"])
def test_a_service_exposed_outside_the_cluster_is_refused(service_type: str) -> None:
    service = _service(type=service_type)
    expected = [
        f"{SERVICE}: spec.type is {service_type!r}, which exposes the pods outside the "
        "cluster; use ClusterIP and expose it through the Ingress or gateway"
    ]
    assert check_service_exposure(service) == expected
    assert _crossguard_violations(service) == expected
    objects = [service if obj["kind"] == "Service" else obj for obj in stack()]
    assert check_stack(objects)["service-not-exposed"] == expected


def test_external_ips_are_refused_even_on_a_cluster_ip_service() -> None:
    [message] = check_service_exposure(_service(type="ClusterIP", externalIPs=["203.0.113.7"]))
    assert message.startswith(f"{SERVICE}: spec.externalIPs is set")


@pytest.mark.parametrize("spec", [{}, {"type": "ClusterIP"}, {"clusterIP": "None"}])
def test_cluster_internal_services_pass(spec: dict[str, Any]) -> None:
    service = _service(**spec)
    assert check_service_exposure(service) == []
    assert _crossguard_violations(service) == []


def test_the_rule_is_an_object_rule_and_ignores_other_kinds() -> None:
    assert OBJECT_RULES["service-not-exposed"] is check_service_exposure
    assert all(check_service_exposure(obj) == [] for obj in stack())
    deployment = find(stack(), "Deployment")
    deployment["spec"]["type"] = "LoadBalancer"  # not a Service: not this rule's business
    assert check_service_exposure(deployment) == []
