"""The PromQL of the signals retraining and alerting decide on, one expression per signal.

The recording rules record these expressions and `retrain` queries them, so the alert and the
retrain decision read the same figures. Each expression aggregates over every serving replica
`by (job)`; a pod that has no feedback (or no model) yet exports NaN, and `>= 0` drops those
series (NaN compares false) so one idle replica cannot turn the fleet's average into NaN.
"""

from typing import Final

from mlops_contract import metrics as m

SERVING_SELECTOR: Final = f'job="{m.JOB_SERVING}"'
# Labelled feedback is counted over this window: the accuracy figure it guards is rolling too.
LABELLED_WINDOW: Final = "1h"


def max_psi(selector: str = SERVING_SELECTOR) -> str:
    """Largest drift PSI per feature across replicas (`max` over features gives the signal)."""
    return f"max by (job, feature) ({m.FEATURE_DRIFT_PSI}{{{selector}}})"


def online_accuracy(selector: str = SERVING_SELECTOR) -> str:
    """Fleet average of the replicas' rolling online accuracy."""
    return f"avg by (job) ({m.ONLINE_ACCURACY}{{{selector}}} >= 0)"


def offline_accuracy(selector: str = SERVING_SELECTOR) -> str:
    """Fleet average of the loaded champion's offline accuracy (the baseline of a drop)."""
    return f"avg by (job) ({m.OFFLINE_ACCURACY}{{{selector}}} >= 0)"


def labelled_feedback(selector: str = SERVING_SELECTOR) -> str:
    """Labelled feedback rows (correct or incorrect) over LABELLED_WINDOW, fleet-wide."""
    results = "|".join(m.LABELLED_FEEDBACK_RESULTS)
    return (
        f"sum by (job) (increase({m.FEEDBACK_TOTAL}"
        f'{{{selector}, result=~"{results}"}}[{LABELLED_WINDOW}]))'
    )
