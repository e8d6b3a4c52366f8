"""Every rendered object is valid for the pinned Kubernetes version (strict: no unknown field).

Built-in kinds are checked with kubernetes-validate's strict schemas, which reject any field
the API does not define (the non-strict ones silently accept `imagePullPolocy`). Custom
resources are checked against the JSON Schemas derived from the pinned charts' CRDs
(infra/upstream/chart-schemas, by scripts/crd_schemas.py), their metadata against ObjectMeta.
"""

import copy
import json
from collections.abc import Callable
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from infra import versions
from infra.components.postgres import barman_values, operator_values
from infra.render import RenderedStack
from scripts.crd_schemas import to_json_schema
from tests.infra.crd_schemas import SCHEMA_DIR, chart_sources, custom_resource_schemas

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
    key = (str(obj.get("apiVersion")), str(obj.get("kind")))
    schema = custom_resource_schemas().get(key)
    if schema is None:
        return [
            f"{where}: no schema for {obj.get('apiVersion')} {obj.get('kind')} in Kubernetes "
            f"{KUBERNETES_VERSION} nor in the pinned charts' CRDs (infra/upstream/chart-schemas); "
            "fix the apiVersion/kind, or pin the chart that defines it and run "
            "scripts/crd_schemas.py"
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


def _rendered(rendered_stacks: dict[str, RenderedStack], kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(o for o in rendered_stacks["prod"].manifests if o["kind"] == kind))


def test_every_custom_resource_kind_rendered_has_a_schema_from_a_pinned_chart(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    # Built-in groups are `v1`, `apps`, `batch`, ... and `*.k8s.io`; the rest are CRDs.
    kinds = {
        (o["apiVersion"], o["kind"])
        for stack in STACKS
        for o in rendered_stacks[stack].manifests
        if "." in (group := o["apiVersion"].split("/")[0]) and not group.endswith(".k8s.io")
    }
    assert {
        ("postgresql.cnpg.io/v1", "Cluster"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
    } <= kinds
    assert kinds <= set(custom_resource_schemas())


def test_the_schemas_come_from_the_pinned_chart_versions() -> None:
    sources = chart_sources()
    pinned = {chart.chart: chart.version for chart in versions.ALL_CHARTS}
    assert {chart: source["version"] for chart, source in sources.items()} == pinned
    for chart, source in sources.items():
        assert source["tag"].endswith(pinned[chart]), chart
        assert len(source["commit"]) == 40, chart


@pytest.mark.parametrize(
    ("kind", "misspell", "message"),
    [
        (
            "Cluster",
            lambda o: o["spec"]["postgresql"]["synchronous"].update(numbr=1),
            "Cluster/mlflow-db: spec.postgresql.synchronous: Additional properties are not "
            "allowed ('numbr' was unexpected)",
        ),
        (
            "ServiceMonitor",
            lambda o: o["spec"]["endpoints"][0].update(intervall="5s"),
            "spec.endpoints.0: Additional properties are not allowed ('intervall' was unexpected)",
        ),
        (
            "PrometheusRule",
            lambda o: o["spec"]["groups"][0]["rules"][0].update(exprr="up"),
            "spec.groups.0.rules.0: Additional properties are not allowed ('exprr' was unexpected)",
        ),
    ],
)
def test_a_misspelled_field_in_a_rendered_custom_resource_is_rejected(
    rendered_stacks: dict[str, RenderedStack],
    kind: str,
    misspell: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    obj = _rendered(rendered_stacks, kind)
    assert schema_errors(obj) == []
    misspell(obj)
    [error] = schema_errors(obj)
    assert error.endswith(message), error


def _deprecated_fields(obj: Any, schema: dict[str, Any], path: str) -> list[str]:
    """Paths in obj whose schema the CRD marks deprecated (scripts/crd_schemas.py)."""
    found = [path] if schema.get("deprecated") else []
    if isinstance(obj, dict):
        for key, value in obj.items():
            sub = schema.get("properties", {}).get(key)
            if sub is not None:
                found += _deprecated_fields(value, sub, f"{path}.{key}")
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for index, value in enumerate(obj):
            found += _deprecated_fields(value, schema["items"], f"{path}.{index}")
    return found


def test_no_rendered_custom_resource_sets_a_deprecated_field(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    schemas = custom_resource_schemas()
    deprecated = [
        f"{stack} {o['kind']}/{o['metadata']['name']}: {field}"
        for stack in STACKS
        for o in rendered_stacks[stack].manifests
        if (schema := schemas.get((o["apiVersion"], o["kind"]))) is not None
        for field in _deprecated_fields(o, schema, "")
    ]
    assert deprecated == []
    # The walk does find them: the Cluster's old PodMonitor switch is marked deprecated.
    cluster = {"spec": {"monitoring": {"enablePodMonitor": False}}}
    cluster_schema = schemas[("postgresql.cnpg.io/v1", "Cluster")]
    assert _deprecated_fields(cluster, cluster_schema, "") == [".spec.monitoring.enablePodMonitor"]


def test_operator_values_fit_the_cnpg_charts_values_schema() -> None:
    schema = json.loads((SCHEMA_DIR / "cloudnative-pg" / "values.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    assert list(validator.iter_errors(operator_values())) == []
    wrong = {**operator_values(), "replicaCount": "one"}
    assert [e.message for e in validator.iter_errors(wrong)] == ["'one' is not of type 'integer'"]


def test_backup_plugin_values_fit_its_charts_values_schema() -> None:
    schema = json.loads((SCHEMA_DIR / "plugin-barman-cloud" / "values.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    assert list(validator.iter_errors(barman_values())) == []
    wrong = {**barman_values(), "crds": {"create": "yes"}}
    assert [e.message for e in validator.iter_errors(wrong)] == ["'yes' is not of type 'boolean'"]


def test_a_misspelled_backup_field_is_rejected(rendered_stacks: dict[str, RenderedStack]) -> None:
    (store,) = [o for o in rendered_stacks["prod"].manifests if o["kind"] == "ObjectStore"]
    assert schema_errors(store) == []
    wrong = copy.deepcopy(store)
    wrong["spec"]["retentionPolicy"] = "30 days"
    wrong["spec"]["configuration"]["destinationPth"] = "s3://x/"
    assert len(schema_errors(wrong)) == 2


def test_conversion_closes_objects_unless_upstream_keeps_them_open() -> None:
    crd_node = {
        "type": "object",
        "description": "text",
        "properties": {
            "port": {"x-kubernetes-int-or-string": True},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "note": {"type": "string", "nullable": True},
            "old": {"type": "string", "description": "Deprecated: use new."},
        },
    }
    schema = to_json_schema(crd_node)
    validator = jsonschema.Draft202012Validator(schema)
    ok = {"port": "http", "free": {"any": 1}, "labels": {"a": "b"}, "note": None, "old": "x"}
    assert list(validator.iter_errors(ok)) == []
    assert not validator.is_valid({"port": 1.5})
    assert not validator.is_valid({"labels": {"a": 1}})
    assert not validator.is_valid({"prot": 80})
    assert schema["properties"]["old"]["deprecated"] is True
    assert "description" not in schema
