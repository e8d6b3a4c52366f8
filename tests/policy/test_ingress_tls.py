"""`ingress-tls`: every host an Ingress routes is served over TLS, and only named hosts."""

import copy
from typing import Any

import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs

from policy.crossguard import build_policies
from policy.exposure import check_ingress_tls
from policy.rules import OBJECT_RULES, check_stack
from tests.policy.manifests import NS, stack

INGRESS_TYPE = "kubernetes:networking.k8s.io/v1:Ingress"
BACKEND = {"service": {"name": "serving", "port": {"number": 8080}}}
INGRESS: dict[str, Any] = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {
        "name": "serving",
        "namespace": NS,
        "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
    },
    "spec": {
        "ingressClassName": "nginx",
        "tls": [{"hosts": ["serving.example.com"], "secretName": "serving-tls"}],
        "rules": [
            {
                "host": "serving.example.com",
                "http": {"paths": [{"path": "/predict", "pathType": "Exact", "backend": BACKEND}]},
            }
        ],
    },
}
REF = f"Ingress/{NS}/serving"


def _ingress() -> dict[str, Any]:
    return copy.deepcopy(INGRESS)


def _crossguard_violations(ingress: dict[str, Any]) -> list[str]:
    [policy] = [p for p in build_policies() if p.name == "ingress-tls"]
    options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    urn = f"urn:pulumi:prod::mlops-platform::{INGRESS_TYPE}::serving"
    args = ResourceValidationArgs(INGRESS_TYPE, ingress, urn, "serving", options, None)
    violations: list[str] = []
    policy.validate(args, lambda message, _urn=None: violations.append(message))
    return violations


def test_an_ingress_with_tls_for_its_host_passes() -> None:
    assert check_ingress_tls(_ingress()) == []
    assert _crossguard_violations(_ingress()) == []
    assert check_stack([*stack(), _ingress()])["ingress-tls"] == []


def test_a_host_without_tls_is_refused() -> None:
    ingress = _ingress()
    del ingress["spec"]["tls"]
    expected = [
        f"{REF}: spec.rules[0].host 'serving.example.com' is not in any spec.tls[].hosts, so it "
        "is served over plain HTTP; add it with a secretName (cert-manager issues it)"
    ]
    assert check_ingress_tls(ingress) == expected
    assert _crossguard_violations(ingress) == expected
    assert check_stack([*stack(), ingress])["ingress-tls"] == expected


def test_tls_for_another_host_does_not_cover_a_rule() -> None:
    ingress = _ingress()
    ingress["spec"]["tls"][0]["hosts"] = ["mlflow.example.com"]
    [message] = check_ingress_tls(ingress)
    assert "'serving.example.com' is not in any spec.tls[].hosts" in message


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda spec: spec["rules"][0].pop("host"), "spec.rules[0] has no host"),
        (lambda spec: spec.update(defaultBackend=BACKEND), "spec.defaultBackend answers every"),
    ],
)
def test_an_ingress_that_answers_for_any_name_is_refused(change: Any, fragment: str) -> None:
    ingress = _ingress()
    change(ingress["spec"])
    [message] = check_ingress_tls(ingress)
    assert message.startswith(f"{REF}: {fragment}")


def test_the_rule_is_an_object_rule_and_ignores_other_kinds() -> None:
    assert OBJECT_RULES["ingress-tls"] is check_ingress_tls
    assert all(check_ingress_tls(obj) == [] for obj in stack())
