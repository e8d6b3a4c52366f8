"""What docs/contracts.md must say about the contract package, and what it may not invent.

Both checks return problems (empty: the page and the package agree), so a test can run them on
the committed page and on deliberately broken copies.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import mlops_contract
from mlops_contract import env, metrics, registry, serving, signals, triggers

CONTRACTS_DOC = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"
_SPAN = re.compile(r"`([^`\n]+)`")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
_METRIC_NAME = re.compile(r"^(?:serving|retrain)_[a-z0-9_]+$")


def _constants(module: ModuleType) -> dict[str, object]:
    return {k: v for k, v in vars(module).items() if k.isupper() and not k.startswith("_")}


def env_names() -> set[str]:
    """Every environment variable name the contract defines."""
    return {v for v in _constants(env).values() if isinstance(v, str)}


def metric_names() -> set[str]:
    """Every serving_* / retrain_* metric name the contract defines (bare and `_total`)."""
    return {v for v in _constants(metrics).values() if isinstance(v, str) and _METRIC_NAME.match(v)}


def exposed_metric_names() -> set[str]:
    """The series names a reader sees: counters by their `_total` name only."""
    names = metric_names()
    return {n for n in names if f"{n}_total" not in names}


def _spans(text: str) -> set[str]:
    spans = set(_SPAN.findall(text))
    return spans | {word for span in spans for word in span.split()}


def _row(text: str, first_cell: str) -> str:
    for line in text.splitlines():
        if line.startswith(f"| `{first_cell}` |"):
            return line
    return ""


def missing_from_doc(text: str) -> list[str]:
    """Contract facts the page does not mention (each as a readable problem)."""
    spans = _spans(text)
    wanted: dict[str, set[str]] = {
        "env var": env_names(),
        "metric": exposed_metric_names(),
        "job name": {
            v for k, v in _constants(metrics).items() if k.startswith("JOB_") and isinstance(v, str)
        },
        "label value": set(metrics.RETRAIN_OUTCOMES),
        "registry fact": {
            registry.DEFAULT_MODEL_NAME,
            registry.CHAMPION_ALIAS,
            registry.PREVIOUS_ALIAS,
            registry.DRIFT_REFERENCE_ARTIFACT,
            registry.MODEL_DIGEST_TAG,
            *registry.OFFLINE_METRICS,
        },
        "route": {
            v for k, v in _constants(serving).items() if k.endswith("_PATH") and isinstance(v, str)
        },
        "policy": {*triggers.POLICIES, ",".join(triggers.Triggers().policy)},
        "module": {
            f"mlops_contract.{p.stem}"
            for p in Path(mlops_contract.__file__).parent.glob("*.py")
            if not p.stem.startswith("_")
        },
    }
    problems = [
        f"{kind} `{name}` is not on the page"
        for kind, names in wanted.items()
        for name in sorted(names)
        if name not in spans
    ]
    defaults = {
        "max_psi": triggers.DEFAULT_MAX_PSI,
        "max_drop": triggers.DEFAULT_MAX_ACCURACY_DROP,
        "min_labelled": triggers.DEFAULT_MIN_LABELLED,
    }
    problems += [
        f"`{field}` is not given with its default `{value}`"
        for field, value in defaults.items()
        if not re.search(rf"`{field}`[^`]*\(default `{re.escape(str(value))}`", text)
    ]
    env_defaults = {
        env.RETRAIN_MAX_PSI: triggers.DEFAULT_MAX_PSI,
        env.RETRAIN_MAX_ACCURACY_DROP: triggers.DEFAULT_MAX_ACCURACY_DROP,
        env.RETRAIN_MIN_LABELLED: triggers.DEFAULT_MIN_LABELLED,
        env.MODEL_NAME: registry.DEFAULT_MODEL_NAME,
        env.MODEL_ALIAS: registry.CHAMPION_ALIAS,
        env.RETRAIN_WINDOW_MINUTES: triggers.DEFAULT_RETRAIN_WINDOW_MINUTES,
        env.RETRAIN_MIN_ROWS: triggers.DEFAULT_RETRAIN_MIN_ROWS,
        env.RETRAIN_MAX_ROWS: triggers.DEFAULT_RETRAIN_MAX_ROWS,
    }
    problems += [
        f"the `{name}` row does not give the default `{value}`"
        for name, value in env_defaults.items()
        if f"(default `{value}`" not in _row(text, name)
    ]
    labels = [f"`{label}`" for label in signals.ACCURACY_LABELS]
    labels += [f'`{k}="{v}"`' for k, v in signals.ACCURACY_GROUPING_KEY.items()]
    problems += [
        f"the accuracy figures' label {label} is not given" for label in labels if label not in text
    ]
    if f"port {serving.PORT}" not in text or f"`{serving.PORT_NAME}`" not in text:
        problems.append(f"the serving port {serving.PORT} (`{serving.PORT_NAME}`) is not given")
    if f'"schema": {registry.DRIFT_REFERENCE_SCHEMA}' not in text:
        problems.append(f"drift reference schema {registry.DRIFT_REFERENCE_SCHEMA} is not given")
    return problems


def unknown_in_doc(text: str) -> list[str]:
    """Env var and metric names the page mentions that the contract does not define."""
    spans = set(_SPAN.findall(text))
    problems = [
        f"`{span}` looks like an env var but mlops_contract.env has no such name"
        for span in sorted(spans)
        if _ENV_NAME.match(span) and span not in env_names()
    ]
    problems += [
        f"`{span}` looks like a metric but mlops_contract.metrics has no such name"
        for span in sorted(spans)
        if _METRIC_NAME.match(span) and span not in metric_names()
    ]
    return problems
