"""Every rendered object is valid for the pinned Kubernetes version (strict: no unknown field).

Built-in kinds are checked with kubernetes-validate's strict schemas, which reject any field
the API does not define (the non-strict ones silently accept `imagePullPolocy`). Custom
resources are checked against tests/infra/crd_schemas.py, their metadata against ObjectMeta.
"""

import copy
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from infra.render import RenderedStack
from tests.infra.crd_schemas import CUSTOM_RESOURCE_SCHEMAS

# The one Kubernetes version the platform is validated against (README states it).
KUBERNETES_VERSION = "1.33.0"
STACKS = ("dev", "stage", "prod")


def schema_errors(obj: dict[str, Any]) -> list[str]:
    """Strict schema errors of one object, each naming kind/name and the field path."""
    where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.absolute_path)
        return [f"{where}: {path or '<root>'}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return _custom_resource_errors(obj, where)
    return []


def _custom_resource_errors(obj: dict[str, Any], where: str) -> list[str]:
    """Our schema for the custom resource plus ObjectMeta for its metadata."""
    schema = CUSTOM_RESOURCE_SCHEMAS.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
    if schema is None:
        return [
            f"{where}: no schema for {obj.get('apiVersion')} {obj.get('kind')} in Kubernetes "
            f"{KUBERNETES_VERSION} nor in tests/infra/crd_schemas.py; fix the apiVersion/kind "
            "or add a schema"
        ]
    validator = jsonschema.Draft202012Validator(schema)
    errors = [
        f"{where}: {'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(obj)
    ]
    # Reuse the built-in ObjectMeta schema through a carrier object that has nothing else.
    carrier = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj.get("metadata", {})}
    return errors + [f"{where} (metadata) {message}" for message in schema_errors(carrier)]


@pytest.mark.parametrize("stack", STACKS)
def test_every_rendered_object_is_strictly_valid(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    manifests = rendered_stacks[stack].manifests
    assert manifests, f"the {stack} render holds no manifest"
    errors = [message for obj in manifests for message in schema_errors(obj)]
    assert errors == []


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "serving", "namespace": "ml", "labels": {"a": "b"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "app", "image": "app:1.0"}]},
            },
        },
    }


def test_misspelled_field_fails_strict_validation() -> None:
    obj = _deployment()
    assert schema_errors(obj) == []
    obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolocy"] = "Always"
    assert schema_errors(obj) == [
        "Deployment/serving: spec.template.spec.containers.0: Additional properties are not "
        "allowed ('imagePullPolocy' was unexpected)"
    ]


def test_wrong_type_fails_validation() -> None:
    obj = _deployment()
    obj["spec"]["replicas"] = "three"
    [message] = schema_errors(obj)
    assert message.startswith("Deployment/serving: spec.replicas: 'three' is not of type")


def test_custom_resources_are_closed_too() -> None:
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "pg", "namespace": "platform"},
        "spec": {"instances": 3, "storage": {"size": "10Gi"}},
    }
    assert schema_errors(cluster) == []
    broken = copy.deepcopy(cluster)
    broken["spec"]["instance"] = broken["spec"].pop("instances")
    assert sorted(schema_errors(broken)) == [
        "Cluster/pg: spec: 'instances' is a required property",
        "Cluster/pg: spec: Additional properties are not allowed ('instance' was unexpected)",
    ]
    bad_meta = copy.deepcopy(cluster)
    bad_meta["metadata"]["lables"] = {"a": "b"}
    [message] = schema_errors(bad_meta)
    assert message.startswith("Cluster/pg (metadata) ConfigMap/pg: metadata: Additional properties")


def test_unknown_custom_resource_is_rejected() -> None:
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "m"},
        "spec": {},
    }
    [message] = schema_errors(monitor)
    assert "no schema for monitoring.coreos.com/v1alpha1 ServiceMonitor" in message
