"""Every serving metric, defined once; names and labels exactly as in docs/contracts.md."""

from __future__ import annotations

from mlops_contract import inference_log as layout
from mlops_contract import metrics as names
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class ServingMetrics:
    """The app's metrics on their own registry (one per app, so test apps never collide)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "serving_requests", "HTTP requests by route and status code",
            ["route", "status"], registry=r,
        )  # fmt: skip
        self.request_duration = Histogram(
            "serving_request_duration_seconds", "Request latency", ["route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_size = Histogram(
            "serving_batch_size_rows", "Rows per model predict call (micro-batching)",
            buckets=BATCH_BUCKETS, registry=r,
        )  # fmt: skip
        self.inflight = Gauge("serving_inflight_requests", "Requests in progress", registry=r)
        self.model_info = Gauge(
            "serving_model_info", "The loaded model (value is always 1)",
            ["model_name", "model_version", "model_alias"], registry=r,
        )  # fmt: skip
        self.model_version = Gauge(
            "serving_model_version", "Loaded model version number", registry=r
        )
        self.offline_accuracy = Gauge(
            "serving_model_offline_accuracy_ratio",
            "test_accuracy of the loaded version's training run", registry=r,
        )  # fmt: skip
        self.model_loads = Counter("serving_model_loads", "Successful model (re)loads", registry=r)
        self.model_load_failures = Counter(
            "serving_model_load_failures", "Failed registry polls or model loads", registry=r
        )
        self.registry_up = Gauge(
            "serving_registry_up", "1 if the last poll of MLflow succeeded", registry=r
        )
        self.last_load_timestamp = Gauge(
            "serving_model_last_load_timestamp_seconds",
            "Unix time of the last successful model load", registry=r,
        )  # fmt: skip
        self.predictions = Counter(
            "serving_predictions", "Predictions by model version and class",
            ["model_version", "class"], registry=r,
        )  # fmt: skip
        self.feature_drift_psi = Gauge(
            "serving_feature_drift_psi", "PSI of the input window vs the training reference",
            ["feature"], registry=r,
        )  # fmt: skip
        self.drift_window_rows = Gauge(
            "serving_drift_window_rows", "Rows currently in the drift window", registry=r
        )
        self.online_accuracy = Gauge(
            "serving_online_accuracy_ratio", "Rolling accuracy over recent feedback", registry=r
        )
        self.feedback = Counter(
            "serving_feedback", "Feedback labels received by result", ["result"], registry=r
        )
        for result in ("correct", "incorrect", "unknown_id"):
            self.feedback.labels(result=result)  # export zeros before the first feedback
        # The inference log (docs/inference-log.md).
        self.inference_log_enabled = Gauge(
            names.INFERENCE_LOG_ENABLED, "1 if predictions and labels are logged to the store",
            registry=r,
        )  # fmt: skip
        self.inference_log_rows = Counter(
            names.INFERENCE_LOG_ROWS, "Rows written to the inference log by kind", ["kind"],
            registry=r,
        )  # fmt: skip
        self.inference_log_dropped = Counter(
            names.INFERENCE_LOG_DROPPED, "Rows not logged because the buffer was full, by kind",
            ["kind"], registry=r,
        )  # fmt: skip
        self.inference_log_flush_failures = Counter(
            names.INFERENCE_LOG_FLUSH_FAILURES, "Inference log flushes the store refused",
            registry=r,
        )  # fmt: skip
        self.inference_log_buffered = Gauge(
            names.INFERENCE_LOG_BUFFERED, "Rows waiting in memory for the next flush", registry=r
        )
        self.inference_log_last_flush = Gauge(
            names.INFERENCE_LOG_LAST_FLUSH, "Unix time of the last successful flush", registry=r
        )
        for kind in layout.KINDS:  # export zeros before the first row
            self.inference_log_rows.labels(kind=kind)
            self.inference_log_dropped.labels(kind=kind)
