"""Cheap reachability checks, run before the slow imports and before any write."""

from __future__ import annotations

import requests

from training.errors import TrainingError


def check_mlflow(uri: str, timeout: float) -> str:
    """Fail with one clear line unless the MLflow server at uri answers /health; return uri."""
    if not uri.startswith(("http://", "https://")):
        return uri  # a local file/sqlite store (development): nothing to reach
    try:
        resp = requests.get(f"{uri.rstrip('/')}/health", timeout=timeout)
    except requests.ConnectionError as exc:
        raise TrainingError(f"MLflow at {uri}: connection refused or unreachable") from exc
    except requests.Timeout as exc:
        raise TrainingError(f"MLflow at {uri}: no answer within {timeout:g} s") from exc
    if resp.status_code != 200:
        raise TrainingError(f"MLflow at {uri}: /health answered HTTP {resp.status_code}")
    return uri
