"""Per-object rules: a correct object passes, each deliberately broken field is reported."""

from typing import Any

import pytest

from policy.credentials import check_credentials, looks_like_credential
from policy.images import check_images, image_problem
from policy.probes import check_probes
from policy.resources import check_resources
from policy.security import check_restricted
from tests.policy.manifests import NS, app_container, deployment, find, stack

DEP = f"Deployment/{NS}/serving"
CONTAINER = "spec.template.spec.containers[0]"


def test_correct_workloads_pass_every_object_rule() -> None:
    for obj in stack():
        for rule in (
            check_restricted,
            check_resources,
            check_probes,
            check_images,
            check_credentials,
        ):
            assert rule(obj) == [], (rule.__name__, obj["kind"])


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("runAsNonRoot", False, f"{CONTAINER}.securityContext.runAsNonRoot is not true"),
        ("allowPrivilegeEscalation", True, "allowPrivilegeEscalation must be false"),
        ("privileged", True, f"{CONTAINER}.securityContext.privileged is true"),
        ("capabilities", {"drop": ["NET_RAW"]}, "capabilities.drop does not contain ALL"),
        (
            "capabilities",
            {"drop": ["ALL"], "add": ["SYS_ADMIN"]},
            "capabilities.add has ['SYS_ADMIN']",
        ),
        ("seccompProfile", {"type": "Unconfined"}, "seccompProfile.type is 'Unconfined'"),
        ("runAsUser", 0, "runAsUser is 0"),
    ],
)
def test_restricted_rejects_broken_container_security_context(
    field: str, value: Any, expected: str
) -> None:
    obj = deployment()
    app_container(obj)["securityContext"][field] = value
    messages = check_restricted(obj, {NS})
    assert len(messages) == 1
    assert messages[0].startswith(f"{DEP}: ")
    assert expected in messages[0]


def test_restricted_takes_seccomp_and_non_root_from_pod_or_container() -> None:
    obj = deployment()
    pod = obj["spec"]["template"]["spec"]
    pod["securityContext"] = {}
    messages = check_restricted(obj, {NS})
    # both containers (init + app) lose runAsNonRoot and seccomp
    assert sum("runAsNonRoot is not true" in m for m in messages) == 2
    assert sum("seccompProfile.type is None" in m for m in messages) == 2
    for container in (*pod["initContainers"], *pod["containers"]):
        container["securityContext"] |= {
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    assert check_restricted(obj, {NS}) == []


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("hostNetwork", True, "spec.template.spec.hostNetwork is true"),
        ("hostPID", True, "spec.template.spec.hostPID is true"),
        (
            "volumes",
            [{"name": "docker", "hostPath": {"path": "/var/run"}}],
            "volumes[0].hostPath (docker)",
        ),
    ],
)
def test_restricted_rejects_host_access(field: str, value: Any, expected: str) -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"][field] = value
    messages = check_restricted(obj, {NS})
    assert [m for m in messages if expected in m], messages


def test_restricted_applies_only_to_restricted_namespaces() -> None:
    obj = deployment()
    app_container(obj)["securityContext"]["privileged"] = True
    assert check_restricted(obj, {"other"}) == []
    assert check_restricted(obj, None) != []


def test_restricted_covers_cronjob_init_containers() -> None:
    cron = find(stack(), "CronJob")
    init = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["initContainers"][0]
    del init["securityContext"]["capabilities"]
    [message] = check_restricted(cron, {NS})
    assert message.startswith(
        f"CronJob/{NS}/retrain: spec.jobTemplate.spec.template.spec.initContainers[0]"
    )


@pytest.mark.parametrize(
    ("section", "resource"),
    [("requests", "cpu"), ("requests", "memory"), ("limits", "cpu"), ("limits", "memory")],
)
def test_resources_required_on_every_container(section: str, resource: str) -> None:
    obj = deployment()
    del app_container(obj)["resources"][section][resource]
    assert check_resources(obj) == [
        f"{DEP}: {CONTAINER}.resources.{section}.{resource} is missing (container app); "
        f"set an explicit {resource} {section[:-1]}"
    ]


