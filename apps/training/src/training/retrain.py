"""The CronJob entrypoint's decision: retrain on schedule, on drift, or on an accuracy drop."""

from __future__ import annotations

from dataclasses import dataclass

from training.monitoring import Signals

MODES = ("always", "drift", "accuracy")


@dataclass(frozen=True, kw_only=True)
class RetrainPolicy:
    """Which triggers count (any of them suffices) and their thresholds."""

    modes: tuple[str, ...] = ("always",)
    max_psi: float = 0.2
    max_accuracy_drop: float = 0.05

    def __post_init__(self) -> None:
        """Refuse unknown modes and meaningless thresholds."""
        unknown = [m for m in self.modes if m not in MODES]
        if unknown or not self.modes:
            raise ValueError(
                f"retrain policy must be a comma-separated subset of {', '.join(MODES)}, "
                f"got {','.join(self.modes) or '(empty)'}"
            )
        if self.max_psi <= 0 or self.max_accuracy_drop < 0:
            raise ValueError("retrain thresholds: max_psi must be > 0, max_accuracy_drop >= 0")

    @classmethod
    def parse(cls, modes: str, max_psi: float, max_accuracy_drop: float) -> RetrainPolicy:
        """Build from the flag/env form, e.g. `drift,accuracy`."""
        parts = tuple(m.strip() for m in modes.split(",") if m.strip())
        return cls(modes=parts, max_psi=max_psi, max_accuracy_drop=max_accuracy_drop)

    @property
    def needs_prometheus(self) -> bool:
        """Only the drift and accuracy triggers read Prometheus."""
        return any(m != "always" for m in self.modes)


def should_retrain(policy: RetrainPolicy, signals: Signals | None) -> tuple[bool, str]:
    """Decide and say why; the first trigger that fires wins."""
    reasons: list[str] = []
    if "always" in policy.modes:
        return True, "policy 'always': scheduled retrain"
    if signals is None:
        return False, "no signals read from Prometheus"
    if "drift" in policy.modes:
        if signals.max_psi is None:
            reasons.append("no drift data (serving_feature_drift_psi has no series)")
        elif signals.max_psi > policy.max_psi:
            return True, f"drift: max PSI {signals.max_psi:.3f} > {policy.max_psi:.3f}"
        else:
            reasons.append(f"max PSI {signals.max_psi:.3f} <= {policy.max_psi:.3f}")
    if "accuracy" in policy.modes:
        online, offline = signals.online_accuracy, signals.offline_accuracy
        if online is None or offline is None:
            reasons.append("no online/offline accuracy data yet")
        elif offline - online > policy.max_accuracy_drop:
            return True, (
                f"accuracy drop: online {online:.3f} vs offline {offline:.3f} "
                f"(> {policy.max_accuracy_drop:.3f})"
            )
        else:
            reasons.append(
                f"online accuracy {online:.3f} within {policy.max_accuracy_drop:.3f} "
                f"of offline {offline:.3f}"
            )
    return False, "; ".join(reasons)
