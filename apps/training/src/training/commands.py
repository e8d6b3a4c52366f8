"""One function per CLI command: read settings, run the recipe, print progress and results."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
from mlops_contract import env
from mlops_contract.triggers import POLICY_ACCURACY, POLICY_DRIFT, Triggers

from training import champion, data, gate, health, inference_log, monitoring, online
from training import retrain as retrain_decision
from training.errors import TrainingError
from training.inference_log import LogRead
from training.monitoring import Signals
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


def _log_s3(settings: Settings) -> S3Config:
    from training.storage import S3Config

    return S3Config.for_inference_log(settings)


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


def _load_holdout(spec: data.DataSpec) -> recipe.Holdout:
    from training import recipe

    frame, name = spec.load()
    return recipe.Holdout(frame=frame, name=name)


def promote(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    """`promote`: gate a version; exit 3 when the gate rejects it."""
    uri = _check_mlflow(settings)
    from training import recipe

    policy = _policy(args)
    decision = recipe.promote(
        target=_target(args, settings, uri),
        version=args.version,
        holdout=_load_holdout(_holdout_spec(args, settings, 0.0)),
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


def bootstrap(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    """`bootstrap`: when the alias names no version, train and promote a first model.

    The first deploy's Job: serving is not ready until a champion exists. Idempotent: with a
    champion (a second run, a restored registry) it changes nothing. The first model goes
    through the same train and gate as `train` and `promote`; exit 3 if the gate rejects it.
    """
    uri = _check_mlflow(settings)
    name, alias = settings.model_name, settings.model_alias
    found = champion.lookup(uri, name, alias, settings.mlflow_connect_timeout)
    if found is not None:
        progress(f"{name}@{alias} is already version {found.version}: nothing to do")
        return EXIT_OK
    progress(f"{name}@{alias} names no version: training and promoting a first model")
    target, registered = _train_version(args, settings, progress)
    from training import recipe

    decision = recipe.promote(
        target=target,
        version=registered.version,
        holdout=_load_holdout(_holdout_spec(args, settings, args.drift)),
        policy=_policy(args),
        progress=progress,
    )
    _report(decision, progress)
    return EXIT_OK if decision.promote else EXIT_REJECTED


def retrain(args: argparse.Namespace, settings: Settings, progress: Progress) -> int:
    """`retrain`: measure, decide, then train, gate, promote; push the figures and the outcome."""
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


def _require_sources(args: argparse.Namespace, settings: Settings, triggers: Triggers) -> None:
    """Each trigger in the policy names the setting it cannot decide without."""
    if POLICY_DRIFT in triggers.policy and not (settings.prometheus_url or "").strip():
        raise TrainingError(
            f"{env.PROMETHEUS_URL} is not set; policy {args.policy!r} needs it for drift "
            "(set it to the Prometheus server URL, or drop `drift` from the policy)"
        )
    if POLICY_ACCURACY in triggers.policy and not settings.inference_log_bucket:
        raise TrainingError(
            f"{env.INFERENCE_LOG_BUCKET} is not set; policy {args.policy!r} needs serving's "
            "inference log for online accuracy (set it to the log's bucket, or drop `accuracy` "
            "from the policy)"
        )


def _measure(
    args: argparse.Namespace, settings: Settings, progress: Progress
) -> tuple[LogRead | None, Signals]:
    """Read the log's window, push every version's figures, return the champion's and drift."""
    log: LogRead | None = None
    accuracy: dict[str, float | None] = {"online": None, "offline": None, "labelled": None}
    bucket = settings.inference_log_bucket
    if bucket:
        window = inference_log.Window.last(args.window_minutes)
        log = inference_log.read(_log_s3(settings), bucket, window)
        progress(log.describe(bucket, window))
        best = champion.lookup(
            settings.require_tracking_uri(),
            settings.model_name,
            settings.model_alias,
            settings.mlflow_connect_timeout,
        )
        figures = online.figures(log.labelled, best)
        progress(online.describe(figures, args.window_minutes))
        for f in figures:
            if f.champion:
                accuracy = {"online": f.online, "offline": f.offline, "labelled": f.labelled}
        if settings.pushgateway_url:
            try:
                monitoring.push_accuracy(settings.pushgateway_url, figures)
            except TrainingError as exc:  # the decision below does not need the push
                print(f"warning: {exc}", flush=True)
    max_psi = None
    prom = (settings.prometheus_url or "").strip()
    if prom:
        max_psi = monitoring.read_max_psi(prom)
        progress(f"Prometheus at {prom}: max_psi={max_psi}")
    signals = Signals(
        max_psi=max_psi,
        online_accuracy=accuracy["online"],
        offline_accuracy=accuracy["offline"],
        labelled=accuracy["labelled"],
        window=f"{args.window_minutes} min",
    )
    return log, signals


