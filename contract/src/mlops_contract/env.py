"""Environment variable names: set by the platform's workloads, read by the apps' settings."""

from typing import Final

# Both apps.
MLFLOW_TRACKING_URI: Final = "MLFLOW_TRACKING_URI"
MODEL_NAME: Final = "MODEL_NAME"
# The alias serving follows and training moves: one value, passed to both.
MODEL_ALIAS: Final = "MODEL_ALIAS"
# The MLflow identity a workload calls the server as (MLflow's own client variables; the
# server runs its basic-auth app, docs/security.md). Set from a Secret, never a literal.
MLFLOW_TRACKING_USERNAME: Final = "MLFLOW_TRACKING_USERNAME"
MLFLOW_TRACKING_PASSWORD: Final = "MLFLOW_TRACKING_PASSWORD"  # noqa: S105  # a name, not a value

# Serving.
MODEL_POLL_INTERVAL_SECONDS: Final = "MODEL_POLL_INTERVAL_SECONDS"

# Training: object store (boto3's own names, so the AWS SDK reads them too).
S3_ENDPOINT_URL: Final = "MLFLOW_S3_ENDPOINT_URL"
AWS_ACCESS_KEY_ID: Final = "AWS_ACCESS_KEY_ID"
AWS_SECRET_ACCESS_KEY: Final = "AWS_SECRET_ACCESS_KEY"  # noqa: S105  # a name, not a value
AWS_DEFAULT_REGION: Final = "AWS_DEFAULT_REGION"
DATASETS_BUCKET: Final = "DATASETS_BUCKET"
# Training `retrain`: where signals are read and outcomes pushed, and the decision's knobs.
PROMETHEUS_URL: Final = "PROMETHEUS_URL"
PUSHGATEWAY_URL: Final = "PUSHGATEWAY_URL"
RETRAIN_POLICY: Final = "RETRAIN_POLICY"
RETRAIN_MAX_PSI: Final = "RETRAIN_MAX_PSI"
RETRAIN_MAX_ACCURACY_DROP: Final = "RETRAIN_MAX_ACCURACY_DROP"
RETRAIN_MIN_LABELLED: Final = "RETRAIN_MIN_LABELLED"
# Lineage: the source commit an image was built from.
GIT_COMMIT: Final = "GIT_COMMIT"

# Serving's inference log (docs/inference-log.md); unset bucket: the log is off.
INFERENCE_LOG_BUCKET: Final = "INFERENCE_LOG_BUCKET"
# Its own S3 endpoint name: MLFLOW_S3_ENDPOINT_URL would also redirect MLflow's artifact client.
INFERENCE_LOG_ENDPOINT_URL: Final = "INFERENCE_LOG_ENDPOINT_URL"
INFERENCE_LOG_FLUSH_SECONDS: Final = "INFERENCE_LOG_FLUSH_SECONDS"
INFERENCE_LOG_FLUSH_ROWS: Final = "INFERENCE_LOG_FLUSH_ROWS"
INFERENCE_LOG_MAX_BUFFERED_ROWS: Final = "INFERENCE_LOG_MAX_BUFFERED_ROWS"
# Names this replica's objects; defaults to HOSTNAME (the pod name, unique per replica).
INFERENCE_LOG_REPLICA: Final = "INFERENCE_LOG_REPLICA"
HOSTNAME: Final = "HOSTNAME"

# Training `retrain` on production data: labelled inference-log rows from the last
# RETRAIN_WINDOW_MINUTES feed the online accuracy, the training set and the holdout; fewer than
# RETRAIN_MIN_ROWS labelled rows: no retrain, and the run says why.
RETRAIN_WINDOW_MINUTES: Final = "RETRAIN_WINDOW_MINUTES"
RETRAIN_MIN_ROWS: Final = "RETRAIN_MIN_ROWS"
# The most recent labelled rows a retrain trains and judges on (a cap, so the candidate learns
# the current data within minutes of a drift however long the window is).
RETRAIN_MAX_ROWS: Final = "RETRAIN_MAX_ROWS"

# Training: where a run is recorded and its data comes from (defaults for the CLI's flags).
MLFLOW_EXPERIMENT_NAME: Final = "MLFLOW_EXPERIMENT_NAME"
# boto3's service-specific endpoint, read when MLFLOW_S3_ENDPOINT_URL is unset.
AWS_ENDPOINT_URL_S3: Final = "AWS_ENDPOINT_URL_S3"
TRAINING_DATA: Final = "TRAINING_DATA"
TRAINING_HOLDOUT_DATA: Final = "TRAINING_HOLDOUT_DATA"
TRAINING_DRIFT: Final = "TRAINING_DRIFT"
# Training: how long the up-front reachability checks wait before failing the job.
TRAINING_MLFLOW_CONNECT_TIMEOUT: Final = "TRAINING_MLFLOW_CONNECT_TIMEOUT"
TRAINING_S3_CONNECT_TIMEOUT: Final = "TRAINING_S3_CONNECT_TIMEOUT"
# Training: the promotion gate's thresholds (`promote` and the last step of `retrain`).
GATE_METRIC: Final = "GATE_METRIC"
GATE_FLOOR: Final = "GATE_FLOOR"
GATE_MAX_REGRESSION: Final = "GATE_MAX_REGRESSION"
GATE_MAX_LATENCY_MS_PER_ROW: Final = "GATE_MAX_LATENCY_MS_PER_ROW"
