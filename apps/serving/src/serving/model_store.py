"""The loaded model as one immutable snapshot, swapped atomically by reference assignment."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from serving.drift import DriftReference
from serving.fastpath import Predictor
from serving.validation import InputSchema


@dataclass(frozen=True, slots=True)
class ModelSnapshot:
    """Everything a request needs about one model version; never mutated after creation.

    A request reads ``ModelStore.current`` once and uses only that object, so a swap in the
    middle of a request cannot mix the model of one version with the schema of another.
    """

    name: str
    version: str
    alias: str
    model: Any
    predictor: Predictor  # model.predict, or its verified forest fast path
    schema: InputSchema
    drift_reference: DriftReference | None
    offline_accuracy: float | None
    run_id: str
    loaded_at: float = field(default_factory=time.time)


@dataclass
class RegistryStatus:
    """What the poller last saw of MLflow (for /readyz detail)."""

    up: bool = False
    last_error: str | None = None
    last_error_at: float | None = None
    last_success_at: float | None = None


class ModelStore:
    """Holds the current snapshot; readers never lock, the single writer is the poller."""

    def __init__(self) -> None:
        self._current: ModelSnapshot | None = None
        self._lock = threading.Lock()
        self.registry = RegistryStatus()

    @property
    def current(self) -> ModelSnapshot | None:
        """The snapshot to use for one whole request (a plain attribute read: atomic)."""
        return self._current

    def swap(self, snapshot: ModelSnapshot) -> ModelSnapshot | None:
        """Publish a new snapshot and return the one it replaces."""
        with self._lock:
            previous, self._current = self._current, snapshot
        return previous
