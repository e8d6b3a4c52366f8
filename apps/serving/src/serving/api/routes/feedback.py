"""POST /feedback: ground-truth labels for earlier prediction ids."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from mlops_contract import serving as routes

from serving.api.deps import StateDep, read_json
from serving.api.responses import json_response
from serving.validation import InputError, check_size, json_type

router = APIRouter()


@router.post(routes.FEEDBACK_PATH)
async def feedback(request: Request, state: StateDep) -> Response:
    """Score ``{"feedback": [{"id": "...", "label": 1}, ...]}`` against remembered predictions."""
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
    result = state.feedback.score(labels)
    m = state.metrics.feedback
    m.labels("correct").inc(result.correct)
    m.labels("incorrect").inc(result.incorrect)
    m.labels("unknown_id").inc(result.unknown_id)
    accuracy = state.feedback.accuracy()
    if accuracy is not None:
        state.metrics.online_accuracy.set(accuracy)
    return json_response({
        "correct": result.correct,
        "incorrect": result.incorrect,
        "unknown_id": result.unknown_id,
        "online_accuracy": accuracy,
    })  # fmt: skip
