"""The inference log: every prediction and every label, batched to the object store as Parquet.

The request path only appends a reference to rows it already holds (one chunk per predict call
or /feedback request) under a lock: O(1), no encoding, no I/O. One background task flushes on a
timer, early when INFERENCE_LOG_FLUSH_ROWS are waiting, and once more at shutdown; the Parquet
encoding and the PUT run in a thread. The layout (keys, columns) is the contract's
(`mlops_contract.inference_log`, docs/inference-log.md).

Failure behaviour: the buffer holds at most INFERENCE_LOG_MAX_BUFFERED_ROWS rows, counting rows
being flushed; rows arriving when it is full are dropped and counted (the buffer keeps the oldest
rows, so a retried batch is never overtaken by newer ones). A flush the store refuses is counted
and its rows go back to the front of the buffer for the next flush. Nothing here ever blocks or
fails a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from mlops_contract import inference_log as layout

from serving.metrics import ServingMetrics
from serving.settings import Settings
from serving.validation import Batch, InputSchema

logger = logging.getLogger(__name__)

# Bounded: a flush is one PUT per kind and hour; a slow or dead store must fail it within
# seconds so the shutdown flush fits a pod's termination grace period.
S3_CONNECT_TIMEOUT_SECONDS = 2.0
S3_READ_TIMEOUT_SECONDS = 5.0
S3_MAX_ATTEMPTS = 2

_ARROW_TYPES = {"number": pa.float64(), "integer": pa.int64(), "string": pa.string(),
                "boolean": pa.bool_()}  # fmt: skip
_TS = pa.timestamp("ms", tz="UTC")
_HOUR_MS = 3_600_000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class PredictionRows:
    """One predict call's rows, kept as the columns the request path already built."""

    ts_ms: int  # unix milliseconds, when predicted
    model_name: str
    model_version: str
    schema: InputSchema
    ids: Sequence[str | None]  # None: /invocations hands out no id; one is made at flush
    columns: dict[str, list[Any]]
    predictions: list[Any]
    proba: list[float] | None

    kind = layout.PREDICTIONS

    @property
    def n_rows(self) -> int:
        """Rows in this chunk."""
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class LabelRows:
    """One /feedback request's labels (for any id, seen by this replica or not)."""

    ts_ms: int  # unix milliseconds, when received
    ids: list[str]
    labels: list[object]

    kind = layout.LABELS

    @property
    def n_rows(self) -> int:
        """Rows in this chunk."""
        return len(self.ids)


Chunk = PredictionRows | LabelRows


def encode_predictions(chunks: list[PredictionRows]) -> pa.Table:
    """Prediction chunks as one table: fixed columns, then one `f_<name>` column per feature."""
    features: dict[str, str] = {}
    for chunk in chunks:  # the union over model versions; a missing feature is null
        for column in chunk.schema.columns:
            features.setdefault(column.name, column.kind)
    ids: list[str] = []
    ts: list[int] = []
    names: list[str] = []
    versions: list[str] = []
    predicted: list[str] = []
    proba: list[float | None] = []
    values: dict[str, list[Any]] = {name: [] for name in features}
    for chunk in chunks:
        n = chunk.n_rows
        ids.extend(i if i is not None else uuid.uuid4().hex for i in chunk.ids)
        ts.extend([chunk.ts_ms] * n)
        names.extend([chunk.model_name] * n)
        versions.extend([chunk.model_version] * n)
        predicted.extend(str(p) for p in chunk.predictions)
        proba.extend(chunk.proba if chunk.proba is not None else [None] * n)
        for name, collected in values.items():
            collected.extend(chunk.columns.get(name) or [None] * n)
    arrays = {
        layout.PREDICTION_ID: pa.array(ids, pa.string()),
        layout.TS: pa.array(ts, _TS),
        layout.MODEL_NAME: pa.array(names, pa.string()),
        layout.MODEL_VERSION: pa.array(versions, pa.string()),
        layout.PREDICTION: pa.array(predicted, pa.string()),
        layout.PROBA: pa.array(proba, pa.float64()),
    }
    for name, kind in features.items():
        arrays[layout.feature_column(name)] = pa.array(values[name], _ARROW_TYPES[kind])
    return pa.table(arrays)


