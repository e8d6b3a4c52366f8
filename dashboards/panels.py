"""The three dashboards: Model serving, Model quality, Platform."""

from typing import Any

from mlops_contract import metrics as m
from mlops_contract import signals
from mlops_contract.registry import OFFLINE_ACCURACY_METRIC
from mlops_contract.triggers import Triggers

from dashboards import names as n
from dashboards.grafana import Panel, Target, dashboard

RATE = "$__rate_interval"
# The labels the accuracy figures keep; the champion is the version with an offline figure.
_BY = ", ".join(signals.ACCURACY_LABELS)


def _serving_panels() -> list[Panel]:
    return [
        Panel(
            title="Replicas up",
            description="Serving pods that answer Prometheus scrapes.",
            kind="stat",
            width=4,
            height=4,
            targets=[Target(expr=f'sum(up{{job="{m.JOB_SERVING}"}})')],
        ),
        Panel(
            title="Loaded model",
            description="Model name, version and alias each pod serves.",
            kind="stat",
            # The value is always 1; the labels are the information.
            extra_options={"textMode": "name"},
            width=8,
            height=4,
            targets=[
                Target(
                    expr=f"max by (model_name, model_version, model_alias) "
                    f"({m.MODEL_INFO}{{{n.SERVING}}})",
                    legend="{{model_name}} v{{model_version}} @{{model_alias}}",
                )
            ],
        ),
        Panel(
            title="5xx error ratio (5m)",
            description=f"Share of API requests answered with 5xx; SLO {n.ERROR_RATIO_SLO:.0%}.",
            kind="stat",
            unit="percentunit",
            width=6,
            height=4,
            threshold=n.ERROR_RATIO_SLO,
            targets=[Target(expr=f"max({n.ERROR_RATIO})")],
        ),
        Panel(
            title="Registry reachable",
            description="1 when every pod's last poll of MLflow succeeded.",
            kind="stat",
            width=6,
            height=4,
            targets=[Target(expr=f"min({m.REGISTRY_UP}{{{n.SERVING}}})")],
        ),
        Panel(
            title="Traffic by route and status",
            description="Requests per second by route and HTTP status.",
            unit="reqps",
            targets=[
                Target(
                    expr=f"sum by (route, status) "
                    f"(rate({m.REQUESTS_TOTAL}{{{n.SERVING}}}[{RATE}]))",
                    legend="{{route}} {{status}}",
                )
            ],
        ),
        Panel(
            title="Error ratios (5m)",
            description="5xx (server) and 4xx (rejected input) share of API requests.",
            unit="percentunit",
            threshold=n.ERROR_RATIO_SLO,
            targets=[
                Target(expr=n.ERROR_RATIO, legend="5xx"),
                Target(expr=n.CLIENT_ERROR_RATIO, legend="4xx"),
            ],
        ),
        Panel(
            title="Prediction latency p50 / p95 / p99",
            description=(
                f"Latency of /predict and /invocations; p99 budget "
                f"{n.LATENCY_P99_BUDGET_SECONDS * 1000:.0f} ms."
            ),
            unit="s",
            threshold=n.LATENCY_P99_BUDGET_SECONDS,
            targets=[Target(expr=n.LATENCY_QUANTILE, legend="p{{quantile}}")],
        ),
        Panel(
            title="Micro-batch size",
            description="Rows per model predict call: concurrent requests are batched together.",
            targets=[
                Target(
                    expr=f"sum(rate({m.BATCH_SIZE}_sum{{{n.SERVING}}}[{RATE}])) / "
                    f"sum(rate({m.BATCH_SIZE}_count{{{n.SERVING}}}[{RATE}]))",
                    legend="mean rows",
                ),
                Target(
                    expr=f"histogram_quantile(0.95, sum by (le) "
                    f"(rate({m.BATCH_SIZE}_bucket{{{n.SERVING}}}[{RATE}])))",
                    legend="p95 rows",
                ),
            ],
        ),
        Panel(
            title="Model version over time",
            description="Registered version each pod serves; steps are champion swaps.",
            targets=[
                Target(
                    expr=f"max by (instance) ({m.MODEL_VERSION}{{{n.SERVING}}})",
                    legend="{{instance}}",
                )
            ],
        ),
        Panel(
            title="Saturation: in-flight requests",
            description="Requests in progress per pod; one uvicorn worker per pod.",
            targets=[
                Target(
                    expr=f"sum by (instance) ({m.INFLIGHT}{{{n.SERVING}}})",
                    legend="{{instance}}",
                )
            ],
        ),
        Panel(
            title="Model loads and load failures",
            description="Successful (re)loads and failed registry polls or loads.",
            targets=[
                Target(
                    expr=f"sum(increase({m.MODEL_LOADS_TOTAL}{{{n.SERVING}}}[{RATE}]))",
                    legend="loads",
                ),
                Target(
                    expr=f"sum(increase({m.MODEL_LOAD_FAILURES_TOTAL}{{{n.SERVING}}}[{RATE}]))",
                    legend="failures",
                ),
            ],
        ),
        Panel(
            title="Versions refused: artifact digest mismatch",
            description=(
                "Refusals per model version since each pod started: the downloaded artifact's "
                "digest was not the one training recorded (or none was). Above 0 pages."
            ),
            threshold=1,
            targets=[
                Target(
                    # `or vector(0)`: a flat 0 rather than "no data" while nothing was refused.
                    expr=f"sum by (model_version) ({m.MODEL_DIGEST_MISMATCH_TOTAL}{{{n.SERVING}}})"
                    " or vector(0)",
                    legend="v{{model_version}}",
                )
            ],
        ),
    ]


