"""Read serving's inference log over a time window and join predictions with their labels.

The layout is the contract's (`mlops_contract.inference_log`, docs/inference-log.md): Parquet
objects under hour partitions, one kind for predictions and one for labels, written by every
serving replica. A label may have reached any replica, so the join is on `prediction_id` across
all objects; an id labelled more than once keeps its latest label. The result is one row per
labelled prediction whose prediction and label both fall in the window, with the features
under the model's own column names and dtypes (`training.data`).
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import botocore.exceptions
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from mlops_contract import inference_log as layout

from training import data, storage
from training.errors import TrainingError

# Objects are small (one flush of one replica) and a window can hold thousands of them: a few
# GETs in flight hide the store's latency without opening a connection per object.
FETCH_WORKERS: Final = 8
# Columns of the joined frame besides the features and the target.
MODEL_VERSION: Final = layout.MODEL_VERSION
TS: Final = layout.TS
PREDICTION: Final = layout.PREDICTION
PREDICTION_ID: Final = layout.PREDICTION_ID


@dataclass(frozen=True, kw_only=True)
class Window:
    """The rows a retrain run looks at: start <= ts <= end (aware UTC datetimes)."""

    start: datetime
    end: datetime

    @classmethod
    def last(cls, minutes: float, now: datetime | None = None) -> Window:
        """The last `minutes` up to now."""
        end = now or datetime.now(UTC)
        return cls(start=end - timedelta(minutes=minutes), end=end)

    @property
    def minutes(self) -> float:
        """Length of the window in minutes."""
        return (self.end - self.start).total_seconds() / 60


@dataclass(frozen=True, kw_only=True)
class LogRead:
    """What one window of the log holds: counts, and the labelled rows joined."""

    predictions: int
    labels: int
    objects: int
    # One row per labelled prediction: FEATURES, TARGET, MODEL_VERSION, TS, PREDICTION and
    # PREDICTION_ID, oldest first.
    labelled: pd.DataFrame
    # Labelled rows left out of `labelled`: a label or a feature the model cannot take.
    unusable: int

    def describe(self, bucket: str, window: Window) -> str:
        """One progress line."""
        skipped = f", {self.unusable} unusable" if self.unusable else ""
        return (
            f"inference log s3://{bucket}, last {window.minutes:g} min: {self.objects} objects, "
            f"{self.predictions} predictions, {self.labels} labels, "
            f"{len(self.labelled)} labelled rows{skipped}"
        )


def _flush_ms(key: str) -> int | None:
    """The flush time in a key's object name, or None for a name the layout did not write."""
    name = key.rsplit("/", 1)[-1].removesuffix(layout.SUFFIX)
    parts = name.rsplit("-", 2)
    try:
        return int(parts[-2]) if len(parts) == 3 else None  # replica-ms-seq
    except ValueError:
        return None


def list_keys(client: Any, bucket: str, kind: str, window: Window) -> list[str]:
    """Keys of `kind` that can hold rows in the window.

    A flush writes rows that were already buffered, so an object flushed before the window
    started holds no row inside it and is not fetched.
    """
    start_ms = int(window.start.timestamp() * 1000)
    keys = []
    paginator = client.get_paginator("list_objects_v2")
    for prefix in layout.partitions(kind, window.start, window.end):
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                flushed = _flush_ms(key)
                if key.endswith(layout.SUFFIX) and (flushed is None or flushed >= start_ms):
                    keys.append(key)
    return keys


def _fetch(client: Any, bucket: str, key: str) -> pa.Table:
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body))


def read_kind(client: Any, bucket: str, kind: str, window: Window) -> tuple[pd.DataFrame, int]:
    """Rows of `kind` with ts in the window (and how many objects were read)."""
    keys = list_keys(client, bucket, kind, window)
    if not keys:
        return pd.DataFrame(), 0
    with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
        tables = list(pool.map(lambda key: _fetch(client, bucket, key), keys))
    table = pa.concat_tables(tables, promote_options="default")
    frame = table.to_pandas()
    ts = pd.to_datetime(frame[layout.TS], utc=True)
    inside = (ts >= pd.Timestamp(window.start)) & (ts <= pd.Timestamp(window.end))
    frame = frame.assign(**{layout.TS: ts})[inside.to_numpy()]
    return frame.reset_index(drop=True), len(keys)