def test_resources_required_on_init_containers() -> None:
    obj = deployment()
    del obj["spec"]["template"]["spec"]["initContainers"][0]["resources"]
    messages = check_resources(obj)
    assert len(messages) == 4
    assert all("initContainers[0].resources" in m and "(container migrate)" in m for m in messages)


@pytest.mark.parametrize("probe", ["readinessProbe", "livenessProbe"])
def test_probes_required_on_long_running_containers(probe: str) -> None:
    obj = deployment()
    del app_container(obj)[probe]
    assert check_probes(obj) == [
        f"{DEP}: {CONTAINER}.{probe} is missing (container app); "
        f"add an httpGet/tcpSocket/exec {probe}"
    ]


def test_probes_not_required_on_jobs_and_init_containers() -> None:
    cron = find(stack(), "CronJob")
    assert (
        "readinessProbe"
        not in cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    )
    assert check_probes(cron) == []
    obj = deployment()
    assert "livenessProbe" not in obj["spec"]["template"]["spec"]["initContainers"][0]
    assert check_probes(obj) == []


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("nginx", "has no tag (it means :latest)"),
        ("nginx:latest", "uses the :latest tag"),
        ("localhost:5000/app", "has no tag (it means :latest)"),
        ("app@md5:abc", "has a malformed digest 'md5:abc'"),
        ("", "is empty"),
    ],
)
def test_unpinned_images_are_rejected(image: str, problem: str) -> None:
    obj = deployment()
    app_container(obj)["image"] = image
    assert check_images(obj) == [
        f"{DEP}: {CONTAINER}.image {image!r} {problem}; "
        "pin a version tag or an @sha256 digest (in infra/versions.py)"
    ]


@pytest.mark.parametrize(
    "image",
    [
        "localhost:5000/app:1.2",
        "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z",
        "app@sha256:" + "a" * 64,
    ],
)
def test_pinned_images_pass(image: str) -> None:
    assert image_problem(image) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("POSTGRES_PASSWORD", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("AWS_ACCESS_KEY_ID", True),
        ("GF_SECURITY_ADMIN_PASSWORD", True),
        ("API_TOKEN", True),
        ("MLFLOW_TRACKING_URI", False),
        ("MODEL_NAME", False),
        ("SECRET_NAME", False),
        ("TLS_KEY_FILE", False),
    ],
)
def test_credential_names(name: str, expected: bool) -> None:
    assert looks_like_credential(name) is expected


def test_literal_credential_in_env_is_rejected() -> None:
    obj = deployment()
    app_container(obj)["env"][1] = {"name": "DB_PASSWORD", "value": "hunter2"}
    assert check_credentials(obj) == [
        f"{DEP}: {CONTAINER}.env[1] (DB_PASSWORD) takes a literal value; "
        "use valueFrom.secretKeyRef to a Secret"
    ]


def test_credential_from_configmap_is_rejected() -> None:
    obj = deployment()
    app_container(obj)["env"][1] = {
        "name": "DB_PASSWORD",
        "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "level"}},
    }
    [message] = check_credentials(obj)
    assert "env[1] (DB_PASSWORD) takes valueFrom ['configMapKeyRef']" in message


def test_uri_with_userinfo_is_a_leak_anywhere() -> None:
    obj = deployment()
    app_container(obj)["args"] = [
        "--backend-store-uri",
        "postgresql://mlflow:s3cret@pg-rw:5432/mlflow",
    ]
    assert check_credentials(obj) == [
        f"{DEP}: {CONTAINER}.args[1] embeds user:password@ in a URI; build the URI from a Secret "
        "(secretKeyRef, or $(VAR) expansion of a secret-backed env var)"
    ]
    config = find(stack(), "ConfigMap")
    config["data"]["backend"] = "s3://key:secretvalue@minio:9000"
    [message] = check_credentials(config)
    assert message.startswith(f"ConfigMap/{NS}/settings: data.backend embeds user:password@")


def test_credential_key_in_configmap_is_rejected() -> None:
    config = find(stack(), "ConfigMap")
    config["data"]["admin_password"] = "x"
    [message] = check_credentials(config)
    assert "data.admin_password looks like a credential in a ConfigMap" in message


def test_secrets_may_hold_credentials() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "pg", "namespace": NS},
        "stringData": {"password": "x", "uri": "postgresql://u:p@h/db"},
    }
    assert check_credentials(secret) == []
