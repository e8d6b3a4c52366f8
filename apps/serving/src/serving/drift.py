"""Per-feature drift: a sliding window of served inputs against the training reference (PSI)."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from mlops_contract import registry

# Empty bins would make PSI infinite; a small floor keeps it finite and comparable across
# windows (the usual smoothing in PSI implementations).
PSI_EPSILON = 1e-4


@dataclass(frozen=True, slots=True)
class NumericReference:
    """Training-time histogram: interior cut points and the fraction of rows per bin."""

    cuts: np.ndarray  # interior edges; bin i is (edge_i, edge_i+1], as training writes it
    fractions: np.ndarray


@dataclass(frozen=True, slots=True)
class CategoricalReference:
    """Training-time category frequencies."""

    index: dict[str, int]
    fractions: np.ndarray  # one slot per category plus a last slot for unseen ones


FeatureReference = NumericReference | CategoricalReference


@dataclass(frozen=True, slots=True)
class DriftReference:
    """The parsed ``drift/reference.json`` of one model version."""

    features: dict[str, FeatureReference]


def _edge(value: Any) -> float:
    return float(value)  # float() understands the "-inf"/"inf" strings of the contract


def parse_reference(document: Mapping[str, Any]) -> DriftReference:
    """Parse ``drift/reference.json`` (the contract's schema); ValueError names the key."""
    if document.get("schema") != registry.DRIFT_REFERENCE_SCHEMA:
        raise ValueError(f"drift/reference.json: unsupported schema {document.get('schema')!r}")
    features: dict[str, FeatureReference] = {}
    for name, spec in dict(document.get("features", {})).items():
        fractions = np.asarray(spec.get("fractions", []), dtype=np.float64)
        kind = spec.get("kind")
        if kind == "numeric":
            edges = np.asarray([_edge(e) for e in spec.get("edges", [])], dtype=np.float64)
            if len(edges) != len(fractions) + 1 or len(edges) < 2:
                raise ValueError(f"drift/reference.json: features.{name}: need len(edges) = n+1")
            features[name] = NumericReference(edges[1:-1], fractions)
        elif kind == "categorical":
            categories = [str(c) for c in spec.get("categories", [])]
            if len(categories) != len(fractions):
                raise ValueError(
                    f"drift/reference.json: features.{name}: categories and fractions differ"
                )
            features[name] = CategoricalReference(
                {c: i for i, c in enumerate(categories)}, np.append(fractions, 0.0)
            )
        else:
            raise ValueError(f"drift/reference.json: features.{name}.kind: got {kind!r}")
    return DriftReference(features)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two distributions over the same bins (eps-smoothed)."""
    e = np.clip(expected, PSI_EPSILON, None)
    a = np.clip(actual, PSI_EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _actual_fractions(reference: FeatureReference, values: list[Any]) -> np.ndarray | None:
    if isinstance(reference, NumericReference):
        numbers = np.asarray([v for v in values if v is not None], dtype=np.float64)
        if numbers.size == 0:
            return None
        bins = np.searchsorted(reference.cuts, numbers, side="left")
        counts = np.bincount(bins, minlength=len(reference.fractions)).astype(np.float64)
        return counts / numbers.size
    unseen = len(reference.index)
    counts = np.zeros(unseen + 1, dtype=np.float64)
    seen = 0
    for value in values:
        if value is not None:
            counts[reference.index.get(str(value), unseen)] += 1
            seen += 1
    return counts / seen if seen else None


class DriftMonitor:
    """A bounded window of recent inputs per feature; PSI is computed on demand (at scrape)."""

    def __init__(self, window_rows: int) -> None:
        self._window_rows = window_rows
        self._windows: dict[str, deque[Any]] = {}
        self._rows = 0
        self._lock = threading.Lock()

    def record(self, columns: Mapping[str, list[Any]], n_rows: int) -> None:
        """Add a validated batch (called once per micro-batch, not per row)."""
        with self._lock:
            for name, values in columns.items():
                window = self._windows.get(name)
                if window is None:
                    window = self._windows[name] = deque(maxlen=self._window_rows)
                window.extend(values)
            self._rows = min(self._rows + n_rows, self._window_rows)

    @property
    def rows(self) -> int:
        """Rows currently in the window."""
        return self._rows

    def compute(self, reference: DriftReference) -> dict[str, float]:
        """PSI per reference feature that has data in the window."""
        with self._lock:
            snapshot = {name: list(window) for name, window in self._windows.items()}
        result: dict[str, float] = {}
        for name, feature in reference.features.items():
            actual = _actual_fractions(feature, snapshot.get(name, []))
            if actual is not None:
                value = psi(feature.fractions, actual)
                result[name] = value if math.isfinite(value) else 0.0
        return result
