"""POST /predict (TF-serving ``instances``) and POST /invocations (MLflow scoring protocol)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from mlops_contract import serving as routes

from serving.api.deps import SnapshotDep, StateDep, read_json
from serving.api.responses import json_response
from serving.model_store import ModelSnapshot
from serving.state import ServingState
from serving.validation import (
    Batch,
    InputError,
    columns_to_batch,
    json_type,
    matrix_to_batch,
    records_to_batch,
)

router = APIRouter()

MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "inputs", "instances")


@router.post(routes.PREDICT_PATH)
async def predict(request: Request, state: StateDep, snapshot: SnapshotDep) -> Response:
    """Predict ``{"instances": [{feature: value}, ...]}``; returns ids for /feedback."""
    payload = await read_json(request, state.settings.max_body_bytes)
    if type(payload) is not dict or "instances" not in payload:
        raise InputError(400, 'body: expected {"instances": [{feature: value, ...}, ...]}', "body")
    if len(payload) != 1:
        extra = sorted(k for k in payload if k != "instances")
        raise InputError(422, f"body: unknown key {extra[0]!r}", extra[0])
    batch = records_to_batch(
        payload["instances"], snapshot.schema, "instances", state.settings.max_batch_rows
    )
    # Ids travel with the rows, so the inference log records the ids the client gets.
    ids = [uuid.uuid4().hex for _ in range(batch.n_rows)]
    batch = Batch(batch.columns, batch.n_rows, ids)
    predictions = await predict_rows(state, snapshot, batch, "instances")
    body = {"predictions": predictions, "ids": ids, "model_version": snapshot.version}
    return json_response(body, version=snapshot.version)


@router.post(routes.INVOCATIONS_PATH)
async def invocations(request: Request, state: StateDep, snapshot: SnapshotDep) -> Response:
    """MLflow scoring-server compatible: answers ``{"predictions": [...]}`` like it does."""
    content_type = request.headers.get("content-type", "application/json")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise InputError(
            415, f"Content-Type: only application/json is supported, got {content_type!r}",
            "Content-Type",
        )  # fmt: skip
    payload = await read_json(request, state.settings.max_body_bytes)
    batch = mlflow_payload_to_batch(payload, snapshot, state.settings.max_batch_rows)
    predictions = await predict_rows(state, snapshot, batch, "body")
    return json_response({"predictions": predictions}, version=snapshot.version)


async def predict_rows(
    state: ServingState, snapshot: ModelSnapshot, batch: Batch, field: str
) -> list[Any]:
    """Predict through the micro-batcher; a row the model refuses is the client's 422.

    Only the errors scikit-learn raises for unacceptable input (e.g. a category the encoder was
    told to reject) become 422s; anything else is a server fault and stays a 5xx, so it counts
    against the error-ratio SLO instead of hiding among client errors.
    """
    try:
        return await state.batcher.predict(snapshot, batch)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise InputError(
            422, f"{field}: the model could not score these rows: {exc}", field
        ) from exc


def mlflow_payload_to_batch(payload: Any, snapshot: ModelSnapshot, max_rows: int) -> Batch:
    """Validate one of MLflow's JSON payload formats against the snapshot's signature."""
    if type(payload) is not dict:
        raise InputError(400, f"body: expected a JSON object, got {json_type(payload)}", "body")
    formats = [key for key in MLFLOW_FORMATS if key in payload]
    if len(formats) != 1:
        raise InputError(
            400, f"body: expected exactly one of {list(MLFLOW_FORMATS)}, got {sorted(payload)}",
            "body",
        )  # fmt: skip
    key, data, schema = formats[0], payload[formats[0]], snapshot.schema
    if key in ("dataframe_records", "instances"):
        return records_to_batch(data, schema, key, max_rows)
    if key == "dataframe_split":
        if type(data) is not dict or "data" not in data:
            raise InputError(422, f"{key}: expected an object with 'data' (and 'columns')", key)
        names = data.get("columns", [c.name for c in schema.columns])
        if type(names) is not list or not all(type(n) is str for n in names):
            raise InputError(422, f"{key}.columns: expected an array of names", f"{key}.columns")
        return matrix_to_batch(data["data"], names, schema, f"{key}.data", max_rows)
    # "inputs": columns {feature: [values]}, records [{...}], or positional rows [[...]].
    if type(data) is dict:
        return columns_to_batch(data, schema, key, max_rows)
    if type(data) is list and data and type(data[0]) is list:
        return matrix_to_batch(data, [c.name for c in schema.columns], schema, key, max_rows)
    return records_to_batch(data, schema, key, max_rows)
