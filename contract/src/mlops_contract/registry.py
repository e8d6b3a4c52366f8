"""The model registry layout: written by training, read by serving, the bench and the docs."""

from typing import Final

DEFAULT_MODEL_NAME: Final = "traffic-congestion"
# The alias serving follows by default; stacks may name another (one key for both apps).
CHAMPION_ALIAS: Final = "champion"
# Where the alias pointed before the last promotion: the rollback target.
PREVIOUS_ALIAS: Final = "previous"

# Offline metrics logged on every version's source run (on the run's holdout).
OFFLINE_ACCURACY_METRIC: Final = "test_accuracy"
OFFLINE_METRICS: Final = (OFFLINE_ACCURACY_METRIC, "test_f1", "test_roc_auc")
# Training-time distribution of every input feature; serving measures drift against it.
DRIFT_REFERENCE_ARTIFACT: Final = "drift/reference.json"
DRIFT_REFERENCE_SCHEMA: Final = 1