def _quality_panels(triggers: Triggers) -> list[Panel]:
    drift, accuracy = triggers.drift, triggers.accuracy
    return [
        Panel(
            title="Online accuracy",
            description=(
                "Champion's accuracy on labelled inference-log rows over the retrain window "
                "(computed and pushed by each retrain run)."
            ),
            kind="stat",
            unit="percentunit",
            width=6,
            height=4,
            targets=[Target(expr=f"{n.ONLINE_ACCURACY} and on ({_BY}) {n.OFFLINE_ACCURACY}")],
        ),
        Panel(
            title="Champion offline accuracy",
            description=f"{OFFLINE_ACCURACY_METRIC} of the champion version's training run.",
            kind="stat",
            unit="percentunit",
            width=6,
            height=4,
            targets=[Target(expr=n.OFFLINE_ACCURACY)],
        ),
        Panel(
            title="Champion changes (range)",
            description="How often the served version changed in the selected time range.",
            kind="stat",
            width=6,
            height=4,
            targets=[Target(expr=f"max(changes({m.MODEL_VERSION}{{{n.SERVING}}}[$__range]))")],
        ),
        Panel(
            title="Last retrain outcome",
            description="Outcome of the last retrain CronJob run (pushed to the Pushgateway).",
            kind="stat",
            extra_options={"textMode": "name"},
            width=6,
            height=4,
            targets=[
                Target(
                    expr=f"max by (outcome) ({m.RETRAIN_LAST_OUTCOME}{{{n.RETRAIN}}}) == 1",
                    legend="{{outcome}}",
                )
            ],
        ),
        Panel(
            title="Per-feature drift (PSI)",
            description=(
                f"PSI of the sliding input window vs the training reference; alert above "
                f"{drift.max_psi} for 15 minutes."
            ),
            threshold=drift.max_psi,
            targets=[Target(expr=n.DRIFT_PSI, legend="{{feature}}")],
        ),
        Panel(
            title="Online vs offline accuracy",
            description=(
                "Online accuracy per model version (inference log, retrain window) and the "
                "champion's offline score it is held to."
            ),
            unit="percentunit",
            targets=[
                Target(expr=n.ONLINE_ACCURACY, legend="online v{{model_version}}"),
                Target(expr=n.OFFLINE_ACCURACY, legend="offline v{{model_version}} (champion)"),
            ],
        ),
        Panel(
            title="Relative accuracy drop (retrain trigger)",
            description=(
                f"1 - online/offline of the champion; above {accuracy.max_drop:.0%} with at "
                f"least {accuracy.min_labelled} labelled rows the retrain job retrains."
            ),
            unit="percentunit",
            threshold=accuracy.max_drop,
            targets=[Target(expr=n.ACCURACY_DROP, legend="drop v{{model_version}}")],
        ),
        Panel(
            title="Prediction distribution",
            description="Predictions per second by class and model version.",
            unit="ops",
            targets=[
                Target(
                    expr=f"sum by (model_version, class) "
                    f"(rate({m.PREDICTIONS_TOTAL}{{{n.SERVING}}}[{RATE}]))",
                    legend="v{{model_version}} class {{class}}",
                )
            ],
        ),
        Panel(
            title="Labels",
            description=(
                "Labels received on /feedback per second (all replicas), and labelled "
                "inference-log rows per model version in the retrain window."
            ),
            targets=[
                Target(
                    expr=f"sum(rate({m.FEEDBACK_TOTAL}{{{n.SERVING}}}[{RATE}]))",
                    legend="labels/s received",
                ),
                Target(expr=n.LABELLED_ROWS, legend="labelled rows v{{model_version}}"),
            ],
        ),
        Panel(
            title="Drift window size",
            description="Rows currently in each pod's drift window (PSI is noisy when small).",
            targets=[
                Target(
                    expr=f"sum by (instance) ({m.DRIFT_WINDOW_ROWS}{{{n.SERVING}}})",
                    legend="{{instance}}",
                )
            ],
        ),
        Panel(
            title="Retrain runs",
            description="Age of the last retrain run and of the last successful one.",
            unit="s",
            threshold=float(n.RETRAIN_STALE_SECONDS),
            targets=[
                Target(expr=n.RETRAIN_SUCCESS_AGE, legend="since last success"),
                Target(
                    expr=f"time() - max({m.RETRAIN_LAST_RUN}{{{n.RETRAIN}}})",
                    legend="since last run",
                ),
            ],
        ),
        Panel(
            title="Retrain duration",
            description="Wall time of the last retrain run.",
            unit="s",
            targets=[Target(expr=f"max({m.RETRAIN_LAST_DURATION}{{{n.RETRAIN}}})")],
        ),
    ]


