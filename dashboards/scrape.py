"""The scrape jobs the dashboards and rules expect: job name, metrics path, label handling.

The platform's ServiceMonitors and the live test's Prometheus config are both derived from these,
so a renamed job or path breaks a test instead of silently emptying a panel.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dashboards import names as n


@dataclass(frozen=True, kw_only=True)
class ScrapeJob:
    """One Prometheus job: where its metrics live and whether pushed labels win."""

    job: str
    metrics_path: str = "/metrics"
    # The Pushgateway must keep the pushed job="retrain" label instead of its own job label.
    honor_labels: bool = False


SCRAPE_JOBS: tuple[ScrapeJob, ...] = (
    ScrapeJob(job=n.JOB_SERVING),
    ScrapeJob(job=n.JOB_MLFLOW),  # `mlflow server --expose-prometheus` serves /metrics
    ScrapeJob(job=n.JOB_OBJECT_STORE),
    ScrapeJob(job=n.JOB_POSTGRES),  # an exporter (CloudNativePG's, or postgres_exporter)
    ScrapeJob(job=n.JOB_PUSHGATEWAY, honor_labels=True),
    ScrapeJob(job=n.JOB_PROMETHEUS),
)


def prometheus_config(
    targets: Mapping[str, Sequence[str]],
    scrape_interval: str = "15s",
    evaluation_interval: str = "15s",
) -> dict[str, Any]:
    """A prometheus.yml with one static job per SCRAPE_JOBS entry that has targets."""
    unknown = set(targets) - {job.job for job in SCRAPE_JOBS}
    if unknown:
        raise ValueError(f"targets: unknown jobs {sorted(unknown)}; known: {n.SCRAPED_JOBS}")
    return {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": evaluation_interval,
        },
        "scrape_configs": [
            {
                "job_name": job.job,
                "metrics_path": job.metrics_path,
                "honor_labels": job.honor_labels,
                "static_configs": [{"targets": list(targets[job.job])}],
            }
            for job in SCRAPE_JOBS
            if targets.get(job.job)
        ],
    }
