"""A bit-identical fast path for forest classifiers (the platform's default model family).

``RandomForestClassifier.predict`` on a few rows spends ~95% of its time in per-tree Python
machinery (input checks, joblib dispatch, a lock per tree): ~5.6 ms for 100 trees, against
~0.3 ms for the trees themselves. The fast path runs the pipeline's preprocessing as usual,
then sums ``tree_.predict`` over the trees in the same order and with the same arithmetic as
scikit-learn, so its predictions are the same numbers. It is still checked: the first
``VERIFY_BATCHES`` batches that both paths answer are compared, and any difference turns the
fast path off for good. Input the model refuses never gets here: request validation holds every
number to the float32 range the trees compare in (serving/validation.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.ensemble._forest import ForestClassifier
from sklearn.pipeline import Pipeline

logger = logging.getLogger(__name__)

VERIFY_BATCHES = 20

# x -> (class labels, positive-class probability or None): the forest computes both anyway.
FastFn = Callable[[Any], tuple[np.ndarray, np.ndarray | None]]


def compile_forest(model: Any) -> FastFn | None:
    """A fast predict for a (Pipeline ending in a) single-output forest classifier, else None."""
    final = model[-1] if isinstance(model, Pipeline) else model
    if not isinstance(final, ForestClassifier) or getattr(final, "n_outputs_", 0) != 1:
        return None
    pre = model[:-1] if isinstance(model, Pipeline) and len(model.steps) > 1 else None
    trees = [estimator.tree_ for estimator in final.estimators_]
    classes, n_classes = final.classes_, int(final.n_classes_)
    names = getattr(final, "feature_names_in_", None)
    names = None if names is None else list(names)

    def predict(x: Any) -> tuple[np.ndarray, np.ndarray | None]:
        xt = pre.transform(x) if pre is not None else x
        if sparse.issparse(xt):
            # ForestClassifier.predict is exactly this argmax over predict_proba.
            sparse_proba = np.asarray(final.predict_proba(xt))
            labels = classes.take(np.argmax(sparse_proba, axis=1), axis=0)
            return np.asarray(labels), sparse_proba[:, 1] if n_classes == 2 else None
        if names is not None and hasattr(xt, "columns") and list(xt.columns) != names:
            xt = xt[names]
        features = np.ascontiguousarray(np.asarray(xt, dtype=np.float32))
        proba = np.zeros((features.shape[0], n_classes), dtype=np.float64)
        for tree in trees:  # same order and sum as ForestClassifier.predict_proba
            proba += tree.predict(features)[:, :n_classes]
        proba /= len(trees)
        positive = proba[:, 1] if n_classes == 2 else None
        return np.asarray(classes.take(np.argmax(proba, axis=1), axis=0)), positive

    return predict


def positive_proba(model: Any, x: Any) -> np.ndarray | None:
    """P(second class) of a binary classifier with predict_proba, else None."""
    classes = getattr(model, "classes_", None)
    if classes is None or len(classes) != 2 or not hasattr(model, "predict_proba"):
        return None
    return np.asarray(model.predict_proba(x))[:, 1]


class Predictor:
    """``model.predict`` with the verified fast path when the model allows one.

    Called only from the single predict thread, so the verification countdown needs no lock.
    """

    def __init__(self, model: Any) -> None:
        self._model = model
        self._fast = compile_forest(model)
        self._verify_left = VERIFY_BATCHES if self._fast is not None else 0

    @property
    def fast(self) -> bool:
        """Whether the fast path is (still) in use."""
        return self._fast is not None

    def predict(self, x: Any) -> np.ndarray:
        """Class labels for the rows of ``x``."""
        return self.predict_scored(x, proba=False)[0]

    def predict_scored(self, x: Any, *, proba: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Class labels and, if ``proba`` and the model has them, positive-class probabilities.

        The forest fast path computes probabilities anyway (free); other models pay one extra
        ``predict_proba`` call, so callers ask only when they record them (the inference log).
        """
        if self._fast is None:
            labels = np.asarray(self._model.predict(x))
            return labels, positive_proba(self._model, x) if proba else None
        fast, positive = self._fast(x)
        if self._verify_left > 0:
            # model.predict may refuse the batch (it raises before any answer is given): only a
            # batch both paths answered counts as checked, so refused input cannot use them up.
            reference = np.asarray(self._model.predict(x))
            self._verify_left -= 1
            if not np.array_equal(fast, reference):
                logger.warning("forest fast path disagrees with model.predict; turned off")
                self._fast = None
                return reference, positive_proba(self._model, x) if proba else None
        return fast, positive if proba else None
