"""One function per CLI command: read settings, run the recipe, print progress and results."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlops_contract import env

from training import data, gate, health, monitoring
from training import retrain as retrain_decision
from training.errors import TrainingError
from training.settings import Settings

if TYPE_CHECKING:
    from training import model, recipe, tracking
    from training.storage import S3Config

# mlflow and scikit-learn cost seconds to import, so each command imports what it needs
# inside its function: `retrain` that skips, and most failures, never load them at all.

Progress = Callable[[str], None]
Command = Callable[[argparse.Namespace, Settings, Progress], int]
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REJECTED = 3


def print_json(payload: Any) -> None:
    """Write one JSON document to stdout."""
    json.dump(payload, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def describe_failure(exc: BaseException, settings: Settings | None) -> str:
    """One line naming what failed, for errors that escaped as library exceptions."""
    mlflow_exceptions = sys.modules.get("mlflow.exceptions")
    botocore_exceptions = sys.modules.get("botocore.exceptions")
    if mlflow_exceptions is not None and isinstance(exc, mlflow_exceptions.MlflowException):
        uri = (settings.mlflow_tracking_uri if settings else None) or "(unset)"
        first = (str(exc.message).strip().splitlines() or [type(exc).__name__])[0]
        if "Max retries exceeded" in first or "Connection refused" in first:
            first = "connection refused or unreachable"
        return f"MLflow at {uri}: {first[:300]}"
    if botocore_exceptions is not None and isinstance(
        exc, botocore_exceptions.BotoCoreError | botocore_exceptions.ClientError
    ):
        from training import storage

        cfg = storage.S3Config() if settings is None else storage.S3Config.from_settings(settings)
        return storage.describe(exc, cfg)
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"unexpected {type(exc).__name__}: {text[:300]}"


def _s3(settings: Settings) -> S3Config:
    from training.storage import S3Config

    return S3Config.from_settings(settings)


def _train_spec(args: argparse.Namespace, settings: Settings) -> data.DataSpec:
    return data.DataSpec(
        source=args.data, rows=args.rows, seed=args.seed, drift=args.drift, s3=_s3(settings)
    )


def _holdout_spec(args: argparse.Namespace, settings: Settings, drift: float) -> data.DataSpec:
    # A fresh seed each run unless pinned: the gate should not be tuned to one sample.
    seed = args.holdout_seed if args.holdout_seed is not None else secrets.randbelow(2**31)
    holdout_drift = args.holdout_drift if args.holdout_drift is not None else drift
    return data.DataSpec(
        source=args.holdout,
        rows=args.holdout_rows,
        seed=seed,
        drift=holdout_drift,
        s3=_s3(settings),
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


def _check_mlflow(settings: Settings) -> str:
    """The tracking URI, once MLflow answers /health (cheap, before the slow imports)."""
    return health.check_mlflow(settings.require_tracking_uri(), settings.mlflow_connect_timeout)


def _target(args: argparse.Namespace, settings: Settings, uri: str) -> recipe.Target:
    from training import recipe, tracking

    return recipe.Target(
        client=tracking.client(uri),
        tracking_uri=uri,
        model_name=settings.model_name,
        alias=settings.model_alias,
        experiment=getattr(args, "experiment", None) or settings.experiment(),
        bucket=settings.datasets_bucket,
        s3=_s3(settings),
        commit=tracking.git_commit(settings.git_commit),
    )


def _train_version(
    args: argparse.Namespace, settings: Settings, progress: Progress
) -> tuple[recipe.Target, tracking.RegisteredVersion]:
    """Cheap checks first (MLflow answers, data valid), then the slow imports and the work."""
    uri = _check_mlflow(settings)
    df, name = _train_spec(args, settings).load()
    progress(f"loaded dataset {name}: {len(df)} rows")
    from training import recipe

    target = _target(args, settings, uri)
    progress(f"MLflow at {uri}, model {target.model_name}")
    return target, recipe.train(df, name, _params(args), target=target, progress=progress)


def train(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    """`train`: register a new version; never touches aliases."""
    _train_version(args, settings, progress)
    return EXIT_OK


def _report(decision: gate.Decision, progress: Progress) -> None:
    verdict = "PROMOTED" if decision.promote else "REJECTED"
    progress(f"{verdict}: {decision.reason}")


def promote(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    """`promote`: gate a version; exit 3 when the gate rejects it."""
    uri = _check_mlflow(settings)
    from training import recipe

    policy = _policy(args)
    decision = recipe.promote(
        target=_target(args, settings, uri),
        version=args.version,
        holdout=_holdout_spec(args, settings, 0.0),
        policy=policy,
        progress=progress,
    )
    _report(decision, progress)
    return EXIT_OK if decision.promote else EXIT_REJECTED


def rollback(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    """`rollback`: the alias serving follows <- previous."""
    uri = _check_mlflow(settings)
    from training import registry, tracking

    del args
    alias = settings.model_alias
    demoted, restored = registry.rollback(tracking.client(uri), settings.model_name, alias)
    progress(f"{alias} {demoted or '(none)'} -> {restored}; alias {registry.PREVIOUS} removed")
    return EXIT_OK


def _line(label: str, v: dict[str, Any] | None) -> str:
    if v is None:
        return f"{label:<9} (none)"
    metrics = " ".join(f"{k}={val:.4f}" for k, val in sorted(v["metrics"].items()))
    return (
        f"{label:<9} v{v['version']:<4} {metrics} data={v['data_digest']} "
        f"commit={(v['git_commit'] or '?')[:12]} gate={v['gate_decision'] or '-'}"
    )


def status(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    """`status`: champion (the alias's version), previous, latest (human or --json)."""
    uri = _check_mlflow(settings)
    from training import registry, tracking

    del progress
    report = registry.status(tracking.client(uri), settings.model_name, settings.model_alias)
    if args.json:
        print_json(report)
        return EXIT_OK
    print(f"model {report['model']} ({report['versions']} versions, alias {report['alias']})")
    for label in ("champion", "previous", "latest"):
        print(_line(label, report[label]))
    return EXIT_OK


def retrain(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    """`retrain`: decide from Prometheus, then train, gate, promote; push the outcome."""
    started = monitoring.now()
    outcome = "failed"
    try:
        outcome = _retrain(args, settings, progress)
        return EXIT_OK
    finally:
        gateway = settings.pushgateway_url
        if gateway:
            try:
                monitoring.push_outcome(gateway, outcome, started, monitoring.now())
                progress(f"pushed outcome {outcome} to {gateway}")
            except TrainingError as exc:
                # Losing the report must not turn a good run into a failed one; the
                # staleness alert on the last-run timestamp covers it.
                print(f"warning: {exc}", flush=True)


def _retrain(args: argparse.Namespace, settings: Settings, progress: Progress) -> str:
    triggers = retrain_decision.parse(
        args.policy, args.max_psi, args.max_accuracy_drop, args.min_labelled
    )
    gate_policy = _policy(args)
    signals = None
    prom = (settings.prometheus_url or "").strip()
    if retrain_decision.needs_prometheus(triggers) and not prom:
        raise TrainingError(
            f"{env.PROMETHEUS_URL} is not set; policy {args.policy!r} needs it "
            "(set it to the Prometheus server URL, or use --policy always)"
        )
    if prom:
        signals = monitoring.read_signals(prom)
        progress(
            f"Prometheus at {prom}: max_psi={signals.max_psi} "
            f"online_accuracy={signals.online_accuracy} "
            f"offline_accuracy={signals.offline_accuracy} labelled={signals.labelled}"
        )
    go, reason = retrain_decision.should_retrain(triggers, signals)
    progress(f"decision: {'retrain' if go else 'skip'} ({reason})")
    if not go:
        return "skipped"
    target, registered = _train_version(args, settings, progress)
    from training import recipe

    decision = recipe.promote(
        target=target,
        version=registered.version,
        holdout=_holdout_spec(args, settings, args.drift),
        policy=gate_policy,
        progress=progress,
    )
    _report(decision, progress)
    return "promoted" if decision.promote else "rejected"
