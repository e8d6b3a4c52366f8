"""The promotion gate: a pure decision from numbers measured on one shared holdout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from training.evaluation import Evaluation

# The gate's defaults, defined once (GatePolicy and the GATE_* settings both use them).
Metric = Literal["accuracy", "f1", "roc_auc"]
METRICS: tuple[Metric, ...] = get_args(Metric)
DEFAULT_METRIC: Metric = "accuracy"
# Below 70% accuracy the model is worse than useful on the synthetic task, whatever the champion.
DEFAULT_FLOOR = 0.7
DEFAULT_MAX_REGRESSION = 0.02
# One core per pod: 5 ms per row keeps a 256-row batch well inside serving's latency budget.
DEFAULT_MAX_LATENCY_MS_PER_ROW = 5.0


@dataclass(frozen=True, kw_only=True)
class GatePolicy:
    """Thresholds: absolute floor, tolerated regression vs the champion, latency budget."""

    metric: str = DEFAULT_METRIC
    floor: float = DEFAULT_FLOOR
    max_regression: float = DEFAULT_MAX_REGRESSION
    max_latency_ms_per_row: float = DEFAULT_MAX_LATENCY_MS_PER_ROW

    def __post_init__(self) -> None:
        """Refuse thresholds that cannot mean anything."""
        if self.metric not in METRICS:
            raise ValueError(f"gate metric must be accuracy, f1 or roc_auc, got {self.metric!r}")
        if not 0.0 <= self.floor <= 1.0:
            raise ValueError(f"gate floor must be within [0, 1], got {self.floor}")
        if self.max_regression < 0:
            raise ValueError(f"gate max_regression must be >= 0, got {self.max_regression}")
        if self.max_latency_ms_per_row <= 0:
            raise ValueError(
                f"gate max_latency_ms_per_row must be > 0, got {self.max_latency_ms_per_row}"
            )


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The gate's verdict and the one-line reason for it."""

    promote: bool
    reason: str
    candidate_score: float
    champion_score: float | None
    candidate_latency_ms_per_row: float


def decide(candidate: Evaluation, champion: Evaluation | None, policy: GatePolicy) -> Decision:
    """Promote only if the candidate clears the floor, the regression limit and the latency budget.

    With no champion (the first version) the regression check does not apply.
    """
    score = candidate.metric(policy.metric)
    best = champion.metric(policy.metric) if champion is not None else None
    m = policy.metric

    def verdict(promote: bool, reason: str) -> Decision:
        return Decision(
            promote=promote,
            reason=reason,
            candidate_score=score,
            champion_score=best,
            candidate_latency_ms_per_row=candidate.latency_ms_per_row,
        )

    if not score >= policy.floor:  # written so NaN fails too
        return verdict(False, f"{m} {score:.4f} is below the floor {policy.floor:.4f}")
    if best is not None and score < best - policy.max_regression:
        return verdict(
            False,
            f"{m} {score:.4f} regresses more than {policy.max_regression:.4f} "
            f"from the champion's {best:.4f}",
        )
    if candidate.latency_ms_per_row > policy.max_latency_ms_per_row:
        return verdict(
            False,
            f"latency {candidate.latency_ms_per_row:.4f} ms/row exceeds the budget "
            f"{policy.max_latency_ms_per_row:.4f} ms/row",
        )
    if best is None:
        return verdict(True, f"first version: {m} {score:.4f} clears the floor {policy.floor:.4f}")
    return verdict(
        True,
        f"{m} {score:.4f} vs champion {best:.4f} within tolerance {policy.max_regression:.4f}; "
        f"latency {candidate.latency_ms_per_row:.4f} ms/row within budget",
    )
