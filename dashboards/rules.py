"""Prometheus recording and alerting rules, as plain data.

Every file written from `RULE_FILES` is a Prometheus rule file whose `groups:` list is also a valid
PrometheusRule `spec.groups` (the platform's Monitoring component wraps it unchanged).
"""

from dataclasses import dataclass, field
from typing import Any

from mlops_contract import metrics as m
from mlops_contract import signals
from mlops_contract.registry import OFFLINE_ACCURACY_METRIC
from mlops_contract.triggers import AccuracyDropTrigger, Triggers

from dashboards import names as n


@dataclass(frozen=True, kw_only=True)
class Record:
    """A recording rule."""

    record: str
    expr: str
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The rule as it appears in a rule file."""
        rule: dict[str, Any] = {"record": self.record, "expr": self.expr}
        if self.labels:
            rule["labels"] = dict(self.labels)
        return rule


@dataclass(frozen=True, kw_only=True)
class Alert:
    """An alerting rule with the annotations every alert on this platform carries."""

    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        """The rule as it appears in a rule file, with its runbook link."""
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity},
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook_url": runbook_url(self.name),
            },
        }


def runbook_url(alert: str) -> str:
    """Link to docs/runbooks/<alert>.md under the repository's base URL."""
    return f"{n.RUNBOOK_BASE_URL}/{alert}.md"


def _ratio_of_status(status_regex: str) -> str:
    # `or 0 * rate(all)` keeps the numerator defined (as 0) when no request had this status yet,
    # so the ratio is 0 instead of "no data"; and it stays defined when every request failed.
    return (
        f"sum by (job) (\n"
        f'  rate({m.REQUESTS_TOTAL}{{{n.SERVING_API}, status=~"{status_regex}"}}[5m])\n'
        f"  or 0 * rate({m.REQUESTS_TOTAL}{{{n.SERVING_API}}}[5m])\n"
        f")\n"
        f"/ sum by (job) (rate({m.REQUESTS_TOTAL}{{{n.SERVING_API}}}[5m]))"
    )


def _all_down(job: str) -> str:
    # `absent(...) * 0` makes "no target at all" report the same value (0 up) as "all targets down".
    return f'(sum by (job) (up{{job="{job}"}}) == 0) or (absent(up{{job="{job}"}}) * 0)'


SERVING_RECORDS = [
    Record(
        record=n.REQUESTS_RATE,
        expr=f"sum by (job) (rate({m.REQUESTS_TOTAL}{{{n.SERVING_API}}}[5m]))",
    ),
    Record(record=n.ERROR_RATIO, expr=_ratio_of_status("5..")),
    Record(record=n.CLIENT_ERROR_RATIO, expr=_ratio_of_status("4..")),
    *(
        Record(
            record=n.LATENCY_QUANTILE,
            expr=(
                f"histogram_quantile({q}, sum by (job, le) "
                f"(rate({m.REQUEST_DURATION}_bucket{{{n.SERVING_PREDICT}}}[5m])))"
            ),
            labels={"quantile": q},
        )
        for q in ("0.5", "0.95", "0.99")
    ),
]

