"""Prometheus job names and metric names: exported by the apps, read by rules, dashboards, retrain.

Counter names are given without the `_total` suffix prometheus-client appends; `*_TOTAL` is the
exposed series name that queries use.
"""

from typing import Final

# Prometheus job names; ServiceMonitors, scrape configs and rules use these.
JOB_SERVING: Final = "serving"
JOB_MLFLOW: Final = "mlflow"
JOB_OBJECT_STORE: Final = "object-store"
JOB_POSTGRES: Final = "postgres"
JOB_PUSHGATEWAY: Final = "pushgateway"
JOB_PROMETHEUS: Final = "prometheus"
# The retrain CronJob pushes with this job label; the Pushgateway is scraped with honor_labels.
JOB_RETRAIN: Final = "retrain"

# Serving (/metrics).
REQUESTS: Final = "serving_requests"
REQUESTS_TOTAL: Final = f"{REQUESTS}_total"
REQUEST_DURATION: Final = "serving_request_duration_seconds"
BATCH_SIZE: Final = "serving_batch_size_rows"
INFLIGHT: Final = "serving_inflight_requests"
MODEL_INFO: Final = "serving_model_info"
MODEL_VERSION: Final = "serving_model_version"
OFFLINE_ACCURACY: Final = "serving_model_offline_accuracy_ratio"
MODEL_LOADS: Final = "serving_model_loads"
MODEL_LOADS_TOTAL: Final = f"{MODEL_LOADS}_total"
MODEL_LOAD_FAILURES: Final = "serving_model_load_failures"
MODEL_LOAD_FAILURES_TOTAL: Final = f"{MODEL_LOAD_FAILURES}_total"
REGISTRY_UP: Final = "serving_registry_up"
# Versions refused because their downloaded artifact's digest is not the one training recorded
# (or none was recorded); labelled model_version. Serving keeps the model it had.
MODEL_DIGEST_MISMATCH: Final = "serving_model_digest_mismatch"
MODEL_DIGEST_MISMATCH_TOTAL: Final = f"{MODEL_DIGEST_MISMATCH}_total"
LAST_LOAD_TIMESTAMP: Final = "serving_model_last_load_timestamp_seconds"
PREDICTIONS: Final = "serving_predictions"
PREDICTIONS_TOTAL: Final = f"{PREDICTIONS}_total"
FEATURE_DRIFT_PSI: Final = "serving_feature_drift_psi"
DRIFT_WINDOW_ROWS: Final = "serving_drift_window_rows"
# Labels received on /feedback (no label: a replica cannot tell right from wrong for an id
# another replica answered; the inference log's join does).
FEEDBACK: Final = "serving_feedback"
FEEDBACK_TOTAL: Final = f"{FEEDBACK}_total"

# Retrain (pushed to the Pushgateway with job=JOB_RETRAIN).
RETRAIN_LAST_RUN: Final = "retrain_last_run_timestamp_seconds"
RETRAIN_LAST_SUCCESS: Final = "retrain_last_success_timestamp_seconds"
RETRAIN_LAST_OUTCOME: Final = "retrain_last_outcome"
RETRAIN_LAST_DURATION: Final = "retrain_last_duration_seconds"
RETRAIN_OUTCOMES: Final = ("skipped", "promoted", "rejected", "failed")

# Serving's inference log (/metrics; docs/inference-log.md). `kind` is predictions or labels.
INFERENCE_LOG_ENABLED: Final = "serving_inference_log_enabled"
INFERENCE_LOG_ROWS: Final = "serving_inference_log_rows"
INFERENCE_LOG_ROWS_TOTAL: Final = f"{INFERENCE_LOG_ROWS}_total"
INFERENCE_LOG_DROPPED: Final = "serving_inference_log_dropped_rows"
INFERENCE_LOG_DROPPED_TOTAL: Final = f"{INFERENCE_LOG_DROPPED}_total"
INFERENCE_LOG_FLUSH_FAILURES: Final = "serving_inference_log_flush_failures"
INFERENCE_LOG_FLUSH_FAILURES_TOTAL: Final = f"{INFERENCE_LOG_FLUSH_FAILURES}_total"
INFERENCE_LOG_BUFFERED: Final = "serving_inference_log_buffered_rows"
INFERENCE_LOG_LAST_FLUSH: Final = "serving_inference_log_last_flush_timestamp_seconds"

# The one online accuracy: computed by `retrain` from the joined inference log (predictions with
# their labels, per model version, over the retrain window) and pushed with job=JOB_RETRAIN and a
# `model_version` label. The OnlineAccuracyDrop alert and the retrain decision read these figures.
ONLINE_ACCURACY_LOGGED: Final = "retrain_online_accuracy_ratio"
OFFLINE_ACCURACY_LOGGED: Final = "retrain_offline_accuracy_ratio"
LABELLED_ROWS_LOGGED: Final = "retrain_labelled_rows"