def _retrain(args: argparse.Namespace, settings: Settings, progress: Progress) -> str:
    triggers = retrain_decision.parse(
        args.policy, args.max_psi, args.max_accuracy_drop, args.min_labelled
    )
    gate_policy = _policy(args)
    _require_sources(args, settings, triggers)
    log, signals = _measure(args, settings, progress)
    go, reason = retrain_decision.should_retrain(triggers, signals)
    if go and log is not None and len(log.labelled) < args.min_rows:
        go, reason = (
            False,
            (
                f"{reason}; but only {len(log.labelled)} labelled rows in the inference log over "
                f"the last {args.window_minutes} min (< {env.RETRAIN_MIN_ROWS}={args.min_rows}): "
                "too few to train and judge a candidate"
            ),
        )
    progress(f"decision: {'retrain' if go else 'skip'} ({reason})")
    if not go:
        return "skipped"
    if log is None:
        # No inference log: train on TRAINING_DATA or synthetic data and judge on a synthetic
        # (or TRAINING_HOLDOUT_DATA) holdout, as `train` and `promote` do.
        target, registered = _train_version(args, settings, progress)
        holdout = _load_holdout(_holdout_spec(args, settings, args.drift))
    else:
        target, registered, holdout = _train_on_log(args, settings, log, progress)
    from training import recipe

    decision = recipe.promote(
        target=target,
        version=registered.version,
        holdout=holdout,
        policy=gate_policy,
        progress=progress,
    )
    _report(decision, progress)
    return "promoted" if decision.promote else "rejected"


def _train_on_log(
    args: argparse.Namespace, settings: Settings, log: LogRead, progress: Progress
) -> tuple[recipe.Target, tracking.RegisteredVersion, recipe.Holdout]:
    """Train on the window's labelled rows (plus reference data) and hold out the newest."""
    uri = _check_mlflow(settings)
    bucket = settings.inference_log_bucket
    train_rows, holdout_rows = inference_log.recent_split(
        log.labelled, max_rows=args.max_rows, holdout_fraction=args.holdout_fraction
    )
    name = f"inference-log:{bucket}:last-{args.window_minutes}min"
    progress(
        f"training set: the {len(train_rows) + len(holdout_rows)} most recent labelled rows "
        f"(at most {args.max_rows}); holdout: the newest {len(holdout_rows)}"
    )
    if args.data is not None:
        reference, reference_name = _train_spec(args, settings).load()
        train_rows = pd.concat([reference, train_rows], ignore_index=True)
        name = f"{name}+{reference_name}"
        progress(f"plus reference data {reference_name}: {len(reference)} rows")
    from training import recipe, snapshot

    snap = snapshot.snapshot(
        holdout_rows, f"inference-log-holdout:{bucket}", bucket=settings.datasets_bucket,
        s3=_s3(settings),
    )  # fmt: skip
    progress(f"holdout snapshot {snap.uri}")
    target = _target(args, settings, uri)
    progress(f"MLflow at {uri}, model {target.model_name}")
    registered = recipe.train(
        train_rows, name, _params(args), target=target, progress=progress, test=holdout_rows
    )
    return target, registered, recipe.Holdout(frame=holdout_rows, name=snap.uri)