SERVING_ALERTS = [
    Alert(
        name="ServingDown",
        expr=_all_down(m.JOB_SERVING),
        for_="2m",
        severity="critical",
        summary="No model-serving replica is up",
        description=(
            '{{ $value | printf "%.0f" }} replicas of {{ $labels.job }} answer Prometheus scrapes '
            "for 2 minutes: predictions are failing."
        ),
    ),
    Alert(
        name="ServingErrorRatioHigh",
        expr=f"{n.ERROR_RATIO} > {n.ERROR_RATIO_SLO}",
        for_="5m",
        severity="critical",
        summary="Model serving returns too many 5xx responses",
        description=(
            "{{ $value | humanizePercentage }} of API requests to {{ $labels.job }} returned 5xx "
            f"over 5 minutes (SLO: at most {n.ERROR_RATIO_SLO:.0%})."
        ),
    ),
    Alert(
        name="ServingClientErrorRatioHigh",
        expr=f"{n.CLIENT_ERROR_RATIO} > {n.CLIENT_ERROR_RATIO_MAX}",
        for_="10m",
        severity="warning",
        summary="Model serving rejects many requests (4xx)",
        description=(
            "{{ $value | humanizePercentage }} of API requests to {{ $labels.job }} were rejected "
            f"with 4xx over 5 minutes (limit {n.CLIENT_ERROR_RATIO_MAX:.0%}): callers send "
            "payloads the model signature refuses."
        ),
    ),
    Alert(
        name="ServingLatencyP99High",
        expr=f'{n.LATENCY_QUANTILE}{{quantile="0.99"}} > {n.LATENCY_P99_BUDGET_SECONDS}',
        for_="10m",
        severity="warning",
        summary="Model serving p99 latency is over budget",
        description=(
            "p99 prediction latency of {{ $labels.job }} is {{ $value | humanizeDuration }} "
            f"(budget {n.LATENCY_P99_BUDGET_SECONDS * 1000:.0f}ms)."
        ),
    ),
    Alert(
        name="ModelLoadFailures",
        expr=(
            f"sum by (job) (increase({m.MODEL_LOAD_FAILURES_TOTAL}{{{n.SERVING}}}[10m])) "
            f"> {n.MODEL_LOAD_FAILURES_MAX}"
        ),
        for_="5m",
        severity="warning",
        summary="Model serving cannot poll the registry or load the model",
        description=(
            '{{ $value | printf "%.0f" }} failed registry polls or model loads on '
            "{{ $labels.job }} in 10 minutes; serving keeps the last good model."
        ),
    ),
    # The counter's series appears at 1 on a version's first refusal and a refused version is not
    # tried again, so `increase()` would see no change: the alert holds while any replica has
    # refused the version since it started (a restart clears it, once the alias is fixed).
    Alert(
        name="ModelArtifactDigestMismatch",
        expr=(f"max by (job, model_version) ({m.MODEL_DIGEST_MISMATCH_TOTAL}{{{n.SERVING}}}) > 0"),
        for_="0m",
        severity="critical",
        summary="Serving refused a model version whose artifact is not the one training registered",
        description=(
            "{{ $labels.job }} refused model version {{ $labels.model_version }} "
            '(refusals on one replica: {{ $value | printf "%.0f" }}): the digest of '
            "its downloaded artifact differs from the one training recorded at registration, "
            "or none was recorded. Serving keeps the model it had; the artifact store may have "
            "been tampered with."
        ),
    ),
]


def quality_records() -> list[Record]:
    """Drift, online vs offline accuracy, labelled rows: the signals the triggers read."""
    return [
        Record(record=n.DRIFT_PSI, expr=signals.max_psi()),
        Record(record=n.ONLINE_ACCURACY, expr=signals.online_accuracy()),
        Record(record=n.OFFLINE_ACCURACY, expr=signals.offline_accuracy()),
        # Matched on every label the two keep (job, model_version): only the champion has an
        # offline figure, so only the champion has a drop.
        Record(
            record=n.ACCURACY_DROP,
            expr=AccuracyDropTrigger.drop_promql(n.ONLINE_ACCURACY, n.OFFLINE_ACCURACY),
        ),
        Record(record=n.LABELLED_ROWS, expr=signals.labelled_rows()),
        Record(
            record=n.RETRAIN_SUCCESS_AGE,
            expr=f"time() - max by (job) ({m.RETRAIN_LAST_SUCCESS}{{{n.RETRAIN}}})",
        ),
    ]


_STALE_HOURS = n.RETRAIN_STALE_SECONDS // 3600


# How long a retrain trigger's condition must hold before its alert fires. A stack may shorten it
# (the dev stack and the sandbox do, so the loop can be watched in minutes).
TRIGGER_HOLD = "15m"
_UNIT_WORDS = {"s": "second", "m": "minute", "h": "hour"}


def _in_words(duration: str) -> str:
    """`15m` -> `15 minutes`, `1h` -> `1 hour` (alert descriptions read as prose)."""
    number, unit = int(duration[:-1]), _UNIT_WORDS[duration[-1]]
    return f"{number} {unit}{'' if number == 1 else 's'}"


