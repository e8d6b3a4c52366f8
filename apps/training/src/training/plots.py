"""Figures logged with each run: confusion matrix and feature importance."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: jobs run without a display

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def confusion_matrix_figure(confusion: list[list[int]]) -> Figure:
    """A 2x2 confusion matrix with counts in the cells."""
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(confusion, cmap="Blues")
    for i, row in enumerate(confusion):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center")
    ax.set_xticks([0, 1], labels=["free", "congested"])
    ax.set_yticks([0, 1], labels=["free", "congested"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title("confusion matrix (test split)")
    fig.tight_layout()
    return fig


def feature_importance_figure(importances: dict[str, float]) -> Figure:
    """Horizontal bars of impurity importance, largest on top."""
    ordered = sorted(importances.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(ordered) + 1))
    ax.barh([k for k, _ in ordered], [v for _, v in ordered])
    ax.set_xlabel("importance")
    ax.set_title("feature importance")
    fig.tight_layout()
    return fig


def close(fig: Figure) -> None:
    """Free a figure once logged (long-lived processes would otherwise accumulate them)."""
    plt.close(fig)