def encode_labels(chunks: list[LabelRows]) -> pa.Table:
    """Label chunks as one table."""
    ids: list[str] = []
    ts: list[int] = []
    labels: list[str] = []
    for chunk in chunks:
        ids.extend(chunk.ids)
        ts.extend([chunk.ts_ms] * chunk.n_rows)
        labels.extend(str(label) for label in chunk.labels)
    return pa.table({
        layout.PREDICTION_ID: pa.array(ids, pa.string()),
        layout.TS: pa.array(ts, _TS),
        layout.LABEL: pa.array(labels, pa.string()),
    })  # fmt: skip


def to_parquet(table: pa.Table) -> bytes:
    """Parquet bytes (zstd: ids and features compress several-fold)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def s3_client(settings: Settings) -> Any:
    """The log's own S3 client: explicit endpoint, keys and bounded timeouts and retries.

    A private boto3 Session: nothing process-wide (boto3's default session, os.environ) changes.
    """
    import boto3  # imported when the log is on: a server without it never pays the import
    from botocore.config import Config

    secret = settings.aws_secret_access_key
    key_id = settings.aws_access_key_id
    config = Config(
        connect_timeout=S3_CONNECT_TIMEOUT_SECONDS,
        read_timeout=S3_READ_TIMEOUT_SECONDS,
        retries={"max_attempts": S3_MAX_ATTEMPTS, "mode": "standard"},
        # Self-hosted stores (SeaweedFS, MinIO) address buckets by path, not by DNS name.
        s3={"addressing_style": "path" if settings.inference_log_endpoint_url else "auto"},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.inference_log_endpoint_url,
        aws_access_key_id=key_id.get_secret_value() if key_id else None,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        region_name=settings.aws_default_region,
        config=config,
    )


class InferenceLog:
    """Buffers prediction and label rows and flushes them to the store from one task."""

    def __init__(self, settings: Settings, metrics: ServingMetrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self.enabled = settings.inference_log_bucket is not None
        self._bucket = settings.inference_log_bucket
        self._replica = settings.inference_log_replica
        self._cap = settings.inference_log_max_buffered_rows
        self._flush_rows = settings.inference_log_flush_rows
        self._lock = threading.Lock()
        self._chunks: deque[Chunk] = deque()
        # Rows buffered plus rows being flushed: the memory bound covers both.
        self._rows = 0
        self._early_flush_requested = False
        self._seq = itertools.count()
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        metrics.inference_log_enabled.set(int(self.enabled))
        metrics.inference_log_buffered.set_function(lambda: self._rows)

    # --- the request path -------------------------------------------------------------------

    def record_predictions(
        self,
        model_name: str,
        model_version: str,
        schema: InputSchema,
        batch: Batch,
        predictions: list[Any],
        proba: list[float] | None,
    ) -> None:
        """Keep one predict call's rows (called from the predict thread; O(1))."""
        if not self.enabled:
            return
        ids = batch.ids if batch.ids is not None else [None] * batch.n_rows
        rows = PredictionRows(
            _now_ms(), model_name, model_version, schema, ids, batch.columns, predictions, proba
        )
        self._append(rows)

    def record_labels(self, labels: Iterable[tuple[str, object]]) -> None:
        """Keep one /feedback request's labels, whether or not this replica made the prediction."""
        if not self.enabled:
            return
        ids, values = [], []
        for prediction_id, label in labels:
            ids.append(prediction_id)
            values.append(label)
        self._append(LabelRows(_now_ms(), ids, values))

    def _append(self, chunk: Chunk) -> None:
        full = early = False
        with self._lock:
            if self._rows + chunk.n_rows > self._cap:
                full = True
            else:
                self._chunks.append(chunk)
                self._rows += chunk.n_rows
                early = self._rows >= self._flush_rows and not self._early_flush_requested
                self._early_flush_requested |= early
        if full:
            self._metrics.inference_log_dropped.labels(chunk.kind).inc(chunk.n_rows)
        elif early and self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    @property
    def buffered_rows(self) -> int:
        """Rows held in memory (buffered or being flushed)."""
        return self._rows

    # --- the flusher ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the flush task on the running loop (no-op when the log is off)."""
        if not self.enabled:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = self._loop.create_task(self._run(), name="inference-log")

    async def stop(self) -> None:
        """Let a running flush finish, then flush the tail; rows the store refuses are dropped."""
        if self._task is not None and self._wake is not None:
            self._stopping = True
            self._wake.set()
            await asyncio.gather(self._task, return_exceptions=True)
        if not self.enabled:
            return
        await self.flush()
        with self._lock:
            lost, self._chunks, self._rows = list(self._chunks), deque(), 0
        for chunk in lost:
            self._metrics.inference_log_dropped.labels(chunk.kind).inc(chunk.n_rows)
        if lost:
            logger.error("inference log: %d rows lost at shutdown", sum(c.n_rows for c in lost))

    async def _run(self) -> None:
        assert self._wake is not None  # noqa: S101  # set by start()
        interval = self._settings.inference_log_flush_seconds
        # At startup, not during the first flush under load: boto3's import and client setup
        # and pyarrow's lazy imports take about a second of CPU.
        await asyncio.to_thread(self._warm_up)
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self.flush()
            except Exception:  # a bug here must not end logging for the pod's lifetime
                logger.exception("inference log flush crashed")

    async def flush(self) -> bool:
        """Write everything buffered now; True when the store took all of it."""
        with self._lock:
            chunks = list(self._chunks)
            self._chunks.clear()
            self._early_flush_requested = False
        if not chunks:
            return True
        try:
            failed = await asyncio.to_thread(self._write, chunks)
        except Exception:  # a bug in _write: keep the rows (and the memory bound's count)
            logger.exception("inference log: flush failed")
            failed = chunks
        with self._lock:
            self._rows -= sum(c.n_rows for c in chunks) - sum(c.n_rows for c in failed)
            self._chunks.extendleft(reversed(failed))  # retried first, in their order
        return not failed

    def _warm_up(self) -> None:
        try:
            self._client = s3_client(self._settings)
            to_parquet(encode_labels([LabelRows(_now_ms(), ["warm-up"], [0])]))
        except Exception:  # e.g. a region boto3 refuses: _write retries and counts it
            logger.exception("inference log: S3 client setup failed")

    def _write(self, chunks: list[Chunk]) -> list[Chunk]:
        """Encode and PUT one object per (kind, hour); return the chunks the store refused."""
        groups: dict[tuple[str, int], list[Chunk]] = {}
        for chunk in chunks:
            groups.setdefault((chunk.kind, chunk.ts_ms // _HOUR_MS), []).append(chunk)
        failed: list[Chunk] = []
        for (kind, hour), group in groups.items():
            if failed:  # the store is failing: keep the rest for the next flush, not N timeouts
                failed.extend(group)
                continue
            rows = sum(c.n_rows for c in group)
            try:
                body = to_parquet(self._encode(kind, group))
            except Exception:  # a row pyarrow cannot take would fail every retry: drop it
                logger.exception("inference log: cannot encode %d %s rows; dropped", rows, kind)
                self._metrics.inference_log_dropped.labels(kind).inc(rows)
                continue
            partition_ts = datetime.fromtimestamp(hour * _HOUR_MS / 1000, UTC)
            key = layout.object_key(kind, partition_ts, self._replica, _now_ms(), next(self._seq))
            try:
                if self._client is None:
                    self._client = s3_client(self._settings)
                self._client.put_object(Bucket=self._bucket, Key=key, Body=body)
            except Exception as exc:  # botocore raises many types; all mean "not stored"
                logger.warning("inference log: PUT s3://%s/%s failed: %s", self._bucket, key, exc)
                self._metrics.inference_log_flush_failures.inc()
                failed.extend(group)
                continue
            self._metrics.inference_log_rows.labels(kind).inc(rows)
            self._metrics.inference_log_last_flush.set(time.time())
        return failed

    @staticmethod
    def _encode(kind: str, group: list[Chunk]) -> pa.Table:
        if kind == layout.PREDICTIONS:
            return encode_predictions([c for c in group if isinstance(c, PredictionRows)])
        return encode_labels([c for c in group if isinstance(c, LabelRows)])
