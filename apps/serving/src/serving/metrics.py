"""Every serving metric, defined once; names from mlops_contract.metrics."""

from __future__ import annotations

from mlops_contract import inference_log as layout
from mlops_contract import metrics as m
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
            m.REQUESTS, "HTTP requests by route and status code",
            ["route", "status"], registry=r,
        )  # fmt: skip
        self.request_duration = Histogram(
            m.REQUEST_DURATION, "Request latency", ["route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_size = Histogram(
            m.BATCH_SIZE, "Rows per model predict call (micro-batching)",
            buckets=BATCH_BUCKETS, registry=r,
        )  # fmt: skip
        self.inflight = Gauge(m.INFLIGHT, "Requests in progress", registry=r)
        self.model_info = Gauge(
            m.MODEL_INFO, "The loaded model (value is always 1)",
            ["model_name", "model_version", "model_alias"], registry=r,
        )  # fmt: skip
        self.model_version = Gauge(m.MODEL_VERSION, "Loaded model version number", registry=r)
        self.offline_accuracy = Gauge(
            m.OFFLINE_ACCURACY,
            "test_accuracy of the loaded version's training run", registry=r,
        )  # fmt: skip
        self.model_loads = Counter(m.MODEL_LOADS, "Successful model (re)loads", registry=r)
        self.model_load_failures = Counter(
            m.MODEL_LOAD_FAILURES, "Failed registry polls or model loads", registry=r
        )
        self.model_digest_mismatch = Counter(
            m.MODEL_DIGEST_MISMATCH,
            "Versions refused: downloaded artifact digest differs from the recorded one or none",
            ["model_version"], registry=r,
        )  # fmt: skip
        self.registry_up = Gauge(
            m.REGISTRY_UP, "1 if the last poll of MLflow succeeded", registry=r
        )
        self.last_load_timestamp = Gauge(
            m.LAST_LOAD_TIMESTAMP,
            "Unix time of the last successful model load", registry=r,
        )  # fmt: skip
        self.predictions = Counter(
            m.PREDICTIONS, "Predictions by model version and class",
            ["model_version", "class"], registry=r,
        )  # fmt: skip
        self.feature_drift_psi = Gauge(
            m.FEATURE_DRIFT_PSI, "PSI of the input window vs the training reference",
            ["feature"], registry=r,
        )  # fmt: skip
        self.drift_window_rows = Gauge(
            m.DRIFT_WINDOW_ROWS, "Rows currently in the drift window", registry=r
        )
        # Labels are scored where all of them meet, in the joined inference log (`retrain`
        # pushes the online accuracy); a replica only counts what it received.
        self.feedback = Counter(m.FEEDBACK, "Labels received on /feedback", registry=r)
        # The inference log (docs/inference-log.md).
        self.inference_log_enabled = Gauge(
            m.INFERENCE_LOG_ENABLED, "1 if predictions and labels are logged to the store",
            registry=r,
        )  # fmt: skip
        self.inference_log_rows = Counter(
            m.INFERENCE_LOG_ROWS, "Rows written to the inference log by kind", ["kind"],
            registry=r,
        )  # fmt: skip
        self.inference_log_dropped = Counter(
            m.INFERENCE_LOG_DROPPED, "Rows not logged because the buffer was full, by kind",
            ["kind"], registry=r,
        )  # fmt: skip
        self.inference_log_flush_failures = Counter(
            m.INFERENCE_LOG_FLUSH_FAILURES, "Inference log flushes the store refused",
            registry=r,
        )  # fmt: skip
        self.inference_log_buffered = Gauge(
            m.INFERENCE_LOG_BUFFERED, "Rows waiting in memory for the next flush", registry=r
        )
        self.inference_log_last_flush = Gauge(
            m.INFERENCE_LOG_LAST_FLUSH, "Unix time of the last successful flush", registry=r
        )
        for kind in layout.KINDS:  # export zeros before the first row
            self.inference_log_rows.labels(kind=kind)
            self.inference_log_dropped.labels(kind=kind)
