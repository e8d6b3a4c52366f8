"""Every pin in infra/versions.py is a release recorded from its upstream repository.

infra/upstream/releases.json is written by scripts/record_upstream.py from clones of the upstream
repositories (and PyPI for MLflow); it records when and at which commit. A pin that upstream never
released (kube-prometheus-stack 81.4.5 was one) fails here instead of at `pulumi up`.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra import versions
from tests.infra.rendering import REPO_ROOT

RELEASES = REPO_ROOT / "infra" / "upstream" / "releases.json"
KPS = versions.KUBE_PROMETHEUS_CHART.version


def _record() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RELEASES.read_text(encoding="utf-8"))
    return data


def _versions(source: dict[str, Any]) -> set[str]:
    return {release["version"] for release in source["releases"]}


def unknown_pins(record: dict[str, Any]) -> list[str]:
    """Pins of versions.py that the record does not list, each with what was looked for."""
    problems = []
    for chart in versions.ALL_CHARTS:
        source = record["charts"].get(chart.chart)
        if source is None:
            problems.append(f"chart {chart.chart}: no upstream record")
        elif chart.version not in _versions(source):
            problems.append(f"chart {chart.chart} {chart.version}: not a recorded release")
    for image in versions.ALL_IMAGES:
        name, tag = image.rsplit(":", 1)
        source = record["images"].get(name)
        if source is None:
            problems.append(f"image {name}: no upstream record")
        elif tag not in _versions(source):
            problems.append(f"image {name}:{tag}: not a recorded release")
    return problems


def test_the_record_says_when_and_where_it_was_taken() -> None:
    record = _record()
    dt.date.fromisoformat(record["recorded_on"])
    for group in ("charts", "images"):
        for name, source in record[group].items():
            assert source["repository"].count("/") == 1, name
            assert source["releases"], f"{name}: no release recorded"
            assert "commit" in source or "via" in source, f"{name}: no commit nor source named"


def test_every_pinned_chart_and_image_is_a_recorded_upstream_release() -> None:
    assert unknown_pins(_record()) == []


def test_the_old_kube_prometheus_stack_pin_was_never_released() -> None:
    releases = _versions(_record()["charts"]["kube-prometheus-stack"])
    assert "81.4.3" in releases
    assert "81.4.5" not in releases


@pytest.mark.parametrize(
    ("group", "name", "expected"),
    [
        ("charts", "kube-prometheus-stack", f"chart kube-prometheus-stack {KPS}"),
        ("images", "quay.io/prometheus/pushgateway", f"image {versions.PUSHGATEWAY_IMAGE}"),
    ],
)
def test_a_pin_missing_from_the_record_is_reported(group: str, name: str, expected: str) -> None:
    record = _record()
    pinned = expected.rsplit(" ", 1)[1].rsplit(":", 1)[-1]
    source = record[group][name]
    source["releases"] = [r for r in source["releases"] if r["version"] != pinned]
    assert unknown_pins(record) == [f"{expected}: not a recorded release"]


def test_the_cnpg_operator_of_the_pinned_chart_is_supported_upstream() -> None:
    record = _record()
    chart = next(
        r
        for r in record["charts"]["cloudnative-pg"]["releases"]
        if r["version"] == versions.CNPG_CHART.version
    )
    minor = ".".join(chart["app_version"].split(".")[:2]) + ".x"
    table = {row["minor"]: row for row in record["operators"]["cloudnative-pg"]["supported"]}
    assert minor in table, f"operator {chart['app_version']} is not in the supported table"
    assert table[minor]["supported"] == "Yes"


def test_minio_is_pinned_to_a_release_that_was_published_as_an_image() -> None:
    minio = _record()["images"]["quay.io/minio/minio"]
    tag = versions.MINIO_IMAGE.rsplit(":", 1)[1]
    assert tag not in {r["version"] for r in minio["source_only"]}
    assert tag == max(_versions(minio)), "the last MinIO release published as an image"


def test_the_postgres_image_uses_the_recommended_tag_form() -> None:
    tag = versions.POSTGRES_IMAGE.rsplit(":", 1)[1]
    minor, kind, distro = tag.split("-")
    assert minor.startswith("17.")
    assert (kind, distro) == ("standard", "trixie")
    recorded = _versions(_record()["images"]["ghcr.io/cloudnative-pg/postgresql"])
    minors = {v.split("-")[0] for v in recorded if v.startswith("17.")}
    newest_17 = max(minors, key=lambda v: int(v.split(".")[1]))
    assert minor == newest_17


def test_the_record_file_is_where_the_script_writes_it() -> None:
    from scripts.record_upstream import OUT

    assert Path(OUT) == RELEASES


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_recording_one_source_rereads_it_and_keeps_the_rest(tmp_path: Path) -> None:
    from scripts.record_upstream import record_only

    repo = tmp_path / "cert-manager" / "cert-manager"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q")
    _git(
        repo,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    for tag in ("v1.0.0", "v1.1.0-alpha.0", "v1.1.0"):
        _git(repo, "tag", tag)
    existing = _record()
    updated = record_only(existing, ["cert-manager"], tmp_path, "2026-01-02", "pip")
    source = updated["charts"]["cert-manager"]
    assert [r["version"] for r in source["releases"]] == ["v1.0.0", "v1.1.0"]
    assert source["releases"][1]["app_version"] == "v1.1.0"
    assert source["recorded_on"] == "2026-01-02"
    untouched = {k: v for k, v in updated.items() if k != "charts"}
    assert untouched == {k: v for k, v in existing.items() if k != "charts"}
    assert updated["charts"]["cloudnative-pg"] == existing["charts"]["cloudnative-pg"]
    with pytest.raises(SystemExit, match="unknown source"):
        record_only(existing, ["cert-manger"], tmp_path, "2026-01-02", "pip")
