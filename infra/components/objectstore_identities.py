"""Who may do what in the object store: one S3 identity per consumer, each with its own key.

Pure (no Pulumi): the infra, the sandbox and the tests build the same policies from here.

Each consumer gets an S3 policy document (AWS IAM syntax, bucket and prefix resources) that
both in-cluster engines enforce: SeaweedFS attaches it to a static identity (`policyNames` in
its `-s3.config` file), MinIO to a user that the bucket Job creates. Only `admin` (the bucket
Job, and MinIO's root user) may create buckets or manage users.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops_contract import inference_log

ADMIN = "admin"
MLFLOW = "mlflow"
TRAINING = "training"
SERVING = "serving"
POSTGRES_BACKUPS = "postgres-backups"
# Every identity, admin first; POSTGRES_BACKUPS exists only when backups are configured.
ALL = (ADMIN, MLFLOW, TRAINING, SERVING, POSTGRES_BACKUPS)

GET = "s3:GetObject"
PUT = "s3:PutObject"
# A failed multipart upload is cleaned up by the writer that started it.
ABORT = "s3:AbortMultipartUpload"
DELETE = "s3:DeleteObject"
LIST = "s3:ListBucket"


@dataclass(frozen=True)
class Grant:
    """Object actions on one bucket (optionally under prefixes), and whether it may list it.

    Attributes:
        bucket: the bucket name.
        actions: object-level S3 actions (GET, PUT, ABORT, DELETE).
        prefixes: key prefixes the object actions are limited to; empty: the whole bucket.
        list: may list the bucket's keys (s3:ListBucket).
    """

    bucket: str
    actions: tuple[str, ...]
    prefixes: tuple[str, ...] = ()
    list: bool = False


@dataclass(frozen=True)
class Identity:
    """One consumer's rights."""

    name: str
    grants: tuple[Grant, ...]


def serving_prefixes() -> tuple[str, ...]:
    """The key prefixes serving writes under: one per kind of the contract's log layout."""
    return tuple(f"{inference_log.LAYOUT}/{kind}/" for kind in inference_log.KINDS)


def consumers(
    *, artifacts: str, datasets: str, inference_log_bucket: str, backups: str | None
) -> tuple[Identity, ...]:
    """Return every consumer identity (not admin) and its grants, for these bucket names."""
    found = [
        # MLflow proxies every artifact (--serve-artifacts) and deletes them on run deletion.
        Identity(MLFLOW, (Grant(artifacts, (GET, PUT, ABORT, DELETE), list=True),)),
        # Retrain snapshots datasets (never deletes one: runs cite them) and reads the log.
        Identity(
            TRAINING,
            (
                Grant(datasets, (GET, PUT, ABORT), list=True),
                Grant(inference_log_bucket, (GET,), list=True),
            ),
        ),
        # Serving only appends new objects to the log: it can neither read nor delete them.
        Identity(
            SERVING, (Grant(inference_log_bucket, (PUT, ABORT), prefixes=serving_prefixes()),)
        ),
    ]
    if backups is not None:
        # Barman writes base backups and WAL and deletes those past the retention window.
        found.append(
            Identity(POSTGRES_BACKUPS, (Grant(backups, (GET, PUT, ABORT, DELETE), list=True),))
        )
    return tuple(found)


def policy_name(identity: str) -> str:
    """Return the name of an identity's policy in the engine (MinIO, SeaweedFS)."""
    return f"mlops-{identity}"


def policy_document(identity: Identity) -> dict[str, Any]:
    """Return the S3 policy (IAM JSON) that allows exactly the identity's grants."""
    statements: list[dict[str, Any]] = []
    for grant in identity.grants:
        keys = [f"{p}*" for p in grant.prefixes] or ["*"]
        statements.append(
            {
                "Effect": "Allow",
                "Action": list(grant.actions),
                "Resource": [f"arn:aws:s3:::{grant.bucket}/{key}" for key in keys],
            }
        )
        if grant.list:
            statements.append(
                {"Effect": "Allow", "Action": [LIST], "Resource": [f"arn:aws:s3:::{grant.bucket}"]}
            )
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass(frozen=True)
class KeyPair:
    """An access key id and its secret (or `${...}` templates of them)."""

    access_key: str
    secret_key: str


def seaweedfs_config(keys: Mapping[str, KeyPair], identities: tuple[Identity, ...]) -> str:
    """Return SeaweedFS's `-s3.config` JSON: admin with `Admin`, each consumer with its policy.

    Args:
        keys: the key pair of ADMIN and of every identity in `identities`.
        identities: the consumers (from `consumers`).
    """

    def creds(name: str) -> list[dict[str, str]]:
        pair = keys[name]
        return [{"accessKey": pair.access_key, "secretKey": pair.secret_key}]

    entries: list[dict[str, Any]] = [
        {"name": ADMIN, "credentials": creds(ADMIN), "actions": ["Admin"]}
    ]
    policies = []
    for identity in identities:
        # No actions: only the attached policy grants anything (no legacy Write, which would
        # include DeleteObject).
        entries.append(
            {
                "name": identity.name,
                "credentials": creds(identity.name),
                "actions": [],
                "policyNames": [policy_name(identity.name)],
            }
        )
        document = json.dumps(policy_document(identity), sort_keys=True)
        policies.append({"name": policy_name(identity.name), "content": document})
    return json.dumps({"identities": entries, "policies": policies}, sort_keys=True)
