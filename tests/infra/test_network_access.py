"""Who may reach the API server, serving and the published Services, in the real renders.

The API egress goes only to the configured control-plane CIDRs and only from the pods that call
the API (by their chart labels); serving admits Prometheus and the configured gateway; stage and
prod publish MLflow, Grafana and serving through TLS Ingresses that dev does not have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from mlops_contract import serving as serving_contract
from mlops_contract.kube import NAMESPACE_NAME_LABEL

from infra.components import ingress as ingress_component
from infra.components import mlflow, monitoring_specs, network, objectstore_specs, postgres, serving
from infra.config import ConfigError, load_stack_file
from infra.render import RenderedStack
from tests.infra.rendering import REPO_ROOT
from tests.infra.test_schema import schema_errors

P = "mlops-platform:"
API_PORTS = [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]
# The pods that call the API server, by namespace and chart labels (the pinned charts'
# templates, the Prometheus Operator's StatefulSet labels, CloudNativePG's instance label).
API_CALLERS = {
    ("mlops-monitoring", (("app.kubernetes.io/name", "prometheus"),)),
    ("mlops-monitoring", (("app", "kube-prometheus-stack-operator"),)),
    ("mlops-monitoring", (("app.kubernetes.io/component", "prometheus-operator-webhook"),)),
    ("mlops-monitoring", (("app.kubernetes.io/name", "kube-state-metrics"),)),
    ("mlops-monitoring", (("app.kubernetes.io/name", "grafana"),)),
    ("mlops-platform", (("cnpg.io/cluster", "mlflow-db"),)),
    ("cnpg-system", (("app.kubernetes.io/name", "cloudnative-pg"),)),
    ("cnpg-system", (("app.kubernetes.io/name", "plugin-barman-cloud"),)),
    ("cert-manager", (("app.kubernetes.io/instance", "cert-manager"),)),
}


def _policies(stack: RenderedStack) -> list[dict[str, Any]]:
    return [o for o in stack.manifests if o["kind"] == "NetworkPolicy"]


def _policy(stack: RenderedStack, namespace: str, name: str) -> dict[str, Any]:
    (found,) = [
        p
        for p in _policies(stack)
        if p["metadata"]["name"] == name and p["metadata"]["namespace"] == namespace
    ]
    return found


def _ip_block_rules(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        rule
        for rule in policy["spec"].get("egress", [])
        if any("ipBlock" in peer for peer in rule.get("to", []))
    ]


def test_api_egress_selects_only_the_calling_pods_and_only_the_configured_cidr(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    prod = rendered_stacks["prod"]
    cidrs = load_stack_file(REPO_ROOT / "stacks" / "Pulumi.prod.yaml").network.control_plane_cidrs
    assert cidrs != ["0.0.0.0/0"]
    to_api = [
        p for p in _policies(prod) if any(rule["ports"] == API_PORTS for rule in _ip_block_rules(p))
    ]
    selected = {
        (p["metadata"]["namespace"], tuple(sorted(p["spec"]["podSelector"]["matchLabels"].items())))
        for p in to_api
    }
    assert selected == API_CALLERS
    for policy in to_api:
        assert policy["spec"]["policyTypes"] == ["Egress"]
        assert policy["spec"]["egress"] == [
            {"to": [{"ipBlock": {"cidr": cidr}} for cidr in cidrs], "ports": API_PORTS}
        ]


def test_no_other_policy_reaches_outside_addresses_except_the_alert_webhook(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    """Prod keeps its data in-cluster: the webhook is the one address the platform cannot know."""
    prod = rendered_stacks["prod"]
    outside = {
        p["metadata"]["name"]
        for p in _policies(prod)
        if _ip_block_rules(p) and not p["metadata"]["name"].startswith("api-server-")
    }
    assert outside == {"alertmanager-egress"}
    (rule,) = _ip_block_rules(_policy(prod, "mlops-monitoring", "alertmanager-egress"))
    assert 6443 not in [port["port"] for port in rule["ports"]]


@pytest.mark.parametrize("stack", ["dev", "stage", "prod"])
def test_no_whole_namespace_policy_opens_the_api_ports(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    for policy in _policies(rendered_stacks[stack]):
        if any(rule["ports"] == API_PORTS for rule in _ip_block_rules(policy)):
            assert policy["spec"]["podSelector"].get("matchLabels"), policy["metadata"]


def _serving_ingress(stack: RenderedStack) -> list[dict[str, Any]]:
    policy = _policy(stack, "mlops-serving", "serving-ingress")
    rules: list[dict[str, Any]] = policy["spec"]["ingress"]
    return rules


def test_serving_admits_only_prometheus_without_a_gateway(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    (rule,) = _serving_ingress(rendered_stacks["dev"])
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "mlops-monitoring"}},
            "podSelector": {"matchLabels": monitoring_specs.PROMETHEUS_PODS},
        }
    ]
    assert rule["ports"] == [{"port": serving_contract.PORT, "protocol": "TCP"}]


def test_serving_admits_the_configured_gateway_namespace_and_prometheus(tmp_path: Path) -> None:
    document = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    document["config"][P + "network"] = {"gatewayNamespace": "api-gateway"}
    config = tmp_path / "Pulumi.dev.yaml"
    config.write_text(yaml.safe_dump(document))
    cfg = load_stack_file(config)
    args = _args(gateway_namespace=cfg.network.gateway_namespace)
    (policy,) = [
        p for p in network.all_policies(args) if p["metadata"]["name"] == "serving-ingress"
    ]
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "m"}},
            "podSelector": {"matchLabels": monitoring_specs.PROMETHEUS_PODS},
        },
        {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "api-gateway"}}},
    ]


def _args(**kwargs: Any) -> network.NetworkPoliciesArgs:
    cfg = load_stack_file(REPO_ROOT / "stacks" / "Pulumi.dev.yaml")
    return network.NetworkPoliciesArgs(
        training="t",
        serving=serving.endpoint("s"),
        mlflow=mlflow.endpoint("p"),
        postgres=postgres.endpoints(cfg.postgres, "p"),
        object_store=objectstore_specs.endpoints(cfg.object_store, "p"),
        monitoring=monitoring_specs.endpoints("m"),
        **kwargs,
    )


def test_prod_with_a_tag_only_image_ref_fails_config_with_the_fix(tmp_path: Path) -> None:
    document = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.prod.yaml").read_text())
    document["config"][P + "images"]["serving"] = "registry.example.com/mlops/serving:0.1.0"
    config = tmp_path / "Pulumi.prod.yaml"
    config.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as info:
        load_stack_file(config)
    assert info.value.problems == [
        (
            f"{P}images.serving",
            "a digest reference in prod (got the tag-only "
            "'registry.example.com/mlops/serving:0.1.0'); pin the pushed image as "
            "registry.example.com/mlops/serving:0.1.0@sha256:<digest> (`docker buildx "
            "imagetools inspect registry.example.com/mlops/serving:0.1.0` prints it)",
        )
    ]


def test_prod_refuses_an_open_control_plane_range(tmp_path: Path) -> None:
    document = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.prod.yaml").read_text())
    del document["config"][P + "network"]
    config = tmp_path / "Pulumi.prod.yaml"
    config.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as info:
        load_stack_file(config)
    ((key, message),) = info.value.problems
    assert key == f"{P}network.controlPlaneCidrs"
    assert message.startswith("'0.0.0.0/0' opens every address on the API ports in prod")


@pytest.mark.parametrize(
    ("network_value", "expected"),
    [
        ({"controlPlaneCidrs": ["10.0.0.1/24"]}, "a CIDR block like"),
        ({"controlPlaneCidrs": []}, "list should have at least 1 item"),
        ({"gatewayNamespace": "Gateway"}, "a DNS-1123 label"),
    ],
)
def test_bad_network_values_name_the_key(
    tmp_path: Path, network_value: dict[str, Any], expected: str
) -> None:
    document = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    document["config"][P + "network"] = network_value
    config = tmp_path / "Pulumi.dev.yaml"
    config.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as info:
        load_stack_file(config)
    ((key, message),) = info.value.problems
    assert key.startswith(f"{P}network.")
    assert expected in message


def _ingresses(stack: RenderedStack) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in stack.manifests if o["kind"] == "Ingress"}


def test_dev_publishes_nothing(rendered_stacks: dict[str, RenderedStack]) -> None:
    dev = rendered_stacks["dev"]
    assert _ingresses(dev) == {}
    assert not [p for p in _policies(dev) if p["metadata"]["name"].startswith("ingress-")]


@pytest.mark.parametrize("stack", ["stage", "prod"])
def test_stage_and_prod_publish_three_services_over_tls(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    rendered = rendered_stacks[stack]
    cfg = load_stack_file(REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml").ingress
    found = _ingresses(rendered)
    assert set(found) == {"mlflow", "grafana", "serving"}
    backends = {
        "mlflow": ("mlops-platform", "mlflow", 5000),
        "grafana": ("mlops-monitoring", monitoring_specs.GRAFANA_SERVICE, 80),
        "serving": ("mlops-serving", "serving", serving_contract.PORT),
    }
    for name, obj in found.items():
        route = cfg.routes()[name]
        namespace, service, port = backends[name]
        assert obj["metadata"]["namespace"] == namespace
        assert obj["metadata"]["annotations"] == {
            ingress_component.CLUSTER_ISSUER_ANNOTATION: cfg.cluster_issuer
        }
        assert obj["spec"]["ingressClassName"] == cfg.class_name
        assert obj["spec"]["tls"] == [{"hosts": [route.host], "secretName": route.tls_secret}]
        (rule,) = obj["spec"]["rules"]
        assert rule["host"] == route.host
        for path in rule["http"]["paths"]:
            assert path["backend"] == {"service": {"name": service, "port": {"number": port}}}
        assert schema_errors(obj) == []


def test_serving_publishes_the_model_api_and_never_metrics(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    (rule,) = _ingresses(rendered_stacks["prod"])["serving"]["spec"]["rules"]
    paths = [(p["path"], p["pathType"]) for p in rule["http"]["paths"]]
    assert paths == [(path, "Exact") for path in serving_contract.API_ROUTES]
    assert serving_contract.METRICS_PATH not in [path for path, _ in paths]


@pytest.mark.parametrize(
    ("namespace", "name", "pods", "port"),
    [
        ("mlops-platform", "ingress-controller-mlflow", mlflow.pods(), 5000),
        ("mlops-monitoring", "ingress-controller-grafana", monitoring_specs.GRAFANA_PODS, 3000),
        ("mlops-serving", "ingress-controller-serving", serving.pods(), serving_contract.PORT),
    ],
)
def test_the_ingress_controller_namespace_reaches_each_published_service(
    rendered_stacks: dict[str, RenderedStack],
    namespace: str,
    name: str,
    pods: dict[str, str],
    port: int,
) -> None:
    policy = _policy(rendered_stacks["prod"], namespace, name)
    assert policy["spec"]["podSelector"] == {"matchLabels": pods}
    assert policy["spec"]["ingress"] == [
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "ingress-nginx"}}}
            ],
            "ports": [{"port": port, "protocol": "TCP"}],
        }
    ]


def test_mlflow_accepts_its_public_host_header(rendered_stacks: dict[str, RenderedStack]) -> None:
    prod = rendered_stacks["prod"]
    (deployment,) = [
        o for o in prod.manifests if o["kind"] == "Deployment" and o["metadata"]["name"] == "mlflow"
    ]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    hosts = args[args.index("--allowed-hosts") + 1].split(",")
    assert "mlflow.example.com" in hosts


@pytest.mark.parametrize(
    ("ingress_value", "key", "expected"),
    [
        (
            {"enabled": True, "clusterIssuer": "x", "serving": {"host": "a.b", "tlsSecret": "t"}},
            "className",
            "required when ingress.enabled is true",
        ),
        (
            {"enabled": True, "className": "nginx", "clusterIssuer": "x"},
            "serving",
            "no Service has a route",
        ),
        ({"serving": {"host": "Not A Host", "tlsSecret": "t"}}, "serving.host", "a lowercase DNS"),
    ],
)
def test_bad_ingress_values_name_the_key(
    tmp_path: Path, ingress_value: dict[str, Any], key: str, expected: str
) -> None:
    document = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    document["config"][P + "ingress"] = ingress_value
    config = tmp_path / "Pulumi.dev.yaml"
    config.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as info:
        load_stack_file(config)
    ((found_key, message),) = info.value.problems
    assert found_key == f"{P}ingress.{key}"
    assert expected in message


@pytest.mark.parametrize("stack", ["dev", "stage", "prod"])
def test_grafana_rbac_is_namespaced_and_reads_dashboards_from_its_namespace(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    (release,) = [
        r
        for r in rendered_stacks[stack].resources
        if r["type"] == "kubernetes:helm.sh/v3:Release"
        and r["inputs"]["chart"] == "kube-prometheus-stack"
    ]
    grafana = release["inputs"]["values"]["grafana"]
    assert grafana["rbac"]["namespaced"] is True
    assert "extraClusterRoleRules" not in grafana["rbac"]
    assert grafana["sidecar"]["dashboards"]["searchNamespace"] == [release["inputs"]["namespace"]]
    public = load_stack_file(REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml").ingress.routes()
    if "grafana" in public:
        root = grafana["grafana.ini"]["server"]["root_url"]
        assert root == f"https://{public['grafana'].host}"
    else:
        assert "grafana.ini" not in grafana
