"""The contract's one definition of drift and of an accuracy drop: validation, edges, PromQL."""

from __future__ import annotations

import dataclasses
import math

import pytest
from mlops_contract import metrics as m
from mlops_contract import signals
from mlops_contract.triggers import (
    DEFAULT_MAX_ACCURACY_DROP,
    DEFAULT_MAX_PSI,
    DEFAULT_MIN_LABELLED,
    POLICIES,
    AccuracyDropTrigger,
    DriftTrigger,
    Triggers,
)

pytestmark = pytest.mark.unit


def test_defaults_are_the_platform_thresholds() -> None:
    triggers = Triggers()
    assert triggers.drift.max_psi == DEFAULT_MAX_PSI == 0.2
    assert triggers.accuracy.max_drop == DEFAULT_MAX_ACCURACY_DROP == 0.05
    assert triggers.accuracy.min_labelled == DEFAULT_MIN_LABELLED == 20
    assert set(triggers.policy) == {"drift", "accuracy"}


@pytest.mark.parametrize("max_psi", [0.0, -0.1, math.nan])
def test_drift_trigger_refuses_a_threshold_that_never_or_always_fires(max_psi: float) -> None:
    with pytest.raises(ValueError, match=r"max_psi must be > 0"):
        DriftTrigger(max_psi=max_psi)


@pytest.mark.parametrize("max_drop", [-0.01, 1.0, 1.5, math.nan])
def test_accuracy_trigger_refuses_a_drop_outside_0_to_1(max_drop: float) -> None:
    with pytest.raises(ValueError, match=r"max_drop is a fraction in \[0, 1\)"):
        AccuracyDropTrigger(max_drop=max_drop)


@pytest.mark.parametrize("min_labelled", [0, -5])
def test_accuracy_trigger_refuses_fewer_than_one_labelled_row(min_labelled: int) -> None:
    with pytest.raises(ValueError, match=r"min_labelled must be >= 1"):
        AccuracyDropTrigger(min_labelled=min_labelled)


@pytest.mark.parametrize(
    ("policy", "shown"), [(("drift", "sometimes"), "drift,sometimes"), ((), "(empty)")]
)
def test_triggers_refuse_unknown_or_empty_policies_and_name_the_valid_ones(
    policy: tuple[str, ...], shown: str
) -> None:
    with pytest.raises(ValueError, match=r"always, drift, accuracy") as raised:
        Triggers(policy=policy)
    assert f"got {shown}" in str(raised.value)


def test_every_policy_is_accepted_alone() -> None:
    for policy in POLICIES:
        assert Triggers(policy=(policy,)).policy == (policy,)


def test_triggers_are_frozen_and_keyword_only() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DriftTrigger().max_psi = 0.5  # type: ignore[misc]
    with pytest.raises(TypeError):
        DriftTrigger(0.5)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("psi", "fires"),
    [
        (None, False),
        (math.nan, False),
        (0.0, False),
        (0.2, False),  # at the threshold: not above it
        (math.nextafter(0.2, math.inf), True),
        (0.35, True),
        (math.inf, True),
    ],
)
def test_drift_fires_strictly_above_max_psi(psi: float | None, fires: bool) -> None:
    assert DriftTrigger().fires(psi) is fires


@pytest.mark.parametrize(
    ("online", "offline", "labelled", "fires"),
    [
        (0.5, 1.0, 20, True),
        (0.5, 1.0, 19, False),  # too few labelled rows: noise
        (0.5, 1.0, 19.999, False),
        (0.5, 1.0, None, False),  # no feedback figure
        (None, 1.0, 100, False),  # every replica idle
        (0.5, None, 100, False),  # no model loaded
        (0.5, 0.0, 100, False),  # offline 0 is no baseline
        (0.5, -1.0, 100, False),
        (1.0, 0.9, 100, False),  # online better than offline
        (0.855, 0.9, 20, True),  # 1 - 0.855/0.9 is just above 0.05 in float64
        (0.86, 0.9, 20, False),
    ],
)
def test_accuracy_drop_fires_on_a_relative_drop_with_enough_labels(
    online: float | None, offline: float | None, labelled: float | None, fires: bool
) -> None:
    assert AccuracyDropTrigger().fires(online=online, offline=offline, labelled=labelled) is fires


