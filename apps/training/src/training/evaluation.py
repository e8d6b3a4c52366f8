"""Offline scores of one model on one holdout (kept apart from sklearn so the gate imports fast)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """Offline metrics on a holdout, plus the per-row batch predict latency."""

    accuracy: float
    f1: float
    roc_auc: float
    latency_ms_per_row: float
    rows: int
    confusion: list[list[int]] = field(default_factory=list)

    def metric(self, name: str) -> float:
        """Look a metric up by its short name (accuracy, f1, roc_auc)."""
        return {"accuracy": self.accuracy, "f1": self.f1, "roc_auc": self.roc_auc}[name]

    def as_test_metrics(self) -> dict[str, float]:
        """The registry contract's metric names: test_accuracy, test_f1, test_roc_auc."""
        return {"test_accuracy": self.accuracy, "test_f1": self.f1, "test_roc_auc": self.roc_auc}
