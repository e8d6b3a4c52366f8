"""The inference log's layout: written by serving, read by training (online accuracy, retraining).

Every serving replica writes its predictions and every label it receives on /feedback to one
bucket, in batches, as Parquet objects under Hive-style hour partitions:

    <LAYOUT>/<kind>/date=YYYY-MM-DD/hour=HH/<replica>-<unix_ms>-<seq>.parquet

`kind` is `predictions` or `labels`; the partition is the hour (UTC) of the rows' `ts`; the
object name is unique per replica and flush, so replicas never overwrite each other. A reader
joins the two kinds on `prediction_id`: a label may have been sent to any replica.

This module is pure (no pyarrow, no boto3): it names things and builds keys; the writer and the
readers bring their own I/O.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

# The bucket serving writes to when the platform provisions one (INFERENCE_LOG_BUCKET).
DEFAULT_BUCKET: Final = "inference-log"
# Version of this layout and schema: a later incompatible change writes under "v2/".
LAYOUT: Final = "v1"

PREDICTIONS: Final = "predictions"
LABELS: Final = "labels"
KINDS: Final = (PREDICTIONS, LABELS)

# Columns shared by both kinds. `ts` is a UTC timestamp with millisecond precision: when the
# prediction was made, or when the label was received.
PREDICTION_ID: Final = "prediction_id"
TS: Final = "ts"
# Predictions.
MODEL_NAME: Final = "model_name"
MODEL_VERSION: Final = "model_version"
# The predicted class as text (str() of the model's class, as in serving_predictions{class}).
PREDICTION: Final = "prediction"
# Probability of the positive class (the second of a binary model's sorted classes); null for
# models without predict_proba or with more than two classes.
PROBA: Final = "proba"
# Each input feature is one column named FEATURE_PREFIX + <feature name>, typed by the model's
# signature (number: double, integer: int64, string: string, boolean: bool), null when absent.
# The prefix keeps a feature called e.g. "ts" from colliding with the columns above.
FEATURE_PREFIX: Final = "f_"
PREDICTION_COLUMNS: Final = (PREDICTION_ID, TS, MODEL_NAME, MODEL_VERSION, PREDICTION, PROBA)
# Labels: the class label as text (str() of the JSON value sent to /feedback).
LABEL: Final = "label"
LABEL_COLUMNS: Final = (PREDICTION_ID, TS, LABEL)

SUFFIX: Final = ".parquet"
# A replica name becomes part of an object key: one path segment, no separators.
_REPLICA = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_HOUR: Final = timedelta(hours=1)


def feature_column(name: str) -> str:
    """The Parquet column that holds input feature `name`."""
    return f"{FEATURE_PREFIX}{name}"


def check_replica(replica: str) -> str:
    """Return `replica` if it can name objects (letters, digits, `.`, `_`, `-`; max 128)."""
    if not _REPLICA.match(replica):
        raise ValueError(
            f"replica name {replica!r} must be 1-128 letters, digits, '.', '_' or '-' "
            "(it becomes part of an object key)"
        )
    return replica


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")


def _utc(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts.isoformat()} has no timezone; pass an aware UTC datetime")
    return ts.astimezone(UTC)


def partition(kind: str, ts: datetime) -> str:
    """The prefix (ending in `/`) of the hour partition that holds rows of `kind` at `ts`."""
    _check_kind(kind)
    hour = _utc(ts)
    return f"{LAYOUT}/{kind}/date={hour:%Y-%m-%d}/hour={hour:%H}/"


def object_key(kind: str, ts: datetime, replica: str, unix_ms: int, seq: int) -> str:
    """The key of one flushed object: rows of `kind` in the hour of `ts`, written by `replica`.

    `unix_ms` (the flush time) and `seq` (the writer's object counter) make the name unique per
    replica and flush, also across restarts of a replica that keeps its name.
    """
    if unix_ms < 0 or seq < 0:
        raise ValueError(f"unix_ms and seq must be >= 0, got {unix_ms} and {seq}")
    name = f"{check_replica(replica)}-{unix_ms:013d}-{seq:06d}{SUFFIX}"
    return partition(kind, ts) + name


def partitions(kind: str, start: datetime, end: datetime) -> list[str]:
    """The hour-partition prefixes that can hold rows of `kind` with start <= ts <= end.

    A reader lists these prefixes and filters rows by `ts` (a partition covers a whole hour).
    """
    first, last = _utc(start), _utc(end)
    if last < first:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    hour = first.replace(minute=0, second=0, microsecond=0)
    prefixes = []
    while hour <= last:
        prefixes.append(partition(kind, hour))
        hour += _HOUR
    return prefixes
