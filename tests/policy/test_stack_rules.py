"""Cross-object rules: the correct stack is clean, each broken reference or selector is reported."""

from typing import Any

import pytest

from policy.monitoring import check_monitors, prometheus_release_label
from policy.network import check_default_deny, check_namespaces, check_network_policy_selectors
from policy.references import CNPG_USER_SECRET_KEYS, check_references
from policy.rules import check_stack
from policy.selectors import check_hpa_targets, check_pdb_selectors, check_service_selectors
from tests.policy.manifests import NS, RELEASE, app_container, find, helm_resources, stack

DEP = f"Deployment/{NS}/serving"


def test_correct_stack_has_no_violation_in_any_rule() -> None:
    results = check_stack(stack(), helm_resources())
    assert len(results) == 15
    assert results == {rule: [] for rule in results}


def test_cnpg_app_secret_is_modelled_with_its_keys() -> None:
    objects = stack()
    assert "password" in CNPG_USER_SECRET_KEYS
    assert check_references(objects) == []
    env = app_container(find(objects, "Deployment"))["env"]
    env[1]["valueFrom"]["secretKeyRef"]["key"] = "passwd"
    [message] = check_references(objects)
    assert message.startswith(
        f"{DEP}: spec.template.spec.containers[0].env[1].valueFrom.secretKeyRef"
    )
    assert "reads key 'passwd' of Secret 'pg-app', which Cluster/ml/pg does not provide" in message


def test_cnpg_app_secret_exists_only_in_the_cluster_namespace() -> None:
    objects = stack()
    find(objects, "Cluster")["metadata"]["namespace"] = "platform"
    messages = check_references(objects)
    assert len(messages) == 4  # init + app container of the Deployment and the CronJob
    assert "references Secret 'pg-app', which does not exist in namespace 'ml'" in messages[0]


def test_cnpg_with_initdb_secret_generates_no_app_secret() -> None:
    objects = stack()
    find(objects, "Cluster")["spec"]["bootstrap"] = {"initdb": {"secret": {"name": "pg-app"}}}
    # the pods' pg-app is now ours to render, and the Cluster reads it too
    messages = check_references(objects)
    assert len(messages) == 4 + 2
    expected = (
        f"Cluster/{NS}/pg: spec.bootstrap.initdb.secret references Secret 'pg-app', which does "
        f"not exist in namespace '{NS}'; create it in that namespace or fix the name"
    )
    assert [m for m in messages if m.startswith("Cluster/")] == [expected, expected]


def test_cnpg_initdb_secret_needs_username_and_password() -> None:
    objects = stack()
    find(objects, "Cluster")["spec"]["bootstrap"] = {"initdb": {"secret": {"name": "pg-app"}}}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/basic-auth",
        "metadata": {"name": "pg-app", "namespace": NS},
        "stringData": {"username": "app", "pass": "x"},
    }
    objects.append(secret)
    [message] = [m for m in check_references(objects) if m.startswith("Cluster/")]
    assert "spec.bootstrap.initdb.secret reads key 'password' of Secret 'pg-app'" in message
    secret["stringData"] = {"username": "app", "password": "x"}
    assert check_references(objects) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda p: p["containers"][0]["env"][3]["valueFrom"]["configMapKeyRef"].update(
                name="setings"
            ),
            "references ConfigMap 'setings', which does not exist in namespace 'ml'",
        ),
        (
            lambda p: p["volumes"][0]["configMap"]["items"][0].update(key="lvl"),
            "volumes[0].configMap.items[0] reads key 'lvl' of ConfigMap 'settings'",
        ),
        (
            lambda p: (
                p["containers"][0].setdefault("envFrom", []).append({"secretRef": {"name": "nope"}})
            ),
            "envFrom[0].secretRef references Secret 'nope'",
        ),
        (
            lambda p: p.update(imagePullSecrets=[{"name": "regcred"}]),
            "imagePullSecrets[0] references Secret 'regcred'",
        ),
        (
            lambda p: p.update(serviceAccountName="trainer"),
            "serviceAccountName names ServiceAccount 'trainer', which is not rendered",
        ),
        (
            lambda p: p["volumes"].append({"name": "s", "secret": {"secretName": "tls"}}),
            "volumes[2].secret references Secret 'tls'",
        ),
    ],
)
def test_missing_references_are_reported(mutate: Any, expected: str) -> None:
    objects = stack()
    pod = find(objects, "Deployment")["spec"]["template"]["spec"]
    mutate(pod)
    messages = check_references(objects)
    assert len(messages) == 1, messages
    assert messages[0].startswith(f"{DEP}: ")
    assert expected in messages[0]


