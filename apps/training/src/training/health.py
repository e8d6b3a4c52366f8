"""Cheap reachability checks, run before the slow imports and before any write."""

from __future__ import annotations

import os

import requests

from training.errors import TrainingError


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI, required."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if not uri:
        raise TrainingError("MLFLOW_TRACKING_URI is not set; point it at the MLflow server")
    return uri


def check_mlflow() -> str:
    """Fail with one clear line unless the MLflow server answers /health; return its URI."""
    uri = tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return uri  # a local file/sqlite store (development): nothing to reach
    timeout = float(os.environ.get("TRAINING_MLFLOW_CONNECT_TIMEOUT", "5"))
    try:
        resp = requests.get(f"{uri.rstrip('/')}/health", timeout=timeout)
    except requests.ConnectionError as exc:
        raise TrainingError(f"MLflow at {uri}: connection refused or unreachable") from exc
    except requests.Timeout as exc:
        raise TrainingError(f"MLflow at {uri}: no answer within {timeout:g} s") from exc
    if resp.status_code != 200:
        raise TrainingError(f"MLflow at {uri}: /health answered HTTP {resp.status_code}")
    return uri
