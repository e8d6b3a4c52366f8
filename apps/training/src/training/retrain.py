"""The CronJob entrypoint's decision: retrain on schedule, on drift, or on an accuracy drop.

Drift is the largest PSI serving measures (read from Prometheus); the accuracy figures are the
champion's, computed by `retrain` from the inference log (the figures it pushes for the alert).

Whether a trigger fires is the contract's `fires` (mlops_contract.triggers), the same definition
the alert rules are built from; this module only adds `always` handling and the reason line.
"""

from __future__ import annotations

from mlops_contract.triggers import (
    POLICY_ACCURACY,
    POLICY_ALWAYS,
    POLICY_DRIFT,
    AccuracyDropTrigger,
    DriftTrigger,
    Triggers,
)

from training.monitoring import Signals
from training.settings import parse_policy


def parse(policy: str, max_psi: float, max_accuracy_drop: float, min_labelled: int) -> Triggers:
    """Build the triggers from the flag/env form, e.g. `drift,accuracy`; ValueError if invalid."""
    return Triggers(
        policy=parse_policy(policy),
        drift=DriftTrigger(max_psi=max_psi),
        accuracy=AccuracyDropTrigger(max_drop=max_accuracy_drop, min_labelled=min_labelled),
    )


def needs_prometheus(triggers: Triggers) -> bool:
    """Only the drift and accuracy triggers read Prometheus."""
    return any(p != POLICY_ALWAYS for p in triggers.policy)


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


def _drift(trigger: DriftTrigger, psi: float | None) -> tuple[bool, str]:
    if psi is None:
        return False, "no drift data (no drift PSI series)"
    if trigger.fires(psi):
        return True, f"drift: max PSI {psi:.3f} > {trigger.max_psi:.3f}"
    return False, f"max PSI {psi:.3f} <= {trigger.max_psi:.3f}"


def _accuracy(trigger: AccuracyDropTrigger, s: Signals) -> tuple[bool, str]:
    online, offline, labelled = s.online_accuracy, s.offline_accuracy, s.labelled
    if offline is None or offline <= 0:
        return False, "no champion offline accuracy yet"
    if online is None:
        return False, f"no labelled rows of the champion in the last {s.window} yet"
    rows = 0.0 if labelled is None else labelled
    limit = f"{trigger.max_drop * 100:g}%"
    if rows < trigger.min_labelled:
        return False, (
            f"only {rows:.0f} labelled rows of the champion in the last {s.window} "
            f"(< {trigger.min_labelled}): online accuracy is not measured yet"
        )
    drop = trigger.relative_drop(online, offline)
    figures = (
        f"online {online:.2f} is {_percent(drop)} below offline {offline:.2f}"
        if drop >= 0
        else f"online {online:.2f} is {_percent(-drop)} above offline {offline:.2f}"
    )
    if trigger.fires(online=online, offline=offline, labelled=labelled):
        return True, f"accuracy drop: {figures} (> {limit}), {rows:.0f} labelled rows"
    return False, f"{figures} (<= {limit}), {rows:.0f} labelled rows"


def should_retrain(triggers: Triggers, signals: Signals | None) -> tuple[bool, str]:
    """Decide and say why; the first trigger that fires wins."""
    if POLICY_ALWAYS in triggers.policy:
        return True, "policy 'always': scheduled retrain"
    if signals is None:
        return False, "no signals read"
    reasons: list[str] = []
    for policy in (POLICY_DRIFT, POLICY_ACCURACY):
        if policy not in triggers.policy:
            continue
        if policy == POLICY_DRIFT:
            fires, reason = _drift(triggers.drift, signals.max_psi)
        else:
            fires, reason = _accuracy(triggers.accuracy, signals)
        if fires:
            return True, reason
        reasons.append(reason)
    return False, "; ".join(reasons)
