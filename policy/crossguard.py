"""Adapters from Pulumi CrossGuard arguments to the pure rules, and the policy list.

The validators here are plain functions, so tests call them in-process with hand-built
`ResourceValidationArgs`/`StackValidationArgs`; only `policy/__main__.py` starts the pack.
"""

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from policy.objects import UNKNOWN, K8sObject, ref
from policy.rules import OBJECT_RULES, check_stack

PACK_NAME = "mlops-platform"

# kubernetes:<group>/<version>:<Kind>; helm/yaml/kustomize "groups" are Pulumi components.
_K8S_TYPE = re.compile(r"^kubernetes:(?P<group>[^/:]+)/(?P<version>[^:]+):(?P<kind>[A-Za-z0-9]+)$")
_NOT_API_GROUPS = frozenset({"helm.sh", "yaml", "kustomize"})

_DESCRIPTIONS = {
    "resources-required": "Every container and initContainer sets cpu/memory requests and limits.",
    "probes-required": "Every container of a Deployment/StatefulSet/DaemonSet has readiness and "
    "liveness probes.",
    "image-pinned": "Every image is pinned by a tag other than latest, or by digest.",
    "no-literal-credentials": "Credentials only by Secret reference: no literal in env, ConfigMap "
    "or URI.",
    "service-not-exposed": "No Service of type LoadBalancer or NodePort, nor with externalIPs: "
    "exposure only through the Ingress or gateway.",
    "ingress-tls": "Every Ingress rule names a host that its spec.tls covers; no default backend.",
}
_STACK_DESCRIPTION = (
    "Cross-object rules: restricted pod security in app namespaces, references that exist, "
    "selectors that select, default-deny NetworkPolicies, monitors Prometheus will use."
)


def object_from(resource_type: str, props: Mapping[str, Any]) -> K8sObject | None:
    """A plain Kubernetes object from a Pulumi resource type and its properties, or None."""
    match = _K8S_TYPE.match(resource_type)
    if (
        match is None
        or match["group"] in _NOT_API_GROUPS
        or match["kind"].endswith(("Patch", "List"))
    ):
        return None
    group, version = match["group"], match["version"]
    obj = _plain(props)
    if not isinstance(obj, dict):
        return None
    obj.setdefault("apiVersion", version if group == "core" else f"{group}/{version}")
    obj.setdefault("kind", match["kind"])
    return obj


def validate_object_rule(rule_name: str) -> Any:
    """A CrossGuard resource validator that runs one per-object rule."""
    rule = OBJECT_RULES[rule_name]

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        obj = object_from(args.resource_type, args.props)
        if obj is None:
            return
        for message in rule(obj):
            report_violation(message, None)

    validate.__name__ = f"validate_{rule_name.replace('-', '_')}"
    return validate


def validate_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """The CrossGuard stack validator: every cross-object rule over the stack's objects."""
    objects: list[K8sObject] = []
    urns: dict[str, str] = {}
    resources: list[dict[str, Any]] = []
    for resource in args.resources:
        resources.append(
            {
                "type": resource.resource_type,
                "name": resource.name,
                "inputs": _plain(resource.props),
            }
        )
        obj = object_from(resource.resource_type, resource.props)
        if obj is not None:
            objects.append(obj)
            urns[ref(obj)] = resource.urn
    results = check_stack(objects, resources)
    for rule_name, messages in results.items():
        if rule_name in OBJECT_RULES:
            continue  # already reported per resource, with the resource's URN
        for message in messages:
            subject = message.split(": ", 1)[0]
            report_violation(f"[{rule_name}] {message}", urns.get(subject))


def build_policies() -> list[Any]:
    """Every policy of the pack; all mandatory (a violation blocks `pulumi up`)."""
    policies: list[Any] = [
        ResourceValidationPolicy(
            name=rule_name,
            description=_DESCRIPTIONS[rule_name],
            validate=validate_object_rule(rule_name),
            enforcement_level=EnforcementLevel.MANDATORY,
        )
        for rule_name in OBJECT_RULES
    ]
    policies.append(
        StackValidationPolicy(
            name="platform-stack-invariants",
            description=_STACK_DESCRIPTION,
            validate=validate_stack,
            enforcement_level=EnforcementLevel.MANDATORY,
        )
    )
    return policies


def _plain(value: Any) -> Any:
    """Deep copy of CrossGuard props into dicts/lists; values unknown in preview -> UNKNOWN."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in value:
            try:
                out[str(key)] = _plain(value[key])
            except UnknownValueError:
                out[str(key)] = UNKNOWN
        return out
    # The CrossGuard list proxy is a Sequence but not a list.
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(_plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value
