"""The loopback scrape configs derived from the rendered dev stack's monitors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from infra.render import RenderedStack
from tests.monitoring_wiring import scrape_configs_from_rendered
from tests.services import promtool_path

TARGETS = {
    "serving": "127.0.0.1:18080",
    "mlflow": "127.0.0.1:15000",
    "object-store": "127.0.0.1:19000",
    "postgres": "127.0.0.1:19187",
    "pushgateway": "127.0.0.1:19091",
}


def test_every_rendered_monitor_becomes_a_loopback_job(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    configs = scrape_configs_from_rendered(rendered_stacks["dev"], TARGETS, interval="1s")
    by_job = {c["job_name"]: c for c in configs}
    assert set(by_job) == set(TARGETS)
    for job, address in TARGETS.items():
        assert by_job[job]["static_configs"] == [{"targets": [address]}]
        assert by_job[job]["scrape_interval"] == "1s"
        assert by_job[job]["scheme"] == "http"
    # dev runs SeaweedFS: metrics on their own port and path.
    assert by_job["object-store"]["metrics_path"] == "/metrics"
    assert by_job["serving"]["metrics_path"] == "/metrics"
    assert by_job["mlflow"]["metrics_path"] == "/metrics"
    assert by_job["pushgateway"]["honor_labels"] is True
    assert by_job["serving"]["honor_labels"] is False


def test_rendered_interval_is_kept_unless_overridden(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    # dev states monitoring.scrapeInterval: 5s; stage keeps the 30s default.
    for stack, interval in (("dev", "5s"), ("stage", "30s")):
        configs = scrape_configs_from_rendered(rendered_stacks[stack], TARGETS)
        assert {c["scrape_interval"] for c in configs} == {interval}


def test_targets_must_match_the_rendered_jobs(rendered_stacks: dict[str, RenderedStack]) -> None:
    partial = {k: v for k, v in TARGETS.items() if k != "postgres"}
    with pytest.raises(ValueError, match=r"missing \['postgres'\]"):
        scrape_configs_from_rendered(rendered_stacks["dev"], partial)
    with pytest.raises(ValueError, match=r"unknown \['redis'\]"):
        scrape_configs_from_rendered(rendered_stacks["dev"], {**TARGETS, "redis": "127.0.0.1:1"})


def test_promtool_accepts_the_derived_config(
    rendered_stacks: dict[str, RenderedStack], tmp_path: Path
) -> None:
    configs = scrape_configs_from_rendered(rendered_stacks["dev"], TARGETS, interval="2s")
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump({"scrape_configs": configs}), encoding="utf-8")
    proc = subprocess.run(
        [promtool_path(), "check", "config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_job_can_have_several_replicas_but_not_none(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    replicas = ["127.0.0.1:18080", "127.0.0.1:18081"]
    configs = scrape_configs_from_rendered(rendered_stacks["dev"], {**TARGETS, "serving": replicas})
    by_job = {c["job_name"]: c for c in configs}
    assert by_job["serving"]["static_configs"] == [{"targets": replicas}]
    assert by_job["mlflow"]["static_configs"] == [{"targets": [TARGETS["mlflow"]]}]
    with pytest.raises(ValueError, match=r"missing \['serving'\]"):
        scrape_configs_from_rendered(rendered_stacks["dev"], {**TARGETS, "serving": []})
