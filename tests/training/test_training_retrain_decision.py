"""Unit tests: the retrain decision is the contract's triggers plus a reason line."""

from __future__ import annotations

import pytest
from mlops_contract import triggers as contract
from training import retrain
from training.monitoring import Signals

pytestmark = pytest.mark.unit

DEFAULTS = retrain.parse(
    "drift,accuracy",
    contract.DEFAULT_MAX_PSI,
    contract.DEFAULT_MAX_ACCURACY_DROP,
    contract.DEFAULT_MIN_LABELLED,
)


def signals(
    psi: float | None = None,
    online: float | None = None,
    offline: float | None = None,
    labelled: float | None = None,
) -> Signals:
    return Signals(
        max_psi=psi,
        online_accuracy=online,
        offline_accuracy=offline,
        labelled=labelled,
        window="5 min",
    )


def test_parse_builds_the_contract_triggers() -> None:
    triggers = retrain.parse(" drift , accuracy", 0.3, 0.1, 7)
    assert triggers == contract.Triggers(
        policy=("drift", "accuracy"),
        drift=contract.DriftTrigger(max_psi=0.3),
        accuracy=contract.AccuracyDropTrigger(max_drop=0.1, min_labelled=7),
    )
    assert retrain.needs_prometheus(triggers)
    assert not retrain.needs_prometheus(retrain.parse("always", 0.3, 0.1, 7))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("weekly", 0.2, 0.05, 20), "non-empty subset"),
        (("", 0.2, 0.05, 20), "non-empty subset"),
        (("drift", 0.0, 0.05, 20), "max_psi"),
        (("accuracy", 0.2, 1.5, 20), "max_drop"),
        (("accuracy", 0.2, 0.05, 0), "min_labelled"),
    ],
)
def test_parse_refuses_what_the_contract_refuses(
    args: tuple[str, float, float, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        retrain.parse(*args)


def test_always_retrains_without_signals() -> None:
    go, reason = retrain.should_retrain(retrain.parse("always", 0.2, 0.05, 20), None)
    assert (go, reason) == (True, "policy 'always': scheduled retrain")


def test_drift_fires_only_strictly_above_the_threshold() -> None:
    drift_only = retrain.parse("drift", 0.2, 0.05, 20)
    assert retrain.should_retrain(drift_only, signals(psi=0.35)) == (
        True,
        "drift: max PSI 0.350 > 0.200",
    )
    assert retrain.should_retrain(drift_only, signals(psi=0.2)) == (False, "max PSI 0.200 <= 0.200")
    go, reason = retrain.should_retrain(drift_only, signals())
    assert not go
    assert "no drift data" in reason


def test_accuracy_drop_is_relative_and_says_why() -> None:
    go, reason = retrain.should_retrain(
        DEFAULTS, signals(psi=0.05, online=0.80, offline=0.91, labelled=35)
    )
    assert go
    assert (
        reason == "accuracy drop: online 0.80 is 12.1% below offline 0.91 (> 5%), 35 labelled rows"
    )


def test_a_small_relative_drop_does_not_fire_though_the_absolute_one_would_have() -> None:
    # 0.60 vs 0.64: 0.04 absolute, but 6.25% relative > 5%: fires (the old absolute rule missed it)
    assert retrain.should_retrain(DEFAULTS, signals(online=0.60, offline=0.64, labelled=50))[0]
    # 0.875 vs 0.92: 0.045 absolute, 4.9% relative: does not fire
    go, reason = retrain.should_retrain(DEFAULTS, signals(online=0.875, offline=0.92, labelled=50))
    assert not go
    assert "4.9% below offline 0.92 (<= 5%)" in reason


def test_too_few_labelled_rows_never_fire_however_large_the_drop() -> None:
    low = signals(psi=0.01, online=0.30, offline=0.95, labelled=19)
    go, reason = retrain.should_retrain(DEFAULTS, low)
    assert not go
    assert "only 19 labelled rows of the champion in the last 5 min (< 20)" in reason
    assert not retrain.should_retrain(DEFAULTS, signals(online=0.30, offline=0.95))[0]
    # no labelled row of the champion at all, or no champion yet: no figure, no decision
    go, reason = retrain.should_retrain(DEFAULTS, signals(psi=0.01, offline=0.95, labelled=0))
    assert not go
    assert "no labelled rows of the champion in the last 5 min yet" in reason
    go, reason = retrain.should_retrain(DEFAULTS, signals(psi=0.01, online=0.5, labelled=50))
    assert not go
    assert "no champion offline accuracy yet" in reason
    # at the minimum exactly, the drop counts (the alert rule's `>= min_labelled`)
    assert retrain.should_retrain(DEFAULTS, signals(online=0.30, offline=0.95, labelled=20))[0]


@pytest.mark.parametrize(
    ("online", "offline", "labelled"),
    [
        (0.80, 0.91, 35),
        (0.875, 0.92, 50),
        (0.30, 0.95, 19),
        (0.30, 0.95, 20),
        (0.95, 0.90, 100),
        (None, 0.90, 100),
        (0.50, None, 100),
    ],
)
def test_decision_agrees_with_the_contract_trigger(
    online: float | None, offline: float | None, labelled: float
) -> None:
    accuracy_only = retrain.parse("accuracy", 0.2, 0.05, 20)
    go, _ = retrain.should_retrain(
        accuracy_only, signals(online=online, offline=offline, labelled=labelled)
    )
    assert go == accuracy_only.accuracy.fires(online=online, offline=offline, labelled=labelled)


def test_either_trigger_suffices_and_both_reasons_are_given_on_a_skip() -> None:
    assert retrain.should_retrain(DEFAULTS, signals(psi=0.5, online=0.9, offline=0.9, labelled=1))[
        0
    ]
    go, reason = retrain.should_retrain(
        DEFAULTS, signals(psi=0.1, online=0.9, offline=0.91, labelled=40)
    )
    assert not go
    assert reason == (
        "max PSI 0.100 <= 0.200; online 0.90 is 1.1% below offline 0.91 (<= 5%), 40 labelled rows"
    )


def test_no_signals_skips() -> None:
    assert retrain.should_retrain(DEFAULTS, None) == (False, "no signals read")
