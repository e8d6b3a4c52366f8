"""POST /feedback: ground-truth labels for earlier prediction ids, stored in the inference log.

A label may arrive at any replica, not only the one that made the prediction, so nothing is
scored here: `retrain` joins labels with predictions across replicas in the log and pushes the
one online accuracy (docs/training.md).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from mlops_contract import serving as routes

from serving.api.deps import StateDep, read_json
from serving.api.responses import json_response
from serving.validation import InputError, check_size, json_type

router = APIRouter()


@router.post(routes.FEEDBACK_PATH)
async def feedback(request: Request, state: StateDep) -> Response:
    """Take ``{"feedback": [{"id": "...", "label": 1}, ...]}``; answer how many were received."""
    payload = await read_json(request, state.settings.max_body_bytes)
    items = payload.get("feedback") if type(payload) is dict else None
    if type(items) is not list:
        raise InputError(400, 'body: expected {"feedback": [{"id": ..., "label": ...}]}', "body")
    check_size(len(items), "feedback", state.settings.max_batch_rows)
    labels = []
    for index, item in enumerate(items):
        where = f"feedback[{index}]"
        if type(item) is not dict or set(item) != {"id", "label"}:
            raise InputError(422, f"{where}: expected an object with 'id' and 'label'", where)
        if type(item["id"]) is not str:
            raise InputError(422, f"{where}.id: expected string, got {json_type(item['id'])}",
                             f"{where}.id")  # fmt: skip
        if type(item["label"]) not in (int, str, bool):
            raise InputError(422, f"{where}.label: expected a class label, got "
                             f"{json_type(item['label'])}", f"{where}.label")  # fmt: skip
        labels.append((item["id"], item["label"]))
    state.inference_log.record_labels(labels)  # every label, also for ids another pod answered
    state.metrics.feedback.inc(len(labels))
    return json_response({"received": len(labels), "logged": state.inference_log.enabled})
