"""Training-time feature distributions that serving compares live traffic against (drift PSI).

Format (docs/contracts.md): `{"schema": 1, "features": {name: {"kind": "numeric", "edges": [...],
"fractions": [...]} | {"kind": "categorical", "categories": [...], "fractions": [...]}}}`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlops_contract import registry as contract

from training.data import CATEGORICAL_FEATURES, FEATURES

SCHEMA_VERSION = contract.DRIFT_REFERENCE_SCHEMA
DEFAULT_BINS = 10


def numeric_edges(values: np.ndarray, bins: int = DEFAULT_BINS) -> list[float]:
    """Interior cut points near the quantiles, placed halfway between distinct observed values.

    Halfway points mean no training value sits on an edge, so left- or right-closed binning
    give the same reference, and a 0/1 flag gets the single cut 0.5 instead of a degenerate one.
    """
    distinct = np.unique(values.astype(np.float64))
    if len(distinct) < 2:
        return []
    midpoints = (distinct[:-1] + distinct[1:]) / 2
    quantiles = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    idx = np.clip(np.searchsorted(midpoints, quantiles), 0, len(midpoints) - 1)
    return [float(x) for x in np.unique(midpoints[idx])]


def numeric_fractions(values: np.ndarray, interior: list[float]) -> list[float]:
    """Fraction of values per bin; bin i is (edge[i], edge[i+1]], the outer edges infinite."""
    idx = np.searchsorted(np.asarray(interior, dtype=np.float64), values, side="left")
    counts = np.bincount(idx, minlength=len(interior) + 1)
    return [float(c) for c in counts / counts.sum()]


def build(df: pd.DataFrame, bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """The reference document for every input feature of a training frame."""
    features: dict[str, Any] = {}
    for name in FEATURES:
        column = df[name]
        if name in CATEGORICAL_FEATURES:
            shares = column.astype(str).value_counts(normalize=True).sort_index()
            features[name] = {
                "kind": "categorical",
                "categories": [str(c) for c in shares.index],
                "fractions": [float(f) for f in shares.to_numpy()],
            }
        else:
            values = column.to_numpy(dtype=np.float64)
            interior = numeric_edges(values, bins)
            features[name] = {
                "kind": "numeric",
                "edges": ["-inf", *interior, "inf"],
                "fractions": numeric_fractions(values, interior),
            }
    return {"schema": SCHEMA_VERSION, "features": features}
