"""Datasets: the built-in synthetic traffic generator, loading user files, schema validation."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from training import storage
from training.errors import TrainingError

TARGET: Final = "congested"
WEATHER: Final = ("clear", "rain", "fog", "snow")
INT_FEATURES: Final = ("hour", "weekday", "special_event", "road_works")
FLOAT_FEATURES: Final = ("recent_speed_kmh", "recent_vehicle_count")
CATEGORICAL_FEATURES: Final = ("weather",)
FEATURES: Final = (
    "hour",
    "weekday",
    "weather",
    "special_event",
    "road_works",
    "recent_speed_kmh",
    "recent_vehicle_count",
)
SYNTHETIC_PREFIX: Final = "synthetic"
# The domain of each whole-number column (the generator's, which the model is built on); a
# value outside it is a data error, not a new category for the model to learn.
INT_RANGES: Final = {
    "hour": (0, 23),
    "weekday": (0, 6),
    "special_event": (0, 1),
    "road_works": (0, 1),
    TARGET: (0, 1),
}
# scikit-learn's trees compare features as float32: a larger magnitude becomes inf there.
FLOAT32_MAX: Final = float(np.finfo(np.float32).max)


def generate(rows: int, seed: int = 0, drift: float = 0.0) -> pd.DataFrame:
    """Generate deterministic road-traffic congestion data.

    Args:
        rows: Number of rows.
        seed: Random seed; the same (rows, seed, drift) always gives the same frame.
        drift: 0 = the reference world, 1 = fully drifted. Drift shifts the feature
            distributions (more bad weather, road works, events and traffic) and the
            concept (road works and events matter more, raw volume matters less).

    Returns:
        A frame with the columns in FEATURES plus TARGET.
    """
    if rows <= 0:
        raise TrainingError(f"synthetic dataset: rows must be positive, got {rows}")
    if not 0.0 <= drift <= 1.0:
        raise TrainingError(f"synthetic dataset: drift must be within [0, 1], got {drift}")
    rng = np.random.default_rng(seed)
    d = drift
    hour = rng.integers(0, 24, rows)
    weekday = rng.integers(0, 7, rows)
    weather_p = (1 - d) * np.array([0.6, 0.25, 0.1, 0.05]) + d * np.array([0.2, 0.35, 0.2, 0.25])
    weather = rng.choice(np.array(WEATHER, dtype=object), size=rows, p=weather_p)
    special_event = (rng.random(rows) < 0.05 + 0.15 * d).astype(np.int64)
    road_works = (rng.random(rows) < 0.08 + 0.25 * d).astype(np.int64)

    rush = (((hour >= 7) & (hour <= 9)) | ((hour >= 16) & (hour <= 18))) & (weekday < 5)
    expected_count = (35 + 55 * rush + 20 * special_event) * (1 + 0.6 * d)
    count = rng.poisson(expected_count).astype(np.float64)
    slow = pd.Series(weather).map({"clear": 0.0, "rain": 8.0, "fog": 12.0, "snow": 20.0})
    speed = 100 - 0.5 * count - slow.to_numpy() - 12 * road_works + rng.normal(0, 7, rows)
    speed = np.clip(speed, 5.0, 130.0).round(1)

    # The concept: how strongly each factor drives congestion moves with the drift knob.
    logit = (
        -1.0
        + (0.06 - 0.08 * d) * (count - 60)
        + (0.12 - 0.06 * d) * (55 - speed)
        + (0.8 + 2.5 * d) * road_works
        + (1.0 + 2.0 * d) * special_event
    )
    congested = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame(
        {
            "hour": hour.astype(np.int64),
            "weekday": weekday.astype(np.int64),
            "weather": pd.Series(weather, dtype=str),
            "special_event": special_event,
            "road_works": road_works,
            "recent_speed_kmh": speed.astype(np.float64),
            "recent_vehicle_count": count,
            TARGET: congested,
        }
    )


def synthetic_name(rows: int, seed: int, drift: float) -> str:
    """The name of a synthetic dataset, e.g. `synthetic:rows=2000,seed=0,drift=0`."""
    return f"{SYNTHETIC_PREFIX}:rows={rows},seed={seed},drift={drift:g}"


def read(source: str, s3: storage.S3Config | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet dataset from `s3://bucket/key` or a local path (by file suffix).

    An `s3://` source is read from the store s3 names (boto3's defaults when None).
    """
    suffix = Path(source.split("?", 1)[0]).suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise TrainingError(
            f"dataset {source}: unsupported file type {suffix or '(none)'!r}; use .csv or .parquet"
        )
    if source.startswith("s3://"):
        raw = storage.read_bytes(source, s3 or storage.S3Config())
    else:
        path = Path(source)
        if not path.is_file():
            raise TrainingError(f"dataset {source}: no such file")
        raw = path.read_bytes()
    if not raw:
        raise TrainingError(f"dataset {source} is empty (0 bytes)")
    try:
        if suffix == ".csv":
            return pd.read_csv(io.BytesIO(raw))
        return pd.read_parquet(io.BytesIO(raw))
    except Exception as exc:  # pandas raises many unrelated types for a malformed file
        kind = "CSV" if suffix == ".csv" else "Parquet"
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TrainingError(f"dataset {source} is not valid {kind}: {first}") from exc


