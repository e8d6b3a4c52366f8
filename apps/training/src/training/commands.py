"""One function per CLI command: read settings, run the recipe, print progress and results."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from training import data, gate, health, monitoring
from training.errors import TrainingError
from training.retrain import RetrainPolicy, should_retrain

if TYPE_CHECKING:
    from training import model, tracking

# mlflow and scikit-learn cost seconds to import, so each command imports what it needs
# inside its function: `retrain` that skips, and most failures, never load them at all.

Progress = Callable[[str], None]
DEFAULT_MODEL_NAME = "traffic-congestion"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REJECTED = 3


def print_json(payload: Any) -> None:
    """Write one JSON document to stdout."""
    json.dump(payload, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def model_name() -> str:
    """MODEL_NAME, default `traffic-congestion`."""
    return os.environ.get("MODEL_NAME") or DEFAULT_MODEL_NAME


def describe_failure(exc: BaseException) -> str:
    """One line naming what failed, for errors that escaped as library exceptions."""
    mlflow_exceptions = sys.modules.get("mlflow.exceptions")
    botocore_exceptions = sys.modules.get("botocore.exceptions")
    if mlflow_exceptions is not None and isinstance(exc, mlflow_exceptions.MlflowException):
        uri = os.environ.get("MLFLOW_TRACKING_URI", "(unset)")
        first = (str(exc.message).strip().splitlines() or [type(exc).__name__])[0]
        if "Max retries exceeded" in first or "Connection refused" in first:
            first = "connection refused or unreachable"
        return f"MLflow at {uri}: {first[:300]}"
    if botocore_exceptions is not None and isinstance(
        exc, botocore_exceptions.BotoCoreError | botocore_exceptions.ClientError
    ):
        from training import storage

        return storage.describe(exc)
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"unexpected {type(exc).__name__}: {text[:300]}"


def _train_spec(args: argparse.Namespace) -> data.DataSpec:
    return data.DataSpec(source=args.data, rows=args.rows, seed=args.seed, drift=args.drift)


def _holdout_spec(args: argparse.Namespace, drift: float) -> data.DataSpec:
    # A fresh seed each run unless pinned: the gate should not be tuned to one sample.
    seed = args.holdout_seed if args.holdout_seed is not None else secrets.randbelow(2**31)
    holdout_drift = args.holdout_drift if args.holdout_drift is not None else drift
    return data.DataSpec(
        source=args.holdout, rows=args.holdout_rows, seed=seed, drift=holdout_drift
    )


def _params(args: argparse.Namespace) -> model.TrainParams:
    from training import model

    return model.TrainParams(
        n_estimators=args.n_estimators,
        max_depth=args.max_depth,
        min_samples_leaf=args.min_samples_leaf,
        test_size=args.test_size,
        seed=args.seed,
    )


def _policy(args: argparse.Namespace) -> gate.GatePolicy:
    return gate.GatePolicy(
        metric=args.metric,
        floor=args.floor,
        max_regression=args.max_regression,
        max_latency_ms_per_row=args.max_latency_ms_per_row,
    )


def _experiment(args: argparse.Namespace) -> str:
    return args.experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or model_name()


def _train_version(args: argparse.Namespace, progress: Progress) -> tracking.RegisteredVersion:
    """Cheap checks first (MLflow answers, data valid), then the slow imports and the work."""
    uri = health.check_mlflow()
    df, name = _train_spec(args).load()
    progress(f"loaded dataset {name}: {len(df)} rows")
    from training import recipe, tracking

    tracking.connect()
    progress(f"MLflow at {uri}, model {model_name()}")
    return recipe.train(
        df,
        name,
        _params(args),
        model_name=model_name(),
        experiment=_experiment(args),
        progress=progress,
    )


def train(args: argparse.Namespace, progress: Progress) -> int:
    """`train`: register a new version; never touches aliases."""
    _train_version(args, progress)
    return EXIT_OK


def _report(decision: gate.Decision, progress: Progress) -> None:
    verdict = "PROMOTED" if decision.promote else "REJECTED"
    progress(f"{verdict}: {decision.reason}")


def promote(args: argparse.Namespace, progress: Progress) -> int:
    """`promote`: gate a version; exit 3 when the gate rejects it."""
    health.check_mlflow()
    from mlflow.tracking import MlflowClient

    from training import recipe, tracking

    policy = _policy(args)
    tracking.connect()
    decision = recipe.promote(
        MlflowClient(),
        model_name=model_name(),
        version=args.version,
        holdout=_holdout_spec(args, 0.0),
        policy=policy,
        progress=progress,
    )
    _report(decision, progress)
    return EXIT_OK if decision.promote else EXIT_REJECTED


def rollback(args: argparse.Namespace, progress: Progress) -> int:
    """`rollback`: champion <- previous."""
    health.check_mlflow()
    from mlflow.tracking import MlflowClient

    from training import registry, tracking

    del args
    tracking.connect()
    demoted, restored = registry.rollback(MlflowClient(), model_name())
    progress(f"champion {demoted or '(none)'} -> {restored}; alias previous removed")
    return EXIT_OK


def _line(label: str, v: dict[str, Any] | None) -> str:
    if v is None:
        return f"{label:<9} (none)"
    metrics = " ".join(f"{k}={val:.4f}" for k, val in sorted(v["metrics"].items()))
    return (
        f"{label:<9} v{v['version']:<4} {metrics} data={v['data_digest']} "
        f"commit={(v['git_commit'] or '?')[:12]} gate={v['gate_decision'] or '-'}"
    )


def status(args: argparse.Namespace, progress: Progress) -> int:
    """`status`: champion, previous, latest (human or --json)."""
    health.check_mlflow()
    from mlflow.tracking import MlflowClient

    from training import registry, tracking

    del progress
    tracking.connect()
    report = registry.status(MlflowClient(), model_name())
    if args.json:
        print_json(report)
        return EXIT_OK
    print(f"model {report['model']} ({report['versions']} versions)")
    for label in ("champion", "previous", "latest"):
        print(_line(label, report[label]))
    return EXIT_OK


def retrain(args: argparse.Namespace, progress: Progress) -> int:
    """`retrain`: decide from Prometheus, then train, gate, promote; push the outcome."""
    started = monitoring.now()
    outcome = "failed"
    try:
        outcome = _retrain(args, progress)
        return EXIT_OK
    finally:
        gateway = os.environ.get("PUSHGATEWAY_URL")
        if gateway:
            try:
                monitoring.push_outcome(gateway, outcome, started, monitoring.now())
                progress(f"pushed outcome {outcome} to {gateway}")
            except TrainingError as exc:
                # Losing the report must not turn a good run into a failed one; the
                # staleness alert on retrain_last_run_timestamp_seconds covers it.
                print(f"warning: {exc}", flush=True)


def _retrain(args: argparse.Namespace, progress: Progress) -> str:
    policy = RetrainPolicy.parse(args.policy, args.max_psi, args.max_accuracy_drop)
    gate_policy = _policy(args)
    signals = None
    prom = os.environ.get("PROMETHEUS_URL", "").strip()
    if policy.needs_prometheus and not prom:
        raise TrainingError(f"PROMETHEUS_URL is not set; policy {args.policy!r} needs it")
    if prom:
        signals = monitoring.read_signals(prom)
        progress(
            f"Prometheus at {prom}: max_psi={signals.max_psi} "
            f"online_accuracy={signals.online_accuracy} offline_accuracy={signals.offline_accuracy}"
        )
    go, reason = should_retrain(policy, signals)
    progress(f"decision: {'retrain' if go else 'skip'} ({reason})")
    if not go:
        return "skipped"
    from mlflow.tracking import MlflowClient

    registered = _train_version(args, progress)
    from training import recipe

    decision = recipe.promote(
        MlflowClient(),
        model_name=model_name(),
        version=registered.version,
        holdout=_holdout_spec(args, args.drift),
        policy=gate_policy,
        progress=progress,
    )
    _report(decision, progress)
    return "promoted" if decision.promote else "rejected"
