"""Liveness, readiness and the Prometheus endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Response
from mlops_contract import serving as routes
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving.api.deps import StateDep
from serving.api.responses import json_response

router = APIRouter()


@router.get(routes.HEALTH_PATH)
async def healthz() -> Response:
    """The process is alive (no dependency checks: a restart would not fix MLflow)."""
    return json_response({"status": "ok"})


@router.get(routes.READY_PATH)
async def readyz(state: StateDep) -> Response:
    """503 until a first model is loaded; then 200, with a detail when MLflow is unreachable."""
    snapshot, registry = state.store.current, state.store.registry
    if snapshot is None:
        detail = registry.last_error or "loading the first model"
        return json_response({"status": "not ready", "detail": detail}, 503)
    if not registry.up:
        detail = f"{registry.last_error}; serving last good version {snapshot.version}"
    elif registry.last_error:
        detail = f"{registry.last_error}; serving version {snapshot.version}"
    else:
        detail = f"serving version {snapshot.version}"
    return json_response({
        "status": "ready",
        "model_name": snapshot.name,
        "model_version": snapshot.version,
        "model_alias": snapshot.alias,
        "registry_up": registry.up,
        "detail": detail,
    })  # fmt: skip


@router.get(routes.METRICS_PATH)
def metrics(state: StateDep) -> Response:
    """Prometheus text format; drift and window gauges are computed at scrape time."""
    m = state.metrics
    snapshot = state.store.current
    if snapshot is not None and snapshot.drift_reference is not None:
        for feature, value in state.drift.compute(snapshot.drift_reference).items():
            m.feature_drift_psi.labels(feature).set(value)
    m.drift_window_rows.set(state.drift.rows)
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