def test_accuracy_drop_is_relative_not_absolute() -> None:
    # 0.45 vs 0.5 is 5 points absolute but a 10% relative drop: above 5%, so it fires; an
    # absolute reading (0.05) would sit exactly on the threshold and stay quiet.
    assert AccuracyDropTrigger.relative_drop(0.45, 0.5) == pytest.approx(0.1)
    assert AccuracyDropTrigger().fires(online=0.45, offline=0.5, labelled=20)
    # Exactly at max_drop (exact in binary) is not above it.
    trigger = AccuracyDropTrigger(max_drop=0.125, min_labelled=1)
    assert AccuracyDropTrigger.relative_drop(0.875, 1.0) == 0.125
    assert not trigger.fires(online=0.875, offline=1.0, labelled=1)
    assert trigger.fires(online=math.nextafter(0.875, 0), offline=1.0, labelled=1)


def test_promql_of_the_defaults() -> None:
    assert DriftTrigger().promql("psi") == "psi > 0.2"
    assert AccuracyDropTrigger.drop_promql("on", "off") == "1 - on / off"
    assert AccuracyDropTrigger().promql("drop", "rows") == "drop > 0.05\nand on (job) rows >= 20"


@pytest.mark.parametrize("value", [0.123456789, 0.1 + 0.2, 1e-7, 0.3, 0.999999999])
def test_promql_thresholds_read_back_to_the_same_float(value: float) -> None:
    # PromQL must compare against exactly the float `fires` compares against; six significant
    # digits (`:g`) would move the threshold.
    drift = DriftTrigger(max_psi=value).promql("x")
    assert float(drift.removeprefix("x > ")) == value
    first_line = AccuracyDropTrigger(max_drop=value).promql("d", "n").splitlines()[0]
    assert float(first_line.removeprefix("d > ")) == value


def test_custom_min_labelled_reaches_the_promql() -> None:
    text = AccuracyDropTrigger(max_drop=0.1, min_labelled=5).promql("d", "n")
    assert text == "d > 0.1\nand on (job) n >= 5"


def test_drift_is_read_from_serving_and_accuracy_from_the_retrain_push() -> None:
    serving, retrain = f'job="{m.JOB_SERVING}"', f'job="{m.JOB_RETRAIN}"'
    assert serving == signals.SERVING_SELECTOR
    assert retrain == signals.RETRAIN_SELECTOR
    assert signals.max_psi() == f"max by (job, feature) ({m.FEATURE_DRIFT_PSI}{{{serving}}})"
    # Per model version: the Pushgateway's instance and grouping labels are aggregated away.
    by = "max by (job, model_version)"
    assert signals.online_accuracy() == f"{by} ({m.ONLINE_ACCURACY_LOGGED}{{{retrain}}})"
    assert signals.offline_accuracy() == f"{by} ({m.OFFLINE_ACCURACY_LOGGED}{{{retrain}}})"
    assert signals.labelled_rows() == f"{by} ({m.LABELLED_ROWS_LOGGED}{{{retrain}}})"
    assert signals.ACCURACY_LABELS == ("job", "model_version")
    on = AccuracyDropTrigger().promql("d", "n", on=signals.ACCURACY_LABELS)
    assert on == "d > 0.05\nand on (job, model_version) n >= 20"


def test_signals_take_another_selector() -> None:
    other = 'job="canary", namespace="ml"'
    for signal, default in (
        (signals.max_psi, signals.SERVING_SELECTOR),
        (signals.online_accuracy, signals.RETRAIN_SELECTOR),
        (signals.offline_accuracy, signals.RETRAIN_SELECTOR),
        (signals.labelled_rows, signals.RETRAIN_SELECTOR),
    ):
        text = signal(other)
        assert other in text
        assert default not in text
