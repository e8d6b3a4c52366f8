"""`python -m training <command>`: argparse wiring, progress lines, one-line errors."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence

from training import commands
from training.errors import TrainingError


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"error: environment variable {name}={raw!r} is not a number") from None


def _add_gate_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("gate (defaults from GATE_* environment variables)")
    g.add_argument(
        "--metric",
        default=_env("GATE_METRIC", "accuracy"),
        choices=["accuracy", "f1", "roc_auc"],
        help="metric the gate compares",
    )
    g.add_argument(
        "--floor",
        type=float,
        default=_env_float("GATE_FLOOR", 0.7),
        help="absolute minimum for the metric (default 0.7)",
    )
    g.add_argument(
        "--max-regression",
        type=float,
        default=_env_float("GATE_MAX_REGRESSION", 0.02),
        help="largest tolerated drop vs the champion (default 0.02)",
    )
    g.add_argument(
        "--max-latency-ms-per-row",
        type=float,
        default=_env_float("GATE_MAX_LATENCY_MS_PER_ROW", 5.0),
        help="per-row batch predict budget in ms (default 5.0)",
    )
    h = p.add_argument_group("holdout (scored by candidate and champion alike)")
    h.add_argument(
        "--holdout",
        default=os.environ.get("TRAINING_HOLDOUT_DATA"),
        help="CSV/Parquet path or s3:// URI; default a fresh synthetic sample",
    )
    h.add_argument("--holdout-rows", type=int, default=2000, help="synthetic holdout rows")
    h.add_argument(
        "--holdout-seed",
        type=int,
        default=None,
        help="synthetic holdout seed (default: a new one each run)",
    )
    h.add_argument(
        "--holdout-drift",
        type=float,
        default=None,
        help="synthetic holdout drift (default: same as --drift, else 0)",
    )


def _add_train_flags(p: argparse.ArgumentParser) -> None:
    d = p.add_argument_group("data")
    d.add_argument(
        "--data",
        default=os.environ.get("TRAINING_DATA"),
        help="CSV/Parquet path or s3://bucket/key (env TRAINING_DATA); "
        "default the synthetic generator",
    )
    d.add_argument("--rows", type=int, default=5000, help="synthetic rows (default 5000)")
    d.add_argument("--seed", type=int, default=0, help="synthetic data and split seed")
    d.add_argument(
        "--drift",
        type=float,
        default=_env_float("TRAINING_DRIFT", 0.0),
        help="synthetic drift knob in [0, 1] (env TRAINING_DRIFT, default 0)",
    )
    m = p.add_argument_group("model")
    m.add_argument("--n-estimators", type=int, default=100, help="trees in the forest")
    m.add_argument("--max-depth", type=int, default=12, help="tree depth limit")
    m.add_argument("--min-samples-leaf", type=int, default=2, help="minimum rows per leaf")
    m.add_argument("--test-size", type=float, default=0.25, help="test split fraction")
    m.add_argument(
        "--experiment",
        default=None,
        help="MLflow experiment (env MLFLOW_EXPERIMENT_NAME, default MODEL_NAME)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser: one subcommand per job step, every one with --help."""
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Train, register, gate, promote and roll back the traffic-congestion model. "
        "MLflow and S3 come from MLFLOW_TRACKING_URI, MLFLOW_S3_ENDPOINT_URL and AWS_*; "
        "the model name from MODEL_NAME (default traffic-congestion).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("train", help="train, log and register a new version (not promoted)")
    _add_train_flags(p)
    p = sub.add_parser("promote", help="gate a version against the champion; move aliases on pass")
    p.add_argument("--version", default=None, help="version to gate (default: the newest)")
    _add_gate_flags(p)
    sub.add_parser("rollback", help="point champion back at previous")
    p = sub.add_parser("status", help="champion, previous and latest versions")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("retrain", help="CronJob entrypoint: decide, train, gate, promote")
    p.add_argument(
        "--policy",
        default=_env("RETRAIN_POLICY", "always"),
        help="comma-separated triggers: always, drift, accuracy (env RETRAIN_POLICY)",
    )
    p.add_argument(
        "--max-psi",
        type=float,
        default=_env_float("RETRAIN_MAX_PSI", 0.2),
        help="drift trigger: max feature PSI above this retrains (default 0.2)",
    )
    p.add_argument(
        "--max-accuracy-drop",
        type=float,
        default=_env_float("RETRAIN_MAX_ACCURACY_DROP", 0.05),
        help="accuracy trigger: offline minus online above this retrains (0.05)",
    )
    _add_train_flags(p)
    _add_gate_flags(p)
    return parser


def _quiet_libraries() -> None:
    # Library chatter would bury the progress lines and the single error line.
    # MLflow configures its loggers at import (which happens later, lazily) from this variable.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    for name in ("mlflow", "urllib3", "botocore", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _progress(command: str) -> Callable[[str], None]:
    started = time.monotonic()

    def emit(line: str) -> None:
        print(f"[{command} +{time.monotonic() - started:.1f}s] {line}", flush=True)

    return emit


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code (0 ok, 1 failed, 3 rejected by the gate)."""
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    handlers: dict[str, Callable[[argparse.Namespace, Callable[[str], None]], int]] = {
        "train": commands.train,
        "promote": commands.promote,
        "rollback": commands.rollback,
        "status": commands.status,
        "retrain": commands.retrain,
    }
    try:
        return handlers[args.command](args, _progress(args.command))
    except TrainingError as exc:
        return _fail(str(exc))
    except ValueError as exc:  # option validation in GatePolicy / RetrainPolicy
        return _fail(f"invalid option: {exc}")
    except KeyboardInterrupt:
        return _fail("interrupted")
    except Exception as exc:  # the last line of defence: one line, never a traceback
        return _fail(commands.describe_failure(exc))


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return commands.EXIT_FAILED
