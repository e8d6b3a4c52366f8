"""The app's long-lived objects, wired together once per app."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from serving.batching import MicroBatcher
from serving.drift import DriftMonitor
from serving.inference_log import InferenceLog
from serving.metrics import ServingMetrics
from serving.model_store import ModelSnapshot, ModelStore
from serving.registry import RegistryFollower
from serving.settings import Settings
from serving.validation import Batch


def to_frame(snapshot: ModelSnapshot, batch: Batch) -> pd.DataFrame:
    """One DataFrame per micro-batch (not per request), typed by the signature."""
    data = {}
    for column in snapshot.schema.columns:
        values = batch.columns[column.name]
        if column.kind in ("number", "integer") and None in values:
            data[column.name] = np.asarray(values, dtype=np.float64)  # None -> NaN
        else:
            data[column.name] = np.asarray(values, dtype=column.dtype)
    return pd.DataFrame(data, copy=False)


@dataclass
class ServingState:
    """Settings, model store, metrics, batcher, drift and inference log of one app."""

    settings: Settings
    store: ModelStore
    metrics: ServingMetrics
    drift: DriftMonitor
    batcher: MicroBatcher
    follower: RegistryFollower
    inference_log: InferenceLog

    @classmethod
    def create(cls, settings: Settings) -> ServingState:
        """Build every piece from settings (no I/O; the follower starts in the lifespan)."""
        store = ModelStore()
        metrics = ServingMetrics()
        drift = DriftMonitor(settings.drift_window_rows)
        inference_log = InferenceLog(settings, metrics)

        def run_batch(snapshot: ModelSnapshot, batch: Batch) -> list[Any]:
            # Runs in the predict thread: model call plus the per-batch bookkeeping.
            labels, proba = snapshot.predictor.predict_scored(
                to_frame(snapshot, batch), proba=inference_log.enabled
            )
            predictions: list[Any] = labels.tolist()
            inference_log.record_predictions(
                snapshot.name, snapshot.version, snapshot.schema, batch, predictions,
                None if proba is None else proba.tolist(),
            )  # fmt: skip
            metrics.batch_size.observe(batch.n_rows)
            for label, count in Counter(predictions).items():
                metrics.predictions.labels(snapshot.version, str(label)).inc(count)
            drift.record(batch.columns, batch.n_rows)
            return predictions

        batcher = MicroBatcher(run_batch, settings.max_batch_rows, settings.batch_max_wait_ms)
        follower = RegistryFollower(settings, store, metrics)
        return cls(settings, store, metrics, drift, batcher, follower, inference_log)