def test_optional_references_may_be_absent() -> None:
    objects = stack()
    container = app_container(find(objects, "Deployment"))
    container["envFrom"] = [{"secretRef": {"name": "extra", "optional": True}}]
    assert check_references(objects) == []


def test_rendered_secret_keys_are_checked() -> None:
    objects = stack()
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s3", "namespace": NS},
            "stringData": {"accessKey": "x"},
        }
    )
    container = app_container(find(objects, "Deployment"))
    container["env"].append(
        {
            "name": "AWS_SECRET_ACCESS_KEY",
            "valueFrom": {"secretKeyRef": {"name": "s3", "key": "secretKey"}},
        }
    )
    [message] = check_references(objects)
    assert (
        "reads key 'secretKey' of Secret 's3', which the rendered object does not provide"
        in message
    )


def test_service_selector_must_match_a_pod_template() -> None:
    objects = stack()
    find(objects, "Service")["spec"]["selector"] = {"app.kubernetes.io/name": "serve"}
    assert check_service_selectors(objects) == [
        f"Service/{NS}/serving: spec.selector {{'app.kubernetes.io/name': 'serve'}} matches no pod "
        f"template in namespace '{NS}'; align it with the workload's spec.template.metadata.labels"
    ]


def test_service_selector_does_not_cross_namespaces() -> None:
    objects = stack()
    find(objects, "Service")["metadata"]["namespace"] = "other"
    assert len(check_service_selectors(objects)) == 1


def test_service_named_target_port_must_exist() -> None:
    objects = stack()
    find(objects, "Service")["spec"]["ports"][0]["targetPort"] = "metrics"
    [message] = check_service_selectors(objects)
    assert "spec.ports[0].targetPort 'metrics' is not a named container port" in message


def test_pdb_and_hpa_must_point_at_workloads() -> None:
    objects = stack()
    find(objects, "PodDisruptionBudget")["spec"]["selector"] = {"matchLabels": {"app": "x"}}
    find(objects, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] = "server"
    [pdb] = check_pdb_selectors(objects)
    assert pdb.startswith(f"PodDisruptionBudget/{NS}/serving: spec.selector matches no pod")
    [hpa] = check_hpa_targets(objects)
    assert "spec.scaleTargetRef Deployment/server is not rendered" in hpa


@pytest.mark.parametrize(
    ("spec", "missing"),
    [
        ({"podSelector": {}, "policyTypes": ["Ingress"]}, "['Egress']"),
        (
            {"podSelector": {"matchLabels": {"a": "b"}}, "policyTypes": ["Ingress", "Egress"]},
            "['Egress', 'Ingress']",
        ),
        (
            {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "egress": [{"to": []}]},
            "['Egress']",
        ),
    ],
)
def test_default_deny_must_cover_ingress_and_egress_for_all_pods(
    spec: dict[str, Any], missing: str
) -> None:
    objects = stack()
    find(objects, "NetworkPolicy")["spec"] = spec
    assert check_default_deny(objects) == [
        f"Namespace/{NS}: no default-deny NetworkPolicy for {missing}; add one with "
        "podSelector: {} and policyTypes [Ingress, Egress] and no rules"
    ]


