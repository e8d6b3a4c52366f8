"""Aliases and decision tags in the MLflow model registry.

The alias moved is the one serving follows (MODEL_ALIAS, default `champion`; called the
champion below); the previous one is kept under the contract's PREVIOUS_ALIAS. Alias moves are
ordered so that a crash between two calls never leaves serving on a version the gate did not pass:

- promote: tag the decision, then `previous` -> old champion, then champion -> candidate.
  A crash after the second call leaves the champion alias and `previous` both on the old
  champion: serving is unchanged and running `promote` again finishes the move.
- rollback: champion -> `previous` first, then `previous` is removed. A crash in between
  leaves both on the restored version, which is what was asked for; repeating is harmless.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlops_contract import registry as contract

from training.errors import TrainingError
from training.gate import Decision

PREVIOUS = contract.PREVIOUS_ALIAS


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _missing(exc: MlflowException) -> bool:
    return exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE")


def by_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version an alias points at, or None when the alias (or model) does not exist."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if _missing(exc):
            return None
        raise


def versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    """All versions of a registered model, newest first."""
    found = client.search_model_versions(f"name = '{name}'")
    return sorted(found, key=lambda v: int(v.version), reverse=True)


def get_version(client: MlflowClient, name: str, version: str | None) -> ModelVersion:
    """One version by number, or the newest when version is None; raise if there is none."""
    if version is None:
        all_versions = versions(client, name)
        if not all_versions:
            raise TrainingError(f"registered model {name!r} has no versions; run `train` first")
        return all_versions[0]
    try:
        return client.get_model_version(name, version)
    except MlflowException as exc:
        if _missing(exc):
            raise TrainingError(f"registered model {name!r} has no version {version}") from exc
        raise


@dataclass(frozen=True, kw_only=True)
class GateRecord:
    """What the gate saw, recorded as `gate.*` tags on the candidate version."""

    decision: Decision
    metric: str
    champion_version: str | None
    holdout: str
    holdout_rows: int


def record_decision(client: MlflowClient, name: str, version: str, record: GateRecord) -> None:
    """Tag the candidate with the verdict and its numbers, whether promoted or rejected."""
    d = record.decision
    tags = {
        "gate.decision": "promoted" if d.promote else "rejected",
        "gate.reason": d.reason,
        "gate.metric": record.metric,
        "gate.candidate_score": f"{d.candidate_score:.6f}",
        "gate.champion_score": "" if d.champion_score is None else f"{d.champion_score:.6f}",
        "gate.champion_version": record.champion_version or "",
        "gate.latency_ms_per_row": f"{d.candidate_latency_ms_per_row:.6f}",
        "gate.holdout": record.holdout,
        "gate.holdout_rows": str(record.holdout_rows),
        "gate.decided_at": _now(),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


def move_champion(client: MlflowClient, name: str, version: str, alias: str) -> str | None:
    """Point alias at version, keeping the old one as `previous`; return the old version."""
    old = by_alias(client, name, alias)
    if old is not None and old.version == version:
        return old.version
    if old is not None:
        client.set_registered_model_alias(name, PREVIOUS, old.version)
    client.set_registered_model_alias(name, alias, version)
    return None if old is None else str(old.version)


def rollback(client: MlflowClient, name: str, alias: str) -> tuple[str, str]:
    """Point alias back at `previous`; return (demoted, restored) versions."""
    current = by_alias(client, name, alias)
    target = by_alias(client, name, PREVIOUS)
    if target is None:
        raise TrainingError(f"registered model {name!r} has no {PREVIOUS!r} alias to roll back to")
    demoted = "" if current is None else str(current.version)
    client.set_registered_model_alias(name, alias, target.version)
    client.delete_registered_model_alias(name, PREVIOUS)
    stamp = _now()
    client.set_model_version_tag(name, target.version, "rollback.restored_at", stamp)
    if demoted and demoted != str(target.version):
        client.set_model_version_tag(name, demoted, "rollback.demoted_at", stamp)
    client.set_registered_model_tag(
        name, "last_rollback", f"{demoted or '-'} -> {target.version} at {stamp}"
    )
    return demoted, str(target.version)


def describe_version(client: MlflowClient, mv: ModelVersion) -> dict[str, Any]:
    """A version's number, aliases, metrics, data digest, commit and gate verdict."""
    run = client.get_run(mv.run_id) if mv.run_id else None
    metrics = {} if run is None else dict(run.data.metrics)
    inputs = [] if run is None or run.inputs is None else run.inputs.dataset_inputs
    digests = [i.dataset.digest for i in inputs]
    tags = dict(mv.tags or {})
    return {
        "version": str(mv.version),
        "aliases": sorted(mv.aliases or []),
        "run_id": mv.run_id,
        "created": mv.creation_timestamp,
        "metrics": {k: metrics[k] for k in contract.OFFLINE_METRICS if k in metrics},
        "data_digest": digests[0] if digests else None,
        "data_sha256": tags.get("data_sha256"),
        "data_uri": tags.get("data_uri"),
        "git_commit": tags.get("git_commit"),
        "gate_decision": tags.get("gate.decision"),
        "gate_reason": tags.get("gate.reason"),
    }


def status(client: MlflowClient, name: str, alias: str) -> dict[str, Any]:
    """Champion (the version alias names), previous and latest versions of a model, described."""
    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if _missing(exc):
            raise TrainingError(f"registered model {name!r} not found; run `train` first") from exc
        raise
    all_versions = versions(client, name)
    champion = by_alias(client, name, alias)
    previous = by_alias(client, name, PREVIOUS)
    return {
        "model": name,
        "alias": alias,
        "champion": None if champion is None else describe_version(client, champion),
        "previous": None if previous is None else describe_version(client, previous),
        "latest": None if not all_versions else describe_version(client, all_versions[0]),
        "versions": len(all_versions),
    }
