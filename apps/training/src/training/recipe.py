"""The two steps every job runs, top to bottom: train-and-register, then gate-and-promote."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from mlflow.tracking import MlflowClient

from training import gate, model, registry, snapshot, storage, tracking

Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class Holdout:
    """The labelled rows candidate and champion are both scored on, and where they came from."""

    frame: pd.DataFrame
    name: str


@dataclass(frozen=True, kw_only=True)
class Target:
    """Where a job reads and writes: the MLflow server, the model and alias, the object store."""

    client: MlflowClient
    tracking_uri: str
    model_name: str
    alias: str
    experiment: str
    bucket: str
    s3: storage.S3Config
    commit: str


def train(
    df: pd.DataFrame,
    name: str,
    params: model.TrainParams,
    *,
    target: Target,
    progress: Progress,
    test: pd.DataFrame | None = None,
) -> tracking.RegisteredVersion:
    """Snapshot -> fit -> log -> register a validated frame; return the version (not promoted).

    The test metrics (the version's offline accuracy) are measured on `test` when given (the
    recent holdout `retrain` takes from the inference log), else on a random split of df.
    """
    model_name = target.model_name
    snap = snapshot.snapshot(df, name, bucket=target.bucket, s3=target.s3)
    state = "uploaded" if snap.uploaded else "already present"
    progress(f"snapshot {snap.uri} ({state})")
    result = model.train(df, params) if test is None else model.fit(df, test, params)
    ev = result.evaluation
    progress(
        f"trained: test_accuracy={ev.accuracy:.4f} test_f1={ev.f1:.4f} "
        f"test_roc_auc={ev.roc_auc:.4f} on {ev.rows} rows"
    )
    registered = tracking.log_and_register(
        target.client,
        result,
        dataset=df,
        snap=snap,
        data_name=name,
        params=params,
        model_name=model_name,
        experiment=target.experiment,
        commit=target.commit,
        progress=progress,
    )
    progress(f"registered {model_name} version {registered.version} (run {registered.run_id})")
    return registered


def promote(
    *,
    target: Target,
    version: str | None,
    holdout: Holdout,
    policy: gate.GatePolicy,
    progress: Progress,
) -> gate.Decision:
    """Score candidate and champion on one holdout, decide, record, move aliases on pass."""
    client, model_name, uri = target.client, target.model_name, target.tracking_uri
    frame, holdout_name = holdout.frame, holdout.name
    progress(f"holdout {holdout_name}: {len(frame)} rows")
    candidate = registry.get_version(client, model_name, version)
    champion = registry.by_alias(client, model_name, target.alias)
    if champion is not None and champion.version == candidate.version:
        note = f"version {candidate.version} of {model_name!r} is already @{target.alias}"
        progress(note)
        return gate.Decision(
            promote=True,
            reason=f"{note}; nothing to do",
            candidate_score=float("nan"),
            champion_score=None,
            candidate_latency_ms_per_row=float("nan"),
        )
    cand_eval = model.evaluate(tracking.load_pipeline(uri, model_name, candidate.version), frame)
    progress(
        f"candidate v{candidate.version}: {policy.metric}={cand_eval.metric(policy.metric):.4f}"
    )
    champ_eval = None
    if champion is not None:
        champ_eval = model.evaluate(
            tracking.load_pipeline(uri, model_name, champion.version), frame
        )
        progress(
            f"champion v{champion.version}: {policy.metric}={champ_eval.metric(policy.metric):.4f}"
        )
    decision = gate.decide(cand_eval, champ_eval, policy)
    record = registry.GateRecord(
        decision=decision,
        metric=policy.metric,
        champion_version=None if champion is None else str(champion.version),
        holdout=holdout_name,
        holdout_rows=len(frame),
    )
    registry.record_decision(client, model_name, str(candidate.version), record)
    if decision.promote:
        registry.move_champion(client, model_name, str(candidate.version), target.alias)
    return decision
