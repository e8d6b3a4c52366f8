"""The micro-batcher on its own: merging, snapshot isolation and error isolation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from serving.batching import MicroBatcher
from serving.fastpath import Predictor
from serving.model_store import ModelSnapshot
from serving.validation import Batch, Column, InputSchema

pytestmark = pytest.mark.unit

SCHEMA = InputSchema((Column("x", "number", "float64", True),), frozenset({"x"}))


def _snapshot(version: str) -> ModelSnapshot:
    return ModelSnapshot(
        name="m", version=version, alias="champion", model=None, predictor=Predictor(None),
        schema=SCHEMA,
        drift_reference=None, offline_accuracy=None, run_id="",
    )  # fmt: skip


def _batch(*values: float) -> Batch:
    return Batch({"x": list(values)}, len(values))


class Recorder:
    """A predict function that records each call and fails on a negative input."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Any]]] = []

    def __call__(self, snapshot: ModelSnapshot, batch: Batch) -> list[Any]:
        self.calls.append((snapshot.version, list(batch.columns["x"])))
        if any(v < 0 for v in batch.columns["x"]):
            raise ValueError("negative input")
        return [f"{snapshot.version}:{v}" for v in batch.columns["x"]]


async def _run(batcher: MicroBatcher, jobs: list[tuple[ModelSnapshot, Batch]]) -> list[Any]:
    batcher.start()
    try:
        return await asyncio.gather(
            *(batcher.predict(s, b) for s, b in jobs), return_exceptions=True
        )
    finally:
        await batcher.stop()


def test_concurrent_requests_share_one_predict_call_and_get_their_own_rows() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_rows=100, max_wait_ms=50)
    v1 = _snapshot("1")
    results = asyncio.run(_run(batcher, [(v1, _batch(1.0)), (v1, _batch(2.0, 3.0)),
                                         (v1, _batch(4.0))]))  # fmt: skip
    assert results == [["1:1.0"], ["1:2.0", "1:3.0"], ["1:4.0"]]
    assert recorder.calls == [("1", [1.0, 2.0, 3.0, 4.0])]


def test_a_batch_never_mixes_model_snapshots() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_rows=100, max_wait_ms=50)
    v1, v2 = _snapshot("1"), _snapshot("2")
    results = asyncio.run(_run(batcher, [(v1, _batch(1.0)), (v2, _batch(2.0)),
                                         (v1, _batch(3.0))]))  # fmt: skip
    assert results == [["1:1.0"], ["2:2.0"], ["1:3.0"]]
    # Queue order is kept: the version-2 request splits the two version-1 requests.
    assert recorder.calls == [("1", [1.0]), ("2", [2.0]), ("1", [3.0])]


def test_max_rows_caps_a_merged_batch() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_rows=3, max_wait_ms=50)
    v1 = _snapshot("1")
    asyncio.run(_run(batcher, [(v1, _batch(1.0, 2.0)), (v1, _batch(3.0, 4.0)),
                               (v1, _batch(5.0))]))  # fmt: skip
    assert all(len(rows) <= 3 for _, rows in recorder.calls)
    assert sorted(v for _, rows in recorder.calls for v in rows) == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_a_failing_request_does_not_fail_the_requests_batched_with_it() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_rows=100, max_wait_ms=50)
    v1 = _snapshot("1")
    results = asyncio.run(_run(batcher, [(v1, _batch(1.0)), (v1, _batch(-1.0)),
                                         (v1, _batch(2.0))]))  # fmt: skip
    assert results[0] == ["1:1.0"]
    assert isinstance(results[1], ValueError)
    assert results[2] == ["1:2.0"]
    assert recorder.calls[0] == ("1", [1.0, -1.0, 2.0])  # tried together first
