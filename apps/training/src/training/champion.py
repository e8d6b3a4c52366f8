"""The champion's version and offline accuracy, read over MLflow's REST API.

`retrain` needs these two figures on every run, also on the many runs that decide to skip;
importing the mlflow package costs seconds, so this asks the server directly (two GETs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from mlops_contract.registry import OFFLINE_ACCURACY_METRIC

from training.errors import TrainingError

_ALIAS_PATH = "/api/2.0/mlflow/registered-models/alias"
_RUN_PATH = "/api/2.0/mlflow/runs/get"


@dataclass(frozen=True, kw_only=True)
class Champion:
    """The version the alias names and its run's offline accuracy (None if never logged)."""

    version: str
    offline_accuracy: float | None


def _get(uri: str, path: str, params: dict[str, str], timeout: float) -> dict[str, Any] | None:
    """One GET; None when MLflow says the resource does not exist."""
    url = f"{uri.rstrip('/')}{path}"
    try:
        resp = requests.get(url, params=params, timeout=timeout)
    except requests.ConnectionError as exc:
        raise TrainingError(f"MLflow at {uri}: connection refused or unreachable") from exc
    except requests.Timeout as exc:
        raise TrainingError(f"MLflow at {uri}: no answer within {timeout:g} s") from exc
    if resp.status_code == 404:  # no such model or alias
        return None
    if resp.status_code != 200:
        raise TrainingError(f"MLflow at {uri}: {path} answered HTTP {resp.status_code}")
    try:
        body: dict[str, Any] = resp.json()
    except ValueError as exc:
        raise TrainingError(f"MLflow at {uri}: {path} answered something other than JSON") from exc
    return body


def lookup(uri: str, model_name: str, alias: str, timeout: float) -> Champion | None:
    """The champion of `model_name` (the version `alias` names), or None before the first one."""
    found = _get(uri, _ALIAS_PATH, {"name": model_name, "alias": alias}, timeout)
    if found is None or "model_version" not in found:
        return None
    version = found["model_version"]
    run_id = version.get("run_id")
    accuracy = None
    if run_id:
        run = _get(uri, _RUN_PATH, {"run_id": run_id}, timeout) or {}
        metrics = run.get("run", {}).get("data", {}).get("metrics", [])
        values = [m["value"] for m in metrics if m.get("key") == OFFLINE_ACCURACY_METRIC]
        accuracy = float(values[0]) if values else None
    return Champion(version=str(version["version"]), offline_accuracy=accuracy)
