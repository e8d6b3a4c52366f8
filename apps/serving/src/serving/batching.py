"""Adaptive micro-batching: concurrent requests share one model predict call.

A tree ensemble costs about the same for 1 row as for 32 (the cost is per call), so under
concurrent load the server gathers whatever arrived during the last call into one call, and
waits (at most ``max_wait``) for the rest of the clients it has recently seen in flight: without
that wait, 8 clients settle into alternating batches of 1 and 7 rows. A lone client (recent
concurrency 1) never waits. A batch never mixes model snapshots: a request is predicted by
the snapshot it was validated against, and the response reports that snapshot's version.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from serving.model_store import ModelSnapshot
from serving.validation import Batch

logger = logging.getLogger(__name__)

# predict_fn(snapshot, merged_batch) -> list of predictions (one per row); runs in the worker.
PredictFn = Callable[[ModelSnapshot, Batch], list[Any]]


@dataclass(slots=True)
class _Pending:
    snapshot: ModelSnapshot
    batch: Batch
    future: asyncio.Future[list[Any]] = field(repr=False)


def merge(batches: list[Batch]) -> Batch:
    """Concatenate validated batches column by column (same schema: same snapshot)."""
    if len(batches) == 1:
        return batches[0]
    columns: dict[str, list[Any]] = {name: [] for name in batches[0].columns}
    for batch in batches:
        for name, values in batch.columns.items():
            columns[name].extend(values)
    ids: list[str | None] | None = None
    if any(b.ids is not None for b in batches):
        ids = []
        for batch in batches:
            ids.extend(batch.ids if batch.ids is not None else [None] * batch.n_rows)
    return Batch(columns, sum(b.n_rows for b in batches), ids)


class MicroBatcher:
    """Queues requests and runs merged batches one at a time in a dedicated thread."""

    def __init__(self, predict_fn: PredictFn, max_rows: int, max_wait_ms: float) -> None:
        self._predict_fn = predict_fn
        self._max_rows = max_rows
        self._max_wait = max_wait_ms / 1000.0
        # One thread: sklearn predict holds the GIL for parts of the call, so a second
        # concurrent predict would only add contention; batching provides the parallelism.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")
        self._queue: deque[_Pending] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Requests submitted and not yet answered, and a slowly decaying peak of it: the number
        # of concurrent clients the next batch can expect to hear from.
        self._outstanding = 0
        self._concurrency = 1.0

    def start(self) -> None:
        """Start the consumer task on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        """Stop the consumer and the worker thread; waiting requests get an error."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        while self._queue:
            pending = self._queue.popleft()
            if not pending.future.done():
                pending.future.set_exception(RuntimeError("server is shutting down"))
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def predict(self, snapshot: ModelSnapshot, batch: Batch) -> list[Any]:
        """Predict ``batch`` with ``snapshot``'s model, possibly together with other requests."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(snapshot, batch, future))
        self._outstanding += 1
        self._concurrency = max(float(self._outstanding), self._concurrency * 0.95)
        self._wakeup.set()
        try:
            return await future
        finally:
            self._outstanding -= 1

    async def _run(self) -> None:
        while True:
            while not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            await self._gather()
            group = self._take_group()
            try:
                await self._execute(group)
            except Exception:  # a bug here must not kill the consumer and hang every request
                logger.exception("micro-batch failed")

    async def _gather(self) -> None:
        """Wait up to max_wait for the expected clients, unless a full batch is queued."""
        expected = round(self._concurrency)
        if self._max_wait <= 0 or expected <= 1:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_wait
        while len(self._queue) < expected and self._queued_rows() < self._max_rows:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._wakeup.clear()
            timer = loop.call_later(remaining, self._wakeup.set)
            try:
                await self._wakeup.wait()
            finally:
                timer.cancel()

    def _queued_rows(self) -> int:
        return sum(p.batch.n_rows for p in self._queue)

    def _take_group(self) -> list[_Pending]:
        """Pop the longest prefix with one snapshot and at most max_rows rows (at least one)."""
        first = self._queue.popleft()
        group, rows = [first], first.batch.n_rows
        while self._queue:
            nxt = self._queue[0]
            if nxt.snapshot is not first.snapshot or rows + nxt.batch.n_rows > self._max_rows:
                break
            group.append(self._queue.popleft())
            rows += nxt.batch.n_rows
        return group

    async def _execute(self, group: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        merged = merge([p.batch for p in group])
        try:
            predictions = await loop.run_in_executor(
                self._executor, self._predict_fn, group[0].snapshot, merged
            )
        except Exception as exc:
            if len(group) == 1:
                if not group[0].future.done():
                    group[0].future.set_exception(exc)
                return
            # One request's rows must not fail the others it was batched with: retry each
            # alone, so only the culprit sees the error.
            for pending in group:
                await self._execute([pending])
            return
        start = 0
        for pending in group:
            end = start + pending.batch.n_rows
            if not pending.future.done():  # a client may have disconnected
                pending.future.set_result(predictions[start:end])
            start = end