def _up_stat(title: str, job: str) -> Panel:
    return Panel(
        title=title,
        description=f'Targets of job "{job}" that answer scrapes.',
        kind="stat",
        width=6,
        height=4,
        targets=[Target(expr=f'sum(up{{job="{job}"}})')],
    )


def _platform_panels() -> list[Panel]:
    mlflow = f'job="{m.JOB_MLFLOW}"'
    return [
        _up_stat("MLflow up", m.JOB_MLFLOW),
        _up_stat("Postgres up", m.JOB_POSTGRES),
        _up_stat("Object store up", m.JOB_OBJECT_STORE),
        Panel(
            title="Retrain CronJob: time since last success",
            description=(
                f"From {m.RETRAIN_LAST_SUCCESS}; stale after {n.RETRAIN_STALE_SECONDS // 3600}h."
            ),
            kind="stat",
            unit="s",
            width=6,
            height=4,
            threshold=float(n.RETRAIN_STALE_SECONDS),
            targets=[Target(expr=n.RETRAIN_SUCCESS_AGE)],
        ),
        Panel(
            title="MLflow request rate by status",
            description="HTTP requests per second to the MLflow server.",
            unit="reqps",
            targets=[
                Target(
                    expr=f"sum by (status) (rate(mlflow_http_request_total{{{mlflow}}}[{RATE}]))",
                    legend="{{status}}",
                )
            ],
        ),
        Panel(
            title="MLflow latency p50 / p99",
            description="MLflow server request latency (prometheus_flask_exporter histogram).",
            unit="s",
            targets=[
                Target(
                    expr=f"histogram_quantile({q}, sum by (le) "
                    f"(rate(mlflow_http_request_duration_seconds_bucket{{{mlflow}}}[{RATE}])))",
                    legend=f"p{q[2:]}",
                )
                for q in ("0.50", "0.99")
            ],
        ),
        Panel(
            title="Scrape health by job",
            description="Fraction of each job's targets that Prometheus scrapes successfully.",
            unit="percentunit",
            targets=[Target(expr="avg by (job) (up)", legend="{{job}}")],
        ),
        Panel(
            title="Scrape duration by job",
            description="Slowest scrape per job.",
            unit="s",
            targets=[Target(expr="max by (job) (scrape_duration_seconds)", legend="{{job}}")],
        ),
        Panel(
            title="Firing alerts",
            description="Alerts currently firing, by name.",
            targets=[
                Target(
                    expr='sum by (alertname, severity) (ALERTS{alertstate="firing"})',
                    legend="{{alertname}} ({{severity}})",
                )
            ],
        ),
        Panel(
            title="Rule evaluation failures",
            description="Failed rule evaluations in Prometheus (a broken rule pages nobody).",
            targets=[
                Target(
                    expr="sum(rate(prometheus_rule_evaluation_failures_total"
                    f'{{job="{m.JOB_PROMETHEUS}"}}[{RATE}]))',
                    legend="failures/s",
                )
            ],
        ),
    ]


def dashboards(triggers: Triggers | None = None) -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON for every dashboard.

    The quality panels draw their red lines at the retrain triggers' thresholds (the contract's
    defaults if None), the same ones `dashboards.rules.build_rule_files` alerts on.
    """
    triggers = triggers or Triggers()
    return {
        "model-serving.json": dashboard(
            "mlops-model-serving",
            "Model serving",
            "Traffic, errors, latency, batching, model version and saturation of the model server.",
            _serving_panels(),
        ),
        "model-quality.json": dashboard(
            "mlops-model-quality",
            "Model quality",
            "Drift, online accuracy, predictions, champion changes and retrain outcomes.",
            _quality_panels(triggers),
        ),
        "platform.json": dashboard(
            "mlops-platform",
            "Platform",
            "MLflow, Postgres, object store, scrape health and the retrain CronJob.",
            _platform_panels(),
        ),
    }
