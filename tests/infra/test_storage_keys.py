"""Least-privilege storage keys in the renders: one S3 identity per consumer, the admin key only
where buckets are set up (infra/components/objectstore_identities.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.components import objectstore_identities as ids
from infra.config import ConfigError, load_stack_file
from infra.render import RenderedStack
from tests.infra.rendering import REPO_ROOT, STACKS, RenderRun

CONFIGS = Path(__file__).parent / "configs"
ADMIN_SECRET = "s3-admin-credentials"  # a Secret name
# Each consumer identity -> (namespace, name) of its S3 Secret.
CONSUMERS = {
    ids.MLFLOW: ("mlops-platform", "s3-mlflow-credentials"),
    ids.TRAINING: ("mlops-training", "s3-training-credentials"),
    ids.SERVING: ("mlops-serving", "s3-serving-credentials"),
}


def _s3_secrets(rendered: RenderedStack) -> dict[tuple[str, str], dict[str, str]]:
    return {
        (o["metadata"]["namespace"], o["metadata"]["name"]): o["stringData"]
        for o in rendered.manifests
        if o["kind"] == "Secret" and o["metadata"]["name"].startswith("s3-")
    }


def _secret_refs(obj: dict[str, Any]) -> set[str]:
    """Every Secret name an object refers to (secretKeyRef, secretRef, volumes, s3Credentials)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("secretKeyRef", "secretRef") and isinstance(value, dict):
                    found.add(str(value["name"]))
                elif key == "secret" and isinstance(value, dict) and "secretName" in value:
                    found.add(str(value["secretName"]))
                elif key in ("accessKeyId", "secretAccessKey") and isinstance(value, dict):
                    found.add(str(value["name"]))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(obj)
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_each_consumer_namespace_holds_only_its_own_key(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    secrets = _s3_secrets(rendered_stacks[stack])
    keys = {ids.ADMIN: secrets[("mlops-platform", ADMIN_SECRET)]["AWS_ACCESS_KEY_ID"]}
    for identity, where in CONSUMERS.items():
        keys[identity] = secrets[where]["AWS_ACCESS_KEY_ID"]
    if stack != "dev":  # stage and prod back up the database
        where = ("mlops-platform", "s3-postgres-backups-credentials")
        keys[ids.POSTGRES_BACKUPS] = secrets[where]["AWS_ACCESS_KEY_ID"]
    assert len(set(keys.values())) == len(keys), keys
    # Training and serving namespaces hold exactly one S3 Secret: their own.
    for namespace in ("mlops-training", "mlops-serving"):
        assert [name for ns, name in secrets if ns == namespace] == [
            name for ns, name in CONSUMERS.values() if ns == namespace
        ]


@pytest.mark.parametrize("stack", STACKS)
def test_the_admin_key_reaches_only_the_bucket_job_and_the_server(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    rendered = rendered_stacks[stack]
    admin_key = _s3_secrets(rendered)[("mlops-platform", ADMIN_SECRET)]["AWS_SECRET_ACCESS_KEY"]
    holders = {
        (o["kind"], o["metadata"]["name"]) for o in rendered.manifests if admin_key in json.dumps(o)
    }
    # SeaweedFS reads the admin identity from its identity file.
    assert holders == {("Secret", ADMIN_SECRET), ("Secret", "seaweedfs-s3-config")}
    users = {
        (o["kind"], o["metadata"]["name"])
        for o in rendered.manifests
        if ADMIN_SECRET in _secret_refs(o)
    }
    assert users == {("Job", "seaweedfs-buckets")}


@pytest.mark.parametrize("stack", STACKS)
def test_each_workload_signs_with_its_own_identity(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    rendered = rendered_stacks[stack]

    def refs(kind: str, name: str) -> set[str]:
        (obj,) = [
            o for o in rendered.manifests if (o["kind"], o["metadata"]["name"]) == (kind, name)
        ]
        return {r for r in _secret_refs(obj) if r.startswith("s3-")}

    assert refs("Deployment", "mlflow") == {"s3-mlflow-credentials"}
    assert refs("CronJob", "retrain") == {"s3-training-credentials"}
    assert refs("Deployment", "serving") == {"s3-serving-credentials"}
    if stack != "dev":
        assert refs("ObjectStore", "mlflow-db-backups") == {"s3-postgres-backups-credentials"}


def test_seaweedfs_consumers_have_no_admin_action_and_a_scoped_policy(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    (secret,) = [
        o
        for o in rendered_stacks["prod"].manifests
        if o["kind"] == "Secret" and o["metadata"]["name"] == "seaweedfs-s3-config"
    ]
    config = json.loads(secret["stringData"]["s3.json"])
    by_name = {i["name"]: i for i in config["identities"]}
    assert set(by_name) == set(ids.ALL)
    assert by_name[ids.ADMIN]["actions"] == ["Admin"]
    policies = {p["name"]: json.loads(p["content"]) for p in config["policies"]}
    for name in set(ids.ALL) - {ids.ADMIN}:
        assert by_name[name]["actions"] == []
        (policy,) = by_name[name]["policyNames"]
        resources = {r for s in policies[policy]["Statement"] for r in s["Resource"]}
        assert "*" not in resources
        assert "arn:aws:s3:::*" not in resources
    serving = policies[ids.policy_name(ids.SERVING)]["Statement"]
    assert serving == [
        {
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": [
                "arn:aws:s3:::inference-log/v1/predictions/*",
                "arn:aws:s3:::inference-log/v1/labels/*",
            ],
        }
    ]


def test_minio_bucket_job_creates_one_user_per_consumer_with_its_policy(
    render_stack: Callable[..., RenderRun], tmp_path: Path
) -> None:
    document = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.stage.yaml").read_text())
    document["config"]["mlops-platform:objectStore"]["engine"] = "minio"
    path = tmp_path / "minio.yaml"
    path.write_text(yaml.safe_dump(document))
    rendered = render_stack(path, "stage").load()
    (job,) = [
        o for o in rendered.manifests if o["kind"] == "Job" and "buckets" in o["metadata"]["name"]
    ]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    script = container["command"][-1]
    env = {e["name"]: e for e in container["env"]}
    consumers = (ids.MLFLOW, ids.TRAINING, ids.SERVING, ids.POSTGRES_BACKUPS)
    for identity in consumers:
        policy = ids.policy_name(identity)
        var = identity.upper().replace("-", "_")
        assert f"mc admin policy create store {policy} " in script
        assert f'mc admin policy attach store {policy} --user "$S3_{var}_ACCESS"' in script
        assert env[f"S3_{var}_ACCESS"]["valueFrom"]["secretKeyRef"]["name"] == ADMIN_SECRET
        statements = json.loads(env[f"S3_{var}_POLICY"]["value"])["Statement"]
        assert statements
    # The root user is the admin key; the server and the Job are its only readers.
    (server,) = [
        o
        for o in rendered.manifests
        if (o["kind"], o["metadata"]["name"]) == ("Deployment", "minio")
    ]
    assert _secret_refs(server) == {ADMIN_SECRET}
    users = {o["metadata"]["name"] for o in rendered.manifests if ADMIN_SECRET in _secret_refs(o)}
    assert users == {"minio", "minio-buckets"}


def test_external_s3_names_each_missing_consumer_key(tmp_path: Path) -> None:
    document = yaml.safe_load((CONFIGS / "external-s3.yaml").read_text())
    del document["config"]["mlops-platform:objectStore"]["keys"]["serving"]
    path = tmp_path / "external.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as raised:
        load_stack_file(path)
    assert "mlops-platform:objectStore.keys" in str(raised.value)
    assert "objectStore.keys.serving" in str(raised.value)
    assert "objectStore.keys.mlflow" not in str(raised.value)


def test_external_s3_with_backups_needs_the_backups_key(tmp_path: Path) -> None:
    document = yaml.safe_load((CONFIGS / "external-s3.yaml").read_text())
    document["config"]["mlops-platform:postgres"]["backups"] = {
        "schedule": "0 0 3 * * *",
        "retention": "14d",
    }
    document["config"]["mlops-platform:certManager"] = {"install": False}
    path = tmp_path / "external.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=r"keys\.postgresBackups is required"):
        load_stack_file(path)


def test_consumer_keys_are_refused_for_an_in_cluster_engine(tmp_path: Path) -> None:
    document = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    document["config"]["mlops-platform:objectStore"]["keys"] = {}
    path = tmp_path / "dev.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=r"objectStore.keys: only used when engine is 'external'"):
        load_stack_file(path)


def test_a_plain_consumer_secret_key_is_refused(tmp_path: Path) -> None:
    document = yaml.safe_load((CONFIGS / "external-s3.yaml").read_text())
    document["config"]["mlops-platform:objectStore"]["keys"]["mlflow"]["secretAccessKey"] = "x"
    path = tmp_path / "external.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=r"objectStore\.keys\.mlflow\.secretAccessKey: a secret"):
        load_stack_file(path)