def join(predictions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Predictions with their latest label, on prediction_id (inner join).

    A label's `ts` is when it arrived; the joined row keeps the prediction's `ts`. A prediction
    id written twice (a PUT retried after a timeout that had in fact succeeded) counts once.
    """
    if predictions.empty or labels.empty:
        return pd.DataFrame()
    latest = (
        labels.sort_values(layout.TS, kind="stable")
        .drop_duplicates(layout.PREDICTION_ID, keep="last")
        .loc[:, [layout.PREDICTION_ID, layout.LABEL]]
    )
    unique = predictions.drop_duplicates(layout.PREDICTION_ID, keep="first")
    joined = unique.merge(latest, on=layout.PREDICTION_ID, how="inner", validate="one_to_one")
    return joined.sort_values(layout.TS, kind="stable").reset_index(drop=True)


def _as_class(text: pd.Series) -> pd.Series:
    """Class labels as the target's integers (`"1"`, `"0"`, `"True"`); NaN when not a class."""
    mapped = (
        text.astype("string")
        .str.strip()
        .str.lower()
        .map({"1": 1, "0": 0, "true": 1, "false": 0, "1.0": 1, "0.0": 0})
    )
    return pd.to_numeric(mapped, errors="coerce")


def to_training_frame(joined: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The model's columns (prefix stripped, training dtypes) plus version, ts, prediction, id.

    Returns the frame and how many joined rows were left out (a label that is not 0/1, or a
    feature missing, of the wrong type or outside its domain: ``data.outside_domain``).
    """
    columns = [*data.FEATURES, data.TARGET, MODEL_VERSION, TS, PREDICTION, PREDICTION_ID]
    if joined.empty:
        return pd.DataFrame(columns=columns), 0
    wanted = {layout.feature_column(f): f for f in data.FEATURES}
    absent = [c for c in wanted if c not in joined.columns]
    if absent:
        # The served model's signature lacks a feature this model needs: nothing is usable.
        return pd.DataFrame(columns=columns), len(joined)
    frame = joined.rename(columns=wanted)
    frame[data.TARGET] = _as_class(frame[layout.LABEL])
    frame[PREDICTION] = _as_class(frame[layout.PREDICTION])
    present = frame[[*data.FEATURES, data.TARGET]].notna().all(axis=1).to_numpy()
    # Serving takes any string for the weather and any integer for the hour: a client's bad
    # row is left out (and counted), not allowed to fail every retrain of the window.
    usable = present & data.within_domain(frame)
    frame = frame[usable].reset_index(drop=True)
    dropped = len(joined) - len(frame)
    if frame.empty:
        return pd.DataFrame(columns=columns), dropped
    try:
        model_columns = data.validate(frame, "inference log")
    except TrainingError as exc:
        raise TrainingError(f"{exc} (in the inference log's labelled rows)") from exc
    out = model_columns.assign(
        **{
            MODEL_VERSION: frame[MODEL_VERSION].astype(str).to_numpy(),
            TS: frame[TS].to_numpy(),
            PREDICTION: frame[PREDICTION].to_numpy(dtype=np.float64),
            PREDICTION_ID: frame[PREDICTION_ID].astype(str).to_numpy(),
        }
    )
    return out, dropped


def read(cfg: storage.S3Config, bucket: str, window: Window) -> LogRead:
    """List, fetch, filter and join one window of the log in `bucket`."""
    client = storage.client(cfg)
    try:
        predictions, n_pred_objects = read_kind(client, bucket, layout.PREDICTIONS, window)
        labels, n_label_objects = read_kind(client, bucket, layout.LABELS, window)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise TrainingError(
            f"reading the inference log s3://{bucket}: {storage.describe(exc, cfg)}"
        ) from exc
    except (pa.ArrowException, OSError) as exc:
        raise TrainingError(f"inference log s3://{bucket}: unreadable object: {exc}") from exc
    labelled, unusable = to_training_frame(join(predictions, labels))
    return LogRead(
        predictions=len(predictions),
        labels=len(labels),
        objects=n_pred_objects + n_label_objects,
        labelled=labelled,
        unusable=unusable,
    )


def recent_split(
    labelled: pd.DataFrame, *, max_rows: int, holdout_fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, holdout rows) from the most recent `max_rows` labelled rows, by ts.

    The holdout is the newest `holdout_fraction` of them: candidate and champion are judged on
    the data the next model will serve, and the candidate never trains on it. Both frames hold
    the model's columns only (FEATURES, TARGET).
    """
    if not 0 < holdout_fraction < 1:
        raise ValueError(f"holdout fraction must be in (0, 1), got {holdout_fraction}")
    recent = labelled.sort_values(TS, kind="stable").tail(max_rows)
    n_holdout = max(1, round(len(recent) * holdout_fraction))
    columns = [*data.FEATURES, data.TARGET]
    train = recent.iloc[:-n_holdout][columns].reset_index(drop=True)
    holdout = recent.iloc[-n_holdout:][columns].reset_index(drop=True)
    return train, holdout
