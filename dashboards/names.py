"""Names and thresholds shared by the alert rules, the recording rules and the dashboards.

Metric and job names come from docs/contracts.md; change them there first.
"""

from typing import Final

# Prometheus job names (docs/contracts.md); scrape configs and ServiceMonitors use these.
JOB_SERVING: Final = "serving"
JOB_MLFLOW: Final = "mlflow"
JOB_OBJECT_STORE: Final = "object-store"
JOB_POSTGRES: Final = "postgres"
JOB_PUSHGATEWAY: Final = "pushgateway"
JOB_PROMETHEUS: Final = "prometheus"
# The retrain CronJob pushes with job="retrain"; the Pushgateway is scraped with honor_labels.
JOB_RETRAIN: Final = "retrain"

# Every job the platform deploys a scrape target for: a missing one means broken wiring.
SCRAPED_JOBS: Final = (
    JOB_SERVING,
    JOB_MLFLOW,
    JOB_OBJECT_STORE,
    JOB_POSTGRES,
    JOB_PUSHGATEWAY,
    JOB_PROMETHEUS,
)

# Routes that carry model traffic; probes and /metrics scrapes would dilute error and latency SLIs.
API_ROUTES: Final = "/predict|/invocations|/feedback"
PREDICT_ROUTES: Final = "/predict|/invocations"

SERVING: Final = f'job="{JOB_SERVING}"'
SERVING_API: Final = f'job="{JOB_SERVING}", route=~"{API_ROUTES}"'
SERVING_PREDICT: Final = f'job="{JOB_SERVING}", route=~"{PREDICT_ROUTES}"'
RETRAIN: Final = f'job="{JOB_RETRAIN}"'

# Recording rules (level:metric:operations).
REQUESTS_RATE: Final = "job:serving_requests:rate5m"
ERROR_RATIO: Final = "job:serving_request_errors:ratio_rate5m"
CLIENT_ERROR_RATIO: Final = "job:serving_request_client_errors:ratio_rate5m"
LATENCY_QUANTILE: Final = "job_quantile:serving_request_duration_seconds:histogram_quantile_rate5m"
DRIFT_PSI: Final = "job_feature:serving_feature_drift_psi:max"
ONLINE_ACCURACY: Final = "job:serving_online_accuracy:avg"
OFFLINE_ACCURACY: Final = "job:serving_model_offline_accuracy:avg"
ACCURACY_DROP: Final = "job:serving_online_accuracy:relative_drop"
LABELLED_FEEDBACK: Final = "job:serving_labelled_feedback:increase1h"
RETRAIN_SUCCESS_AGE: Final = "job:retrain_last_success:age_seconds"

# Thresholds. Each is the alert's threshold and the red line on the matching dashboard panel.
ERROR_RATIO_SLO: Final = 0.01  # 99% of API requests answer without a 5xx
CLIENT_ERROR_RATIO_MAX: Final = 0.10  # above this, callers and the model signature disagree
LATENCY_P99_BUDGET_SECONDS: Final = 0.25  # below `mlflow models serve` p99 (~225 ms) with margin
DRIFT_PSI_THRESHOLD: Final = 0.2  # PSI > 0.2 is the usual "significant shift" line
ACCURACY_DROP_MAX: Final = 0.05  # relative: online < 95% of the champion's offline test_accuracy
MIN_LABELLED_FEEDBACK: Final = 20  # fewer labelled rows per hour make online accuracy noise
MODEL_LOAD_FAILURES_MAX: Final = 2  # a few failed polls in 10 minutes are a blip, more are not
# Retrain schedule (daily CronJob) plus a margin for a slow or retried run.
RETRAIN_SCHEDULE_SECONDS: Final = 24 * 3600
RETRAIN_MARGIN_SECONDS: Final = 6 * 3600
RETRAIN_STALE_SECONDS: Final = RETRAIN_SCHEDULE_SECONDS + RETRAIN_MARGIN_SECONDS

# Forks point this at their own repository (then run `python -m dashboards.generate`).
RUNBOOK_BASE_URL: Final = "https://github.com/mlops-platform/mlops-platform/blob/main/docs/runbooks"
