"""Ground-truth feedback: recent prediction ids -> predicted class -> rolling online accuracy."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeedbackResult:
    """Counts for one feedback request."""

    correct: int
    incorrect: int
    unknown_id: int


class FeedbackStore:
    """Remembers the last ``capacity`` predictions and scores labels sent back for them."""

    def __init__(self, capacity: int, window_size: int) -> None:
        self._capacity = capacity
        self._predictions: OrderedDict[str, object] = OrderedDict()
        self._window: deque[bool] = deque(maxlen=window_size)
        self._lock = threading.Lock()

    def remember(self, ids: Iterable[str], predictions: Iterable[object]) -> None:
        """Store predicted classes by id, evicting the oldest beyond capacity."""
        with self._lock:
            store = self._predictions
            store.update(zip(ids, predictions, strict=True))
            while len(store) > self._capacity:
                store.popitem(last=False)

    def score(self, labels: Iterable[tuple[str, object]]) -> FeedbackResult:
        """Compare labels with remembered predictions; each id is scored at most once."""
        correct = incorrect = unknown = 0
        with self._lock:
            for prediction_id, label in labels:
                predicted = self._predictions.pop(prediction_id, _MISSING)
                if predicted is _MISSING:
                    unknown += 1
                    continue
                hit = predicted == label
                self._window.append(hit)
                correct += hit
                incorrect += not hit
        return FeedbackResult(correct, incorrect, unknown)

    def accuracy(self) -> float | None:
        """Fraction correct over the rolling window, or None before any feedback."""
        with self._lock:
            if not self._window:
                return None
            return sum(self._window) / len(self._window)


_MISSING = object()