def quality_alerts(triggers: Triggers, hold: str = TRIGGER_HOLD) -> list[Alert]:
    """Drift and accuracy drop (the retrain triggers, stack thresholds), then retrain health."""
    drift, accuracy = triggers.drift, triggers.accuracy
    return [
        Alert(
            name="FeatureDriftHigh",
            expr=drift.promql(n.DRIFT_PSI),
            for_=hold,
            severity="warning",
            summary="Input feature drifted from the training distribution",
            description=(
                "PSI of feature {{ $labels.feature }} on {{ $labels.job }} is "
                '{{ $value | printf "%.3f" }} '
                f"for {_in_words(hold)} "
                f"(threshold {drift.max_psi:g}): live inputs no longer look like training data."
            ),
        ),
        Alert(
            name="OnlineAccuracyDrop",
            expr=accuracy.promql(n.ACCURACY_DROP, n.LABELLED_ROWS, on=signals.ACCURACY_LABELS),
            for_=hold,
            severity="warning",
            summary="Online accuracy fell below the champion's offline score",
            description=(
                "Online accuracy of champion version {{ $labels.model_version }} (from the "
                "inference log) is {{ $value | humanizePercentage }} below its offline "
                f"{OFFLINE_ACCURACY_METRIC} (allowed {accuracy.max_drop:.0%}, at least "
                f"{accuracy.min_labelled} labelled rows); this is the retrain trigger."
            ),
        ),
        Alert(
            name="ModelStale",
            expr=(
                f"{n.RETRAIN_SUCCESS_AGE} > {n.RETRAIN_STALE_SECONDS}\n"
                f"or absent_over_time({m.RETRAIN_LAST_SUCCESS}{{{n.RETRAIN}}}"
                f"[{_STALE_HOURS}h])"
            ),
            for_="10m",
            severity="warning",
            summary="No successful retrain within the schedule plus margin",
            description=(
                "{{ if lt $value 2.0 }}No successful retrain was recorded in the last "
                f"{_STALE_HOURS}h"
                "{{ else }}The last successful retrain was {{ $value | humanizeDuration }} ago"
                "{{ end }} (schedule "
                f"{n.RETRAIN_SCHEDULE_SECONDS // 3600}h + "
                f"margin {n.RETRAIN_MARGIN_SECONDS // 3600}h)."
            ),
        ),
        Alert(
            name="RetrainFailed",
            expr=(
                f"(time() - max by (job) ({m.RETRAIN_LAST_RUN}{{{n.RETRAIN}}}))\n"
                "and on (job) (max by (job) "
                f'({m.RETRAIN_LAST_OUTCOME}{{{n.RETRAIN}, outcome="failed"}}) == 1)'
            ),
            for_="0m",
            severity="warning",
            summary="The last retrain run failed",
            description=(
                "The last retrain run of {{ $labels.job }} finished "
                "{{ $value | humanizeDuration }} ago with outcome failed; "
                "the champion is unchanged."
            ),
        ),
    ]


# Jobs without a dedicated "down" alert; serving and MLflow have ServingDown and MLflowDown.
_MISSING_JOBS = [j for j in n.SCRAPED_JOBS if j not in (m.JOB_SERVING, m.JOB_MLFLOW)]

PLATFORM_ALERTS = [
    Alert(
        name="MLflowDown",
        expr=_all_down(m.JOB_MLFLOW),
        for_="2m",
        severity="critical",
        summary="The MLflow tracking server and registry are down",
        description=(
            '{{ $value | printf "%.0f" }} MLflow servers ({{ $labels.job }}) answer Prometheus '
            "scrapes for 2 minutes: training cannot log or register, "
            "serving cannot follow the alias."
        ),
    ),
    Alert(
        name="ScrapeTargetMissing",
        expr="up == 0\n"
        + "".join(f'or (absent(up{{job="{j}"}}) * 0)\n' for j in _MISSING_JOBS).rstrip("\n"),
        for_="5m",
        severity="warning",
        summary="A scrape target is down or missing",
        description=(
            "Prometheus has no successful scrape of job {{ $labels.job }}"
            "{{ with $labels.instance }} ({{ . }}){{ end }} for 5 minutes (up = {{ $value }}); "
            "its panels and alerts are blind."
        ),
    ),
]


def _file(groups: list[tuple[str, list[Record] | list[Alert]]]) -> dict[str, Any]:
    return {
        "groups": [
            {"name": name, "rules": [rule.to_dict() for rule in rules]} for name, rules in groups
        ]
    }


def build_rule_files(
    triggers: Triggers | None = None, hold: str = TRIGGER_HOLD
) -> dict[str, dict[str, Any]]:
    """Every rule file, with the retrain triggers' thresholds (the contract's defaults if None).

    The committed files under dashboards/rules use the defaults; the platform program builds
    its PrometheusRule with the stack's own thresholds, the same ones its CronJob decides on,
    and the stack's hold time (`for:`) for the two trigger alerts.
    """
    triggers = triggers or Triggers()
    return {
        "serving.yaml": _file(
            [("mlops-serving.rules", SERVING_RECORDS), ("mlops-serving.alerts", SERVING_ALERTS)]
        ),
        "quality.yaml": _file(
            [
                ("mlops-quality.rules", quality_records()),
                ("mlops-quality.alerts", quality_alerts(triggers, hold)),
            ]
        ),
        "platform.yaml": _file([("mlops-platform.alerts", PLATFORM_ALERTS)]),
    }


RULE_FILES: dict[str, dict[str, Any]] = build_rule_files()

ALERTS: list[Alert] = [*SERVING_ALERTS, *quality_alerts(Triggers()), *PLATFORM_ALERTS]
