"""Unit tests: the promotion gate is a pure decision."""

from __future__ import annotations

import math

import pytest
from training.gate import GatePolicy, decide
from training.model import Evaluation

pytestmark = pytest.mark.unit


def ev(accuracy: float, latency: float = 0.01) -> Evaluation:
    return Evaluation(
        accuracy=accuracy, f1=accuracy, roc_auc=accuracy, latency_ms_per_row=latency, rows=100
    )


POLICY = GatePolicy(floor=0.7, max_regression=0.02, max_latency_ms_per_row=1.0)


def test_first_version_promotes_when_it_clears_the_floor() -> None:
    d = decide(ev(0.8), None, POLICY)
    assert d.promote
    assert "first version" in d.reason
    assert d.champion_score is None


def test_first_version_below_the_floor_is_rejected() -> None:
    d = decide(ev(0.6), None, POLICY)
    assert not d.promote
    assert "below the floor" in d.reason


def test_candidate_within_tolerance_promotes_and_beyond_is_rejected() -> None:
    assert decide(ev(0.89), ev(0.90), POLICY).promote
    rejected = decide(ev(0.85), ev(0.90), POLICY)
    assert not rejected.promote
    assert "regresses more than 0.0200 from the champion's 0.9000" in rejected.reason
    assert rejected.champion_score == pytest.approx(0.90)


def test_latency_budget_rejects_a_slow_candidate() -> None:
    d = decide(ev(0.95, latency=2.5), ev(0.90), POLICY)
    assert not d.promote
    assert "exceeds the budget" in d.reason


def test_nan_score_never_passes_the_floor() -> None:
    assert not decide(ev(math.nan), None, POLICY).promote


@pytest.mark.parametrize(
    "kwargs",
    [{"metric": "loss"}, {"floor": 1.5}, {"max_regression": -0.1}, {"max_latency_ms_per_row": 0}],
)
def test_gate_policy_refuses_meaningless_thresholds(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="gate"):
        GatePolicy(**kwargs)  # type: ignore[arg-type]