def test_default_deny_may_be_split_in_two_policies() -> None:
    objects = stack()
    find(objects, "NetworkPolicy")["spec"]["policyTypes"] = ["Ingress"]
    objects.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "deny-egress", "namespace": NS},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"]},
        }
    )
    assert check_default_deny(objects) == []


def test_every_created_namespace_needs_a_default_deny() -> None:
    objects = stack()
    objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "empty"}})
    [message] = check_default_deny(objects)
    assert message.startswith("Namespace/empty: no default-deny NetworkPolicy")


def test_namespaced_objects_need_an_existing_namespace() -> None:
    objects = stack()
    del find(objects, "ConfigMap")["metadata"]["namespace"]
    find(objects, "Service")["metadata"]["namespace"] = "serving"
    assert check_namespaces(objects) == [
        "ConfigMap/settings: metadata.namespace is not set; set it explicitly (otherwise the "
        "kube context's default namespace is used)",
        "Service/serving/serving: metadata.namespace 'serving' is not a Namespace the platform "
        "creates; create it (Namespaces component) or fix the name",
    ]


def test_service_monitor_needs_the_release_label() -> None:
    objects = stack()
    release = prometheus_release_label(helm_resources())
    assert release == RELEASE
    find(objects, "ServiceMonitor")["metadata"]["labels"] = {}
    assert check_monitors(objects, release) == [
        f"ServiceMonitor/{NS}/serving: metadata.labels.release is None; set it to '{RELEASE}' "
        "or kube-prometheus-stack's Prometheus ignores it"
    ]


def test_release_label_not_needed_when_prometheus_selects_all_monitors() -> None:
    resources = helm_resources()
    resources[0]["inputs"]["values"] = {
        "prometheus": {"prometheusSpec": {"serviceMonitorSelectorNilUsesHelmValues": False}}
    }
    assert prometheus_release_label(resources) is None


def test_service_monitor_selector_and_port_must_match_a_service() -> None:
    objects = stack()
    monitor = find(objects, "ServiceMonitor")
    monitor["spec"]["endpoints"][0]["port"] = "metrics"
    [port] = check_monitors(objects, RELEASE)
    assert "spec.endpoints[0].port 'metrics' is not a named port of the selected Services" in port
    monitor["spec"]["selector"] = {"matchLabels": {"app.kubernetes.io/name": "mlflow"}}
    [selector] = check_monitors(objects, RELEASE)
    assert "matches no Service's metadata.labels in ['ml']" in selector


def test_pod_monitor_selector_must_match_pods() -> None:
    objects = stack()
    objects.append(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PodMonitor",
            "metadata": {"name": "retrain", "namespace": NS, "labels": {"release": RELEASE}},
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": "retrain"}},
                "podMetricsEndpoints": [{"port": "http"}],
            },
        }
    )
    assert check_monitors(objects, RELEASE) == []
    find(objects, "PodMonitor")["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = "x"
    [message] = check_monitors(objects, RELEASE)
    assert message.startswith(f"PodMonitor/{NS}/retrain: spec.selector")


def test_allow_policy_must_select_pods() -> None:
    objects = stack()
    allow = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-serving", "namespace": NS},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "serving"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"port": 8080}]}],
        },
    }
    objects.append(allow)
    assert check_network_policy_selectors(objects) == []
    allow["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] = "server"
    assert check_network_policy_selectors(objects) == [
        f"NetworkPolicy/{NS}/allow-serving: spec.podSelector {{'matchLabels': "
        f"{{'app.kubernetes.io/name': 'server'}}}} selects no pod in namespace '{NS}', so the "
        "flow it allows stays denied; use the pods' labels"
    ]
    # a namespace where a Helm chart runs the pods is not judged (their labels are not rendered)
    chart = {"type": "kubernetes:helm.sh/v3:Release", "inputs": {"namespace": NS}}
    assert check_network_policy_selectors(objects, [chart]) == []
