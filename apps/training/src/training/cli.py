"""`python -m training <command>`: argparse wiring, progress lines, one-line errors."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence

from mlops_contract import env

from training import commands, gate
from training.errors import TrainingError
from training.settings import Settings, load_settings

# The newest quarter of the recent labelled rows judges candidate and champion (750 of 3000).
DEFAULT_HOLDOUT_FRACTION = 0.25


def _add_gate_flags(p: argparse.ArgumentParser, s: Settings) -> None:
    g = p.add_argument_group("gate (defaults from GATE_* environment variables)")
    g.add_argument(
        "--metric",
        default=s.gate_metric,
        choices=list(gate.METRICS),
        help=f"metric the gate compares (env {env.GATE_METRIC}, default {gate.DEFAULT_METRIC})",
    )
    g.add_argument(
        "--floor",
        type=float,
        default=s.gate_floor,
        help=f"absolute minimum for the metric (env {env.GATE_FLOOR}, "
        f"default {gate.DEFAULT_FLOOR:g})",
    )
    g.add_argument(
        "--max-regression",
        type=float,
        default=s.gate_max_regression,
        help=f"largest tolerated drop vs the champion (env {env.GATE_MAX_REGRESSION}, "
        f"default {gate.DEFAULT_MAX_REGRESSION:g})",
    )
    g.add_argument(
        "--max-latency-ms-per-row",
        type=float,
        default=s.gate_max_latency_ms_per_row,
        help=f"per-row batch predict budget in ms (env {env.GATE_MAX_LATENCY_MS_PER_ROW}, "
        f"default {gate.DEFAULT_MAX_LATENCY_MS_PER_ROW:g})",
    )
    h = p.add_argument_group("holdout (scored by candidate and champion alike)")
    h.add_argument(
        "--holdout",
        default=s.holdout_data,
        help=f"CSV/Parquet path or s3:// URI (env {env.TRAINING_HOLDOUT_DATA}); "
        "default a fresh synthetic sample",
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


def _add_train_flags(p: argparse.ArgumentParser, s: Settings) -> None:
    d = p.add_argument_group("data")
    d.add_argument(
        "--data",
        default=s.training_data,
        help=f"CSV/Parquet path or s3://bucket/key (env {env.TRAINING_DATA}); "
        "default the synthetic generator",
    )
    d.add_argument("--rows", type=int, default=5000, help="synthetic rows (default 5000)")
    d.add_argument("--seed", type=int, default=0, help="synthetic data and split seed")
    d.add_argument(
        "--drift",
        type=float,
        default=s.drift,
        help=f"synthetic drift knob in [0, 1] (env {env.TRAINING_DRIFT}, default 0)",
    )
    m = p.add_argument_group("model")
    m.add_argument("--n-estimators", type=int, default=100, help="trees in the forest")
    m.add_argument("--max-depth", type=int, default=12, help="tree depth limit")
    m.add_argument("--min-samples-leaf", type=int, default=2, help="minimum rows per leaf")
    m.add_argument("--test-size", type=float, default=0.25, help="test split fraction")
    m.add_argument(
        "--experiment",
        default=None,
        help=f"MLflow experiment (env {env.MLFLOW_EXPERIMENT_NAME}, default {env.MODEL_NAME})",
    )


def _default(field: str) -> object:
    """A setting's built-in default (what applies when its variable is unset), for --help."""
    return Settings.model_fields[field].default


def build_parser(s: Settings) -> argparse.ArgumentParser:
    """The parser: one subcommand per job step, every one with --help; defaults from settings."""
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description=f"Train, register, gate, promote and roll back the {s.model_name} model. "
        f"MLflow and S3 come from {env.MLFLOW_TRACKING_URI}, {env.S3_ENDPOINT_URL} and AWS_*; "
        f"the model from {env.MODEL_NAME} (default {_default('model_name')}) and the alias "
        f"promote and rollback move from {env.MODEL_ALIAS} (default {_default('model_alias')}).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("train", help="train, log and register a new version (not promoted)")
    _add_train_flags(p, s)
    p = sub.add_parser(
        "promote", help=f"gate a version against @{s.model_alias}; move aliases on pass"
    )
    p.add_argument("--version", default=None, help="version to gate (default: the newest)")
    _add_gate_flags(p, s)
    sub.add_parser("rollback", help=f"point {s.model_alias} back at previous")
    p = sub.add_parser("status", help=f"{s.model_alias}, previous and latest versions")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser(
        "bootstrap",
        help=f"first deploy: train and promote a first model unless @{s.model_alias} exists",
    )
    _add_train_flags(p, s)
    _add_gate_flags(p, s)
    p = sub.add_parser("retrain", help="CronJob entrypoint: decide, train, gate, promote")
    _add_retrain_flags(p, s)
    _add_train_flags(p, s)
    _add_gate_flags(p, s)
    return parser


