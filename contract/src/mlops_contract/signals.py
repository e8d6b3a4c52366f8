"""The PromQL of the signals retraining and alerting decide on, one expression per signal.

The recording rules record these expressions; `retrain` reads the same figures (drift through
Prometheus; the accuracy figures it computes itself, from the inference log, and pushes), so the
alert and the retrain decision decide on the same numbers.

- Drift is measured by serving (each replica's PSI per feature against the champion's training
  reference): the fleet's figure is the largest over replicas.
- Online accuracy is computed by `retrain` from the joined inference log (predictions with their
  labels from every replica, per model version, over RETRAIN_WINDOW_MINUTES) and pushed to the
  Pushgateway with job=retrain and a `model_version` label, beside the version's offline
  accuracy (champion only) and its labelled-row count. Each run replaces the previous figures,
  so a version no longer in the window disappears. The signals keep `job` and `model_version`.
"""

from typing import Final

from mlops_contract import metrics as m

SERVING_SELECTOR: Final = f'job="{m.JOB_SERVING}"'
RETRAIN_SELECTOR: Final = f'job="{m.JOB_RETRAIN}"'
# The labels the accuracy signals keep: an online figure is compared with the offline figure
# and the labelled rows of the same model version.
ACCURACY_LABELS: Final = ("job", "model_version")
# The Pushgateway group of the accuracy figures (beside `job`): its own group, replaced whole by
# each run (PUT), apart from the run outcome metrics, which are added to (POST).
ACCURACY_GROUPING_KEY: Final = {"source": "inference_log"}
_BY: Final = ", ".join(ACCURACY_LABELS)


def max_psi(selector: str = SERVING_SELECTOR) -> str:
    """Largest drift PSI per feature across replicas (`max` over features gives the signal)."""
    return f"max by (job, feature) ({m.FEATURE_DRIFT_PSI}{{{selector}}})"


def online_accuracy(selector: str = RETRAIN_SELECTOR) -> str:
    """Online accuracy per model version, from the joined inference log over the window."""
    return f"max by ({_BY}) ({m.ONLINE_ACCURACY_LOGGED}{{{selector}}})"


def offline_accuracy(selector: str = RETRAIN_SELECTOR) -> str:
    """The champion version's offline accuracy (its test_accuracy): the baseline of a drop."""
    return f"max by ({_BY}) ({m.OFFLINE_ACCURACY_LOGGED}{{{selector}}})"


def labelled_rows(selector: str = RETRAIN_SELECTOR) -> str:
    """Labelled inference-log rows per model version over the window (the minimum-rows guard)."""
    return f"max by ({_BY}) ({m.LABELLED_ROWS_LOGGED}{{{selector}}})"