def validate(df: pd.DataFrame, source: str, *, require_target: bool = True) -> pd.DataFrame:
    """Check a frame against the schema and return it with canonical dtypes and column order.

    Raises:
        TrainingError: naming the dataset and the offending column when the frame is empty,
            a column is missing, has missing values or the wrong type, or (naming the first
            offending row and its value) holds a value outside its domain: a non-finite or
            beyond-float32 number, an hour outside 0..23, a weekday outside 0..6, a flag or
            label other than 0/1, a weather other than those in WEATHER.
    """
    if df.empty or len(df) == 0:
        raise TrainingError(f"dataset {source} is empty (0 rows)")
    columns = (*FEATURES, TARGET) if require_target else FEATURES
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise TrainingError(
            f"dataset {source} is missing column(s) {', '.join(missing)}; "
            f"expected columns: {', '.join(columns)}"
        )
    out = pd.DataFrame(index=range(len(df)))
    for column in columns:
        series = df[column].reset_index(drop=True)
        if series.isna().any():
            raise TrainingError(
                f"dataset {source}: column {column!r} has {int(series.isna().sum())} missing values"
            )
        out[column] = _coerce(series, column, source)
    return out


def _coerce(series: pd.Series, column: str, source: str) -> pd.Series:
    """Cast one column to its schema dtype or raise naming the column and the type found.

    Values outside the column's domain are refused here too, naming the first offending row,
    so scikit-learn never sees them.
    """
    if column in CATEGORICAL_FEATURES:
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            raise TrainingError(
                f"dataset {source}: column {column!r} must be text (one of {', '.join(WEATHER)}), "
                f"got dtype {series.dtype}"
            )
        _refuse_outside_domain(series, column, source)
        return series.astype(str)
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise TrainingError(
            f"dataset {source}: column {column!r} must be numeric, got dtype {series.dtype}"
        )
    _refuse_outside_domain(series, column, source)
    values = series.astype(np.float64)
    return values if column in FLOAT_FEATURES else values.astype(np.int64)


def outside_domain(series: pd.Series, column: str) -> tuple[np.ndarray, str]:
    """Which rows of ``column`` hold a value the model cannot take, and what it can take.

    Numeric columns: finite and within float32 (float features), or whole numbers within
    INT_RANGES; the weather column: one of WEATHER. Values of the wrong type count as outside.
    """
    if column in CATEGORICAL_FEATURES:
        allowed = series.isin(WEATHER).to_numpy(dtype=bool)  # a non-string is never in it
        return ~allowed, f"must be one of {', '.join(WEATHER)}"
    numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        if column in FLOAT_FEATURES:
            within = np.isfinite(numbers) & (np.abs(numbers) <= FLOAT32_MAX)
            return ~within, f"must be a finite number within the float32 range (±{FLOAT32_MAX:.4g})"
        low, high = INT_RANGES[column]
        within = (np.mod(numbers, 1) == 0) & (numbers >= low) & (numbers <= high)
    what = "0/1 labels" if column == TARGET else f"whole numbers from {low} to {high}"
    return ~within, f"must hold {what}"


def _refuse_outside_domain(series: pd.Series, column: str, source: str) -> None:
    outside, domain = outside_domain(series, column)
    if outside.any():
        row = int(np.argmax(outside))
        value = series.iloc[row]
        value = value.item() if isinstance(value, np.generic) else value  # 24, not np.int64(24)
        raise TrainingError(
            f"dataset {source}: column {column!r} {domain}; row {row} (counting data rows from 0) "
            f"holds {value!r}, and {int(outside.sum())} row(s) in all are outside"
        )


def within_domain(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every feature and label lies within its domain (see ``outside_domain``)."""
    keep = np.ones(len(frame), dtype=bool)
    for column in (*FEATURES, TARGET):
        keep &= ~outside_domain(frame[column], column)[0]
    return keep


def load(
    source: str | None,
    *,
    rows: int = 5000,
    seed: int = 0,
    drift: float = 0.0,
    s3: storage.S3Config | None = None,
) -> tuple[pd.DataFrame, str]:
    """Load and validate a dataset: a file/S3 source, or the synthetic generator when None.

    Returns:
        The validated frame and a human-readable source name.
    """
    if source is None or source == SYNTHETIC_PREFIX:
        name = synthetic_name(rows, seed, drift)
        return validate(generate(rows, seed, drift), name), name
    return validate(read(source, s3), source), source


@dataclass(frozen=True, kw_only=True)
class DataSpec:
    """Where data comes from: a CSV/Parquet path or s3:// URI, or the synthetic generator."""

    source: str | None = None
    rows: int = 5000
    seed: int = 0
    drift: float = 0.0
    s3: storage.S3Config | None = None

    def load(self) -> tuple[pd.DataFrame, str]:
        """Read and validate the dataset; return it with its name."""
        return load(self.source, rows=self.rows, seed=self.seed, drift=self.drift, s3=self.s3)
