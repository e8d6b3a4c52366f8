"""Pure helpers and spec builders, tested without the Pulumi engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import k8s, versions
from infra.assembly import secret_store_args
from infra.components import (
    mlflow,
    monitoring_specs,
    network,
    objectstore_specs,
    postgres,
    serving,
)
from infra.components.kube import manifest_args
from infra.components.secrets import (
    SecretSpec,
    SecretStoreArgs,
    combine,
    template_names,
    validate_args,
)
from infra.config import load_stack_file
from tests.infra.rendering import REPO_ROOT

CONFIGS = Path(__file__).parent / "configs"


def test_name_accepts_dns_labels_up_to_63_characters() -> None:
    assert k8s.name("mlflow", "db", "app") == "mlflow-db-app"
    assert k8s.name("a" * 63) == "a" * 63


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (("a" * 60, "app"), "64 characters; at most 63"),
        (("MLflow",), "not a DNS-1123 label"),
        (("mlflow_db",), "not a DNS-1123 label"),
        (("-mlflow",), "not a DNS-1123 label"),
        (("mlflow", ""), "non-empty"),
    ],
)
def test_name_rejects_invalid_kubernetes_names(parts: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        k8s.name(*parts)


def test_labels_are_recommended_labels_and_selectors_are_stable() -> None:
    labels = k8s.labels("mlflow", "tracking-server", "v3.17.2-full")
    assert labels == {
        "app.kubernetes.io/name": "mlflow",
        "app.kubernetes.io/component": "tracking-server",
        "app.kubernetes.io/part-of": "mlops-platform",
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/version": "v3.17.2-full",
    }
    selector = k8s.selector_labels("mlflow", "tracking-server")
    assert selector.items() <= labels.items()
    assert "app.kubernetes.io/version" not in selector
    # A digest or build metadata is cleaned into a valid label value.
    assert k8s.labels("x", "y", "1.0+build")["app.kubernetes.io/version"] == "1.0-build"


def test_security_contexts_meet_the_restricted_standard() -> None:
    pod = k8s.pod_security_context()
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] > 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    container = k8s.container_security_context()
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["readOnlyRootFilesystem"] is True
    assert k8s.container_security_context(read_only_root=False)["readOnlyRootFilesystem"] is False


def test_resources_needs_requests_and_memory_limits() -> None:
    both = k8s.resources({"cpu": "1", "memory": "1Gi"}, {"cpu": "2", "memory": "2Gi"})
    assert both == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    with pytest.raises(ValueError, match="both resource requests and limits"):
        k8s.resources({"cpu": "1", "memory": "1Gi"}, {})
    with pytest.raises(ValueError, match="limits need memory"):
        k8s.resources({"cpu": "1", "memory": "1Gi"}, {"cpu": "1"})
    with pytest.raises(ValueError, match="requests miss"):
        k8s.resources({"cpu": "1"}, {"cpu": "1", "memory": "1Gi"})


@pytest.mark.parametrize("image", versions.ALL_IMAGES)
def test_every_pinned_image_is_pinned(image: str) -> None:
    assert versions.image_pin_problem(image) is None


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        ("quay.io/minio/minio", "pinned tag"),
        ("quay.io/minio/minio:latest", "not ':latest'"),
        ("localhost:5001/training", "pinned tag"),
        ("repo/x@sha256:abc", "sha256 digest"),
        ("", "empty"),
    ],
)
def test_unpinned_images_are_named(ref: str, problem: str) -> None:
    found = versions.image_pin_problem(ref)
    assert found is not None
    assert problem in found


def test_registry_port_is_not_mistaken_for_a_tag() -> None:
    assert versions.image_pin_problem("localhost:5001/mlops/training:0.1.0") is None


def test_charts_are_pinned_to_exact_versions() -> None:
    for chart in versions.ALL_CHARTS:
        assert chart.version.count(".") == 2
        assert chart.repo.startswith("https://")


def test_manifest_args_snake_cases_top_level_keys_only() -> None:
    args = manifest_args(
        {
            "metadata": {"name": "b"},
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "roleRef": {"apiGroup": "x"},
            "stringData": {"AWS_ACCESS_KEY_ID": "k"},
        }
    )
    assert args == {
        "metadata": {"name": "b"},
        "role_ref": {"apiGroup": "x"},
        "string_data": {"AWS_ACCESS_KEY_ID": "k"},
    }
    with pytest.raises(ValueError, match="not a DNS-1123 label"):
        manifest_args({"metadata": {"name": "Bad_Name"}})
    with pytest.raises(ValueError, match=r"explicit metadata\.name"):
        manifest_args({"metadata": {"generateName": "x-"}})


def test_secret_templates_must_refer_to_known_values() -> None:
    assert template_names("postgresql://u:${pw}@h/${db_pw}") == {"pw", "db_pw"}
    bad = SecretStoreArgs(
        passwords={"pw": 32},
        secrets=(SecretSpec(name="s", namespace="ns", data={"k": "${nope}"}, readers=("sa",)),),
    )
    with pytest.raises(ValueError, match=r"secret s key k: unknown values \['nope'\]"):
        validate_args(bad)
    unread = SecretStoreArgs(
        passwords={"pw": 32},
        secrets=(SecretSpec(name="s", namespace="ns", data={"k": "${pw}"}, readers=()),),
    )
    with pytest.raises(ValueError, match="has no readers"):
        validate_args(unread)


def test_external_s3_keys_come_from_config_not_random_passwords() -> None:
    args = secret_store_args(load_stack_file(CONFIGS / "external-s3.yaml"))
    assert not [name for name in args.passwords if name.startswith("s3_")]
    assert args.provided["s3_admin_secret_key"] == "<secret:objectStore.secretAccessKey>"
    assert args.provided["s3_serving_access_key"] == "AKIASERVINGTHROWAWAY"
    assert (
        args.provided["s3_serving_secret_key"]
        == "<secret:objectStore.keys.serving.secretAccessKey>"
    )
    validate_args(args)


def test_dev_generates_every_credential() -> None:
    args = secret_store_args(load_stack_file(REPO_ROOT / "stacks" / "Pulumi.dev.yaml"))
    assert set(args.passwords) == {
        "postgres_app",
        *(
            f"s3_{identity}_{part}_key"
            for identity in ("admin", "mlflow", "training", "serving")
            for part in ("access", "secret")
        ),
        "mlflow_flask",
        "mlflow_admin",
        "mlflow_training",
        "mlflow_serving",
        "grafana_admin",
    }
    placed = {(s.namespace, s.name) for s in args.secrets}
    assert ("mlops-training", "s3-training-credentials") in placed
    assert ("mlops-serving", "s3-serving-credentials") in placed
    assert ("mlops-platform", "s3-admin-credentials") in placed
    # Each MLflow identity in its consumer's namespace; the admin's only next to MLflow.
    assert ("mlops-training", "mlflow-identity") in placed
    assert ("mlops-serving", "mlflow-identity") in placed
    assert ("mlops-platform", "mlflow-auth-setup") in placed
    assert ("mlops-platform", "mlflow-db-app") in placed
    assert ("mlops-monitoring", "grafana-admin") in placed


def _policy_args(*, in_cluster: bool = True) -> network.NetworkPoliciesArgs:
    """Endpoints as their owners publish them: platform p, training t, serving s, monitoring m."""
    dev = REPO_ROOT / "stacks" / "Pulumi.dev.yaml"
    cfg = load_stack_file(dev if in_cluster else CONFIGS / "external-s3.yaml")
    pg = cfg.postgres.model_copy(update={"cluster_name": "db", "operator_namespace": "o"})
    return network.NetworkPoliciesArgs(
        training="t",
        serving=serving.endpoint("s"),
        mlflow=mlflow.endpoint("p"),
        postgres=postgres.endpoints(pg, "p"),
        object_store=objectstore_specs.endpoints(cfg.object_store, "p"),
        monitoring=monitoring_specs.endpoints("m"),
    )


def test_every_namespace_gets_default_deny_and_dns() -> None:
    policies = network.all_policies(_policy_args())
    for ns in ("p", "t", "s", "m", "o"):
        (deny,) = [
            p
            for p in policies
            if p["metadata"] == {**p["metadata"], "name": "default-deny", "namespace": ns}
        ]
        assert deny["spec"] == {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [],
        }
        assert any(
            p["metadata"]["name"] == "allow-dns" and p["metadata"]["namespace"] == ns
            for p in policies
        )


def _policy(policies: list[dict[str, object]], name: str) -> dict[str, object]:
    (found,) = [p for p in policies if p["metadata"]["name"] == name]  # type: ignore[index]
    return found


def test_mlflow_may_reach_postgres_and_s3_only() -> None:
    spec = _policy(network.all_policies(_policy_args()), "mlflow-egress")["spec"]
    egress = spec["egress"]  # type: ignore[index]
    assert [rule["ports"] for rule in egress] == [
        [{"port": 5432, "protocol": "TCP"}],
        # dev runs SeaweedFS.
        [{"port": objectstore_specs.SEAWEEDFS_PORT, "protocol": "TCP"}],
    ]
    assert egress[0]["to"][0]["podSelector"] == {"matchLabels": {"cnpg.io/cluster": "db"}}


def test_external_s3_has_no_object_store_ingress_and_egress_leaves_the_cluster() -> None:
    policies = network.all_policies(_policy_args(in_cluster=False))
    names = {p["metadata"]["name"] for p in policies}  # type: ignore[index]
    assert "object-store-ingress" not in names
    egress = _policy(policies, "mlflow-egress")["spec"]["egress"]  # type: ignore[index]
    assert egress[1] == {"to": [network.OUTSIDE], "ports": [{"port": 443, "protocol": "TCP"}]}


def test_mlflow_allowed_hosts_cover_in_cluster_names_with_and_without_port() -> None:
    hosts = mlflow.allowed_hosts("ns")
    for name in ("mlflow", "mlflow.ns", "mlflow.ns.svc", "mlflow.ns.svc.cluster.local"):
        assert name in hosts
        assert f"{name}:5000" in hosts


def test_components_reject_bad_args_before_creating_anything() -> None:
    """Constructors validate first: these raise without any Pulumi engine or mocks."""
    from infra.components.secrets import SecretStore

    twice = SecretSpec(name="s", namespace="ns", data={}, readers=("sa",))
    with pytest.raises(ValueError, match="ns/s twice"):
        SecretStore("secrets", SecretStoreArgs(passwords={}, secrets=(twice, twice)))


def test_two_owners_cannot_define_one_secret_value() -> None:
    cfg = load_stack_file(REPO_ROOT / "stacks" / "Pulumi.dev.yaml")
    flask = mlflow.secret_args("p")
    with pytest.raises(ValueError, match=r"\['mlflow_flask'\] defined by two owners"):
        combine(flask, flask)
    # Each owner's part is complete on its own: its templates use only its own values.
    for part in (
        flask,
        postgres.secret_args(cfg.postgres, "p", readers=("mlflow",)),
        objectstore_specs.secret_args(
            cfg.object_store,
            "p",
            [objectstore_specs.Consumer(identity="training", namespace="t", readers=("training",))],
        ),
        monitoring_specs.secret_args(cfg.monitoring, "m"),
    ):
        validate_args(part)