def _add_retrain_flags(p: argparse.ArgumentParser, s: Settings) -> None:
    r = p.add_argument_group("retrain triggers (mlops_contract.triggers; any one suffices)")
    r.add_argument(
        "--policy",
        default=s.retrain_policy,
        help=f"comma-separated triggers: always, drift, accuracy (env {env.RETRAIN_POLICY}, "
        f"default {_default('retrain_policy')})",
    )
    r.add_argument(
        "--max-psi",
        type=float,
        default=s.retrain_max_psi,
        help=f"drift: the largest feature PSI above this retrains (env {env.RETRAIN_MAX_PSI})",
    )
    r.add_argument(
        "--max-accuracy-drop",
        type=float,
        default=s.retrain_max_accuracy_drop,
        help="accuracy: online accuracy more than this fraction below offline retrains "
        f"(env {env.RETRAIN_MAX_ACCURACY_DROP})",
    )
    r.add_argument(
        "--min-labelled",
        type=int,
        default=s.retrain_min_labelled,
        help="accuracy: fewer labelled rows of the champion than this never retrain "
        f"(env {env.RETRAIN_MIN_LABELLED})",
    )
    g = p.add_argument_group(
        f"production data (serving's inference log in {env.INFERENCE_LOG_BUCKET}; unset: "
        "train on --data or synthetic data, as `train` does)"
    )
    sized = (
        ("--window-minutes", "retrain_window_minutes", 1, env.RETRAIN_WINDOW_MINUTES,
         "labelled log rows from the last N minutes give the online accuracy, the training set "
         "and the holdout"),
        ("--min-rows", "retrain_min_rows", 20, env.RETRAIN_MIN_ROWS,
         "fewer labelled rows in the window than this: no retrain"),
        ("--max-rows", "retrain_max_rows", 20, env.RETRAIN_MAX_ROWS,
         "train and judge on at most the N most recent labelled rows"),
    )  # fmt: skip
    for flag, field, low, variable, meaning in sized:
        g.add_argument(
            flag,
            type=_at_least(low),
            default=getattr(s, field),
            help=f"{meaning} (env {variable}, default {_default(field)})",
        )
    g.add_argument(
        "--holdout-fraction",
        type=float,
        default=DEFAULT_HOLDOUT_FRACTION,
        help="the newest fraction of those rows is the gate's holdout, never trained on "
        f"(default {DEFAULT_HOLDOUT_FRACTION:g})",
    )


def _at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= low, or a message naming the bound."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def _quiet_libraries() -> None:
    # Library chatter would bury the progress lines and the single error line. (MLflow resets
    # its own logger's level at import from MLFLOW_LOGGING_LEVEL: training.__main__ sets that.)
    for name in ("mlflow", "urllib3", "botocore", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _progress(command: str) -> Callable[[str], None]:
    started = time.monotonic()

    def emit(line: str) -> None:
        print(f"[{command} +{time.monotonic() - started:.1f}s] {line}", flush=True)

    return emit


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code (0 ok, 1 failed, 3 rejected by the gate).

    The environment is read once, here, into Settings; everything below gets it as an argument.
    """
    try:
        settings = load_settings()
    except TrainingError as exc:
        return _fail(str(exc))
    args = build_parser(settings).parse_args(argv)
    _quiet_libraries()
    handlers: dict[str, commands.Command] = {
        "train": commands.train,
        "promote": commands.promote,
        "rollback": commands.rollback,
        "status": commands.status,
        "retrain": commands.retrain,
        "bootstrap": commands.bootstrap,
    }
    try:
        return handlers[args.command](args, settings, _progress(args.command))
    except TrainingError as exc:
        return _fail(str(exc))
    except ValueError as exc:  # option validation in GatePolicy and the contract's triggers
        return _fail(f"invalid option: {exc}")
    except KeyboardInterrupt:
        return _fail("interrupted")
    except Exception as exc:  # the last line of defence: one line, never a traceback
        return _fail(commands.describe_failure(exc, settings))


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return commands.EXIT_FAILED
