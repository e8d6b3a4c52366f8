"""Request dependencies as ``Annotated`` aliases, plus the bounded body reader."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from serving.body import parse_json
from serving.model_store import ModelSnapshot
from serving.state import ServingState
from serving.validation import InputError


class NotReadyError(Exception):
    """No model is loaded yet (503, like /readyz)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def get_state(request: Request) -> ServingState:
    """The app's ServingState."""
    state: ServingState = request.app.state.serving
    return state


StateDep = Annotated[ServingState, Depends(get_state)]


def get_snapshot(state: StateDep) -> ModelSnapshot:
    """The snapshot this whole request uses (read once: a swap cannot mix versions)."""
    snapshot = state.store.current
    if snapshot is None:
        detail = state.store.registry.last_error or "first load in progress"
        raise NotReadyError(f"no model loaded yet: {detail}")
    return snapshot


SnapshotDep = Annotated[ModelSnapshot, Depends(get_snapshot)]


async def read_json(request: Request, limit: int) -> Any:
    """Read at most ``limit`` bytes (declared and actual) and decode them as JSON."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InputError(400, f"Content-Length: not a number ({declared!r})", "Content-Length")
        if int(declared) > limit:
            raise InputError(413, f"body: {declared} bytes exceed MAX_BODY_BYTES={limit}", "body")
    chunks: list[bytes] = []
    size = 0
    # The actual size is checked too: chunked bodies declare no length, and a client may lie.
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InputError(413, f"body: more than MAX_BODY_BYTES={limit} bytes", "body")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body:
        raise InputError(400, "body: empty; send a JSON object", "body")
    return parse_json(body)
