"""The model: a scikit-learn Pipeline, trained and scored without any MLflow I/O."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from training.data import CATEGORICAL_FEATURES, FEATURES, FLOAT_FEATURES, INT_FEATURES, TARGET
from training.errors import TrainingError
from training.evaluation import Evaluation

MIN_ROWS = 20


@dataclass(frozen=True, kw_only=True)
class TrainParams:
    """Hyperparameters and the split; every field is logged as an MLflow param."""

    n_estimators: int = 100
    max_depth: int | None = 12
    min_samples_leaf: int = 2
    test_size: float = 0.25
    seed: int = 0


@dataclass(frozen=True, kw_only=True)
class TrainResult:
    """A fitted pipeline with what it was fitted and scored on."""

    pipeline: Pipeline
    evaluation: Evaluation
    train_frame: pd.DataFrame
    test_frame: pd.DataFrame
    feature_importances: dict[str, float]


def build_pipeline(params: TrainParams) -> Pipeline:
    """One-hot the categorical features, pass numbers through, then a random forest."""
    pre = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL_FEATURES)),
            ("numeric", "passthrough", [*INT_FEATURES, *FLOAT_FEATURES]),
        ],
        verbose_feature_names_out=False,
    )
    forest = RandomForestClassifier(
        n_estimators=params.n_estimators,
        max_depth=params.max_depth,
        min_samples_leaf=params.min_samples_leaf,
        random_state=params.seed,
        n_jobs=1,  # one core per pod; predictable latency numbers for the gate
    )
    return Pipeline([("features", pre), ("model", forest)])


def _check_trainable(df: pd.DataFrame) -> None:
    if len(df) < MIN_ROWS:
        raise TrainingError(f"dataset has {len(df)} rows; training needs at least {MIN_ROWS}")
    if df[TARGET].nunique() < 2:
        raise TrainingError(f"dataset: column {TARGET!r} holds one class only; need both 0 and 1")


def train(df: pd.DataFrame, params: TrainParams) -> TrainResult:
    """Split, fit and score; pure (no I/O), deterministic for a given frame and params."""
    _check_trainable(df)
    train_df, test_df = train_test_split(
        df, test_size=params.test_size, random_state=params.seed, stratify=df[TARGET]
    )
    return fit(train_df, test_df, params)


def fit(train_df: pd.DataFrame, test_df: pd.DataFrame, params: TrainParams) -> TrainResult:
    """Fit on train_df and score on test_df (a split given by the caller, e.g. by time)."""
    if train_df[TARGET].nunique() < 2:
        raise TrainingError(f"training rows: {TARGET!r} holds one class only; need both 0 and 1")
    pipeline = build_pipeline(params)
    pipeline.fit(train_df[list(FEATURES)], train_df[TARGET])
    names = [str(n) for n in pipeline.named_steps["features"].get_feature_names_out()]
    importances = pipeline.named_steps["model"].feature_importances_
    return TrainResult(
        pipeline=pipeline,
        evaluation=evaluate(pipeline, test_df),
        train_frame=train_df.reset_index(drop=True),
        test_frame=test_df.reset_index(drop=True),
        feature_importances={n: float(v) for n, v in zip(names, importances, strict=True)},
    )


def evaluate(model: Pipeline, holdout: pd.DataFrame) -> Evaluation:
    """Score a fitted model on a labelled holdout and time one batch predict per row."""
    x, y = holdout[list(FEATURES)], holdout[TARGET].to_numpy()
    model.predict(x.head(1))  # warm-up so the timing below is the steady state
    start = time.perf_counter()
    proba = model.predict_proba(x)[:, 1]
    elapsed = time.perf_counter() - start
    pred = (proba >= 0.5).astype(np.int64)
    both_classes = len(np.unique(y)) == 2
    return Evaluation(
        accuracy=float(accuracy_score(y, pred)),
        f1=float(f1_score(y, pred, zero_division=0)),
        roc_auc=float(roc_auc_score(y, proba)) if both_classes else float("nan"),
        latency_ms_per_row=1000.0 * elapsed / max(len(x), 1),
        rows=len(x),
        confusion=confusion_matrix(y, pred, labels=[0, 1]).tolist(),
    )
