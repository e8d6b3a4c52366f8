"""What only the dashboards and rules own: selectors, recording-rule names, SLOs, runbook URL.

Facts shared with the apps and the platform program (job names, metric names, routes, the drift
and accuracy-drop thresholds) come from the contract package, `mlops_contract`; the rules and
panels import them from there, so this module cannot disagree with the apps' exporters.
"""

from typing import Final

from mlops_contract import metrics as m
from mlops_contract import serving, signals

# Every job the platform deploys a scrape target for: a missing one means broken wiring.
SCRAPED_JOBS: Final = (
    m.JOB_SERVING,
    m.JOB_MLFLOW,
    m.JOB_OBJECT_STORE,
    m.JOB_POSTGRES,
    m.JOB_PUSHGATEWAY,
    m.JOB_PROMETHEUS,
)

# Route regexes for the error and latency SLIs (probes and /metrics scrapes would dilute them).
API_ROUTES: Final = "|".join(serving.API_ROUTES)
PREDICT_ROUTES: Final = "|".join(serving.PREDICT_ROUTES)

SERVING: Final = signals.SERVING_SELECTOR
SERVING_API: Final = f'{SERVING}, route=~"{API_ROUTES}"'
SERVING_PREDICT: Final = f'{SERVING}, route=~"{PREDICT_ROUTES}"'
RETRAIN: Final = f'job="{m.JOB_RETRAIN}"'

# Recording rules (level:metric:operations); the metric part is the contract's name where the
# rule keeps the metric's meaning.
REQUESTS_RATE: Final = f"job:{m.REQUESTS}:rate5m"
ERROR_RATIO: Final = "job:serving_request_errors:ratio_rate5m"
CLIENT_ERROR_RATIO: Final = "job:serving_request_client_errors:ratio_rate5m"
LATENCY_QUANTILE: Final = f"job_quantile:{m.REQUEST_DURATION}:histogram_quantile_rate5m"
DRIFT_PSI: Final = f"job_feature:{m.FEATURE_DRIFT_PSI}:max"
# The accuracy figures `retrain` computes from the inference log, per model version.
ONLINE_ACCURACY: Final = f"job_model_version:{m.ONLINE_ACCURACY_LOGGED}:max"
OFFLINE_ACCURACY: Final = f"job_model_version:{m.OFFLINE_ACCURACY_LOGGED}:max"
ACCURACY_DROP: Final = "job_model_version:retrain_online_accuracy:relative_drop"
LABELLED_ROWS: Final = f"job_model_version:{m.LABELLED_ROWS_LOGGED}:max"
RETRAIN_SUCCESS_AGE: Final = "job:retrain_last_success:age_seconds"

# Thresholds only the alerts use; each is also the red line on the matching dashboard panel.
# (Drift and accuracy-drop thresholds are the retrain triggers': mlops_contract.triggers.)
ERROR_RATIO_SLO: Final = 0.01  # 99% of API requests answer without a 5xx
CLIENT_ERROR_RATIO_MAX: Final = 0.10  # above this, callers and the model signature disagree
LATENCY_P99_BUDGET_SECONDS: Final = 0.25  # below `mlflow models serve` p99 (~225 ms) with margin
MODEL_LOAD_FAILURES_MAX: Final = 2  # a few failed polls in 10 minutes are a blip, more are not
# Retrain schedule (daily CronJob) plus a margin for a slow or retried run.
RETRAIN_SCHEDULE_SECONDS: Final = 24 * 3600
RETRAIN_MARGIN_SECONDS: Final = 6 * 3600
RETRAIN_STALE_SECONDS: Final = RETRAIN_SCHEDULE_SECONDS + RETRAIN_MARGIN_SECONDS

# Forks point this at their own repository (then run `python -m dashboards.generate`).
RUNBOOK_BASE_URL: Final = "https://github.com/mlops-platform/mlops-platform/blob/main/docs/runbooks"
