"""When the data has drifted and when accuracy has dropped: one definition of each.

The alert rules (`dashboards/rules.py`, through `promql`) and the retrain decision
(`training.retrain`, through `fires`) both build on these classes, so they cannot disagree on
when a trigger fires. The defaults are the platform's thresholds; a stack may set its own
(`training.triggers` in the stack file), and the program passes the same values to the rules and
to the CronJob.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# PSI above 0.2 is the usual "significant shift" line.
DEFAULT_MAX_PSI: Final = 0.2
# Relative: online accuracy below 95% of the champion's offline accuracy.
DEFAULT_MAX_ACCURACY_DROP: Final = 0.05
# Fewer labelled rows than this in the window make online accuracy noise.
DEFAULT_MIN_LABELLED: Final = 20

# Retraining on the inference log (training `retrain`; the stack may set its own).
# Labelled rows from the last hour give the online accuracy, training set and holdout.
DEFAULT_RETRAIN_WINDOW_MINUTES: Final = 60
# Fewer labelled rows than this in the window: too few to train and judge a candidate.
DEFAULT_RETRAIN_MIN_ROWS: Final = 200
# Train and judge on at most the most recent 3000 labelled rows (2 minutes at 25 labels/s):
# after a drift the candidate learns the new data, not the hour before it.
DEFAULT_RETRAIN_MAX_ROWS: Final = 3000

# Retrain policies: which triggers may start a retrain (any one suffices).
POLICY_ALWAYS: Final = "always"
POLICY_DRIFT: Final = "drift"
POLICY_ACCURACY: Final = "accuracy"
POLICIES: Final = (POLICY_ALWAYS, POLICY_DRIFT, POLICY_ACCURACY)


def _promql_number(value: float) -> str:
    """The threshold as PromQL reads it back to the same float (`:g` would round to 6 digits)."""
    return repr(float(value))


@dataclass(frozen=True, kw_only=True)
class DriftTrigger:
    """Drift: the largest per-feature PSI is strictly above max_psi."""

    max_psi: float = DEFAULT_MAX_PSI

    def __post_init__(self) -> None:
        """Refuse a threshold that could never or would always fire."""
        if not self.max_psi > 0:
            raise ValueError(f"max_psi must be > 0, got {self.max_psi}")

    def fires(self, psi: float | None) -> bool:
        """True when psi (None: no data) is above the threshold."""
        return psi is not None and psi > self.max_psi

    def promql(self, psi: str) -> str:
        """The same condition over a PromQL expression yielding PSI values."""
        return f"{psi} > {_promql_number(self.max_psi)}"


@dataclass(frozen=True, kw_only=True)
class AccuracyDropTrigger:
    """Accuracy drop: 1 - online/offline strictly above max_drop, with enough labelled rows."""

    max_drop: float = DEFAULT_MAX_ACCURACY_DROP
    min_labelled: int = DEFAULT_MIN_LABELLED

    def __post_init__(self) -> None:
        """Refuse thresholds outside their meaning."""
        if not 0 <= self.max_drop < 1:
            raise ValueError(f"max_drop is a fraction in [0, 1), got {self.max_drop}")
        if self.min_labelled < 1:
            raise ValueError(f"min_labelled must be >= 1, got {self.min_labelled}")

    @staticmethod
    def relative_drop(online: float, offline: float) -> float:
        """How far online accuracy is below offline, as a fraction of offline."""
        return 1 - online / offline

    def fires(self, *, online: float | None, offline: float | None, labelled: float | None) -> bool:
        """True when every figure is known, labelled >= min_labelled and the drop is too big."""
        if online is None or offline is None or labelled is None or offline <= 0:
            return False
        if labelled < self.min_labelled:
            return False
        return self.relative_drop(online, offline) > self.max_drop

    @staticmethod
    def drop_promql(online: str, offline: str) -> str:
        """The relative drop over PromQL expressions for online and offline accuracy."""
        return f"1 - {online} / {offline}"

    def promql(self, drop: str, labelled: str, on: tuple[str, ...] = ("job",)) -> str:
        """The same condition over PromQL: the drop expression and the labelled-rows expression.

        `on` names the labels a drop and its labelled rows are matched on (the signals keep
        `job` and `model_version`: each version's drop is guarded by that version's rows).
        Division by an offline accuracy of 0 gives +Inf or NaN in PromQL; `fires` refuses it, and
        a model with offline accuracy 0 is never promoted, so the two agree where it matters.
        """
        return (
            f"{drop} > {_promql_number(self.max_drop)}\n"
            f"and on ({', '.join(on)}) {labelled} >= {self.min_labelled}"
        )


@dataclass(frozen=True, kw_only=True)
class Triggers:
    """The retrain triggers of one stack: both thresholds and the policy that uses them."""

    policy: tuple[str, ...] = (POLICY_DRIFT, POLICY_ACCURACY)
    drift: DriftTrigger = DriftTrigger()
    accuracy: AccuracyDropTrigger = AccuracyDropTrigger()

    def __post_init__(self) -> None:
        """Refuse unknown or empty policies."""
        unknown = [p for p in self.policy if p not in POLICIES]
        if unknown or not self.policy:
            raise ValueError(
                f"retrain policy must be a non-empty subset of {', '.join(POLICIES)}, "
                f"got {','.join(self.policy) or '(empty)'}"
            )
