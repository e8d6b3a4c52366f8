"""Record the upstream releases every pin in infra/versions.py is checked against.

    uv run --frozen python -m scripts.record_upstream --mirrors DIR [--date YYYY-MM-DD]

DIR holds git clones (bare or not) of the upstream repositories, each at `DIR/<owner>/<name>`
(or `DIR/<owner>+<name>/repo`). The script reads their tags and files with git only and writes
infra/upstream/releases.json: per source, the repository, the commit and commit date read, and
the releases found there. MLflow's repository is too large to clone here, so its releases come
from PyPI through pip (`pip index versions mlflow`; --pip names the executable): its image
workflow publishes one image per release tag. tests/infra/test_versions_upstream.py fails when
a pin is not in this record, so a bump means: update the clones, run this script, commit the
diff with the new pin.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from scripts.upstream_git import find_clone, git

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT = REPO_ROOT / "infra" / "upstream" / "releases.json"

# Tags a chart repository uses for one chart: `<chart>-<version>` (helm/chart-releaser).
_SEMVER = r"(\d+\.\d+\.\d+)"
# postgres-containers: image types and the Debian releases of docker-bake.hcl's `base` list.
_PG_TYPES = ("minimal", "standard", "system")
# mlflow/mlflow docker/README.md: "The `-full` image variant is only available starting from
# MLflow v3.9.0"; both flavours are pushed for every release tag.
_MLFLOW_FULL_SINCE = (3, 9, 0)
# minio/minio README "Source-Only Distribution" (commit 9e49d5e7a, 2025-10-15): from this tag on
# upstream publishes no binaries or images, so a tag is not an image that can be pulled.
_MINIO_SOURCE_ONLY_FROM = "RELEASE.2025-10-15T17-29-55Z"


def _head(repo: Path) -> dict[str, str]:
    commit, date = git(repo, "log", "-1", "--format=%H %cI", "HEAD").split()
    return {"commit": commit, "commit_date": date[:10]}


def _tags(repo: Path) -> list[tuple[str, str]]:
    """Every tag with the date of the commit it points to (YYYY-MM-DD)."""
    out = git(
        repo,
        "for-each-ref",
        "--format=%(refname:short) %(*committerdate:short)%(committerdate:short)",
        "refs/tags",
    )
    return [(tag, date) for tag, date in (line.split() for line in out.splitlines())]


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def _source(repo_name: str, repo: Path, releases: Iterable[dict[str, str]]) -> dict[str, Any]:
    listed = sorted(releases, key=lambda r: _version_key(r["version"]))
    return {"repository": repo_name, **_head(repo), "releases": listed}


def chart_releases(
    mirrors: Path, repo_name: str, chart: str, chart_dir: str, tag_prefix: str | None = None
) -> dict[str, Any]:
    """Chart versions from `<prefix>-<version>` tags (prefix: the chart's name unless given).

    Each version comes with its appVersion (the chart's Chart.yaml at that tag).
    """
    repo = find_clone(mirrors, repo_name)
    pattern = re.compile(rf"^{re.escape(tag_prefix or chart)}-v?{_SEMVER}$")
    releases = []
    for tag, date in _tags(repo):
        match = pattern.match(tag)
        if match is None:
            continue
        chart_yaml = git(repo, "show", f"{tag}:{chart_dir}/Chart.yaml")
        app = re.search(r"^appVersion:\s*\"?([^\"\s]+)", chart_yaml, re.MULTILINE)
        releases.append(
            {"version": match.group(1), "date": date, "app_version": app.group(1) if app else ""}
        )
    return _source(repo_name, repo, releases)


def tag_chart_releases(mirrors: Path, repo_name: str, pattern: str) -> dict[str, Any]:
    """A chart versioned by its repository's release tags (the chart version is the tag).

    cert-manager's chart lives in its own repository and is released with it: the tag `v1.21.1`
    is the chart version and the appVersion (Chart.yaml there holds a placeholder).
    """
    source = tag_releases(mirrors, repo_name, pattern)
    source["releases"] = [{**r, "app_version": r["version"]} for r in source["releases"]]
    return source


def tag_releases(mirrors: Path, repo_name: str, pattern: str) -> dict[str, Any]:
    """Tags matching pattern (the whole tag is the version)."""
    repo = find_clone(mirrors, repo_name)
    regex = re.compile(pattern)
    releases = [{"version": t, "date": d} for t, d in _tags(repo) if regex.fullmatch(t)]
    return _source(repo_name, repo, releases)


def minio_images(mirrors: Path) -> dict[str, Any]:
    """MinIO release tags that were published as images; source-only tags listed apart."""
    source = tag_releases(mirrors, "minio/minio", r"RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ")
    releases = source.pop("releases")
    source["releases"] = [r for r in releases if r["version"] < _MINIO_SOURCE_ONLY_FROM]
    source["source_only"] = [r for r in releases if r["version"] >= _MINIO_SOURCE_ONLY_FROM]
    return source


def cnpg_supported(mirrors: Path) -> dict[str, Any]:
    """The operator's supported-releases table (docs/src/supported_releases.md at HEAD)."""
    repo = find_clone(mirrors, "cloudnative-pg/cloudnative-pg")
    text = git(repo, "show", "HEAD:docs/src/supported_releases.md")
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"\d+\.\d+\.x", cells[0]) and cells[1] in ("Yes", "No"):
            rows.append(
                {"minor": cells[0], "supported": cells[1], "released": cells[2], "eol": cells[3]}
            )
    return {"repository": "cloudnative-pg/cloudnative-pg", **_head(repo), "supported": rows}


def postgres_image_tags(mirrors: Path) -> dict[str, Any]:
    """The rolling tags docker-bake.hcl builds: `<minor>-<type>-<os>` and `<major>-<type>-<os>`."""
    repo = find_clone(mirrors, "cloudnative-pg/postgres-containers")
    bake = git(repo, "show", "HEAD:docker-bake.hcl")
    listed = re.search(r"postgreSQLVersions\s*=\s*\[(.*?)\]", bake, re.DOTALL)
    if listed is None:
        raise SystemExit("docker-bake.hcl: no postgreSQLVersions list")
    pg_versions = re.findall(r'"(\d+\.\d+)"', listed.group(1))
    distros = sorted(set(re.findall(r'"debian:(\w+)-slim@', bake)))
    tags = [
        f"{prefix}-{kind}-{distro}"
        for version in pg_versions
        for prefix in (version, version.split(".")[0])
        for kind in _PG_TYPES
        for distro in distros
    ]
    head = _head(repo)
    releases = [{"version": tag, "date": head["commit_date"]} for tag in tags]
    return _source("cloudnative-pg/postgres-containers", repo, releases)


def mlflow_image_tags(pip: str) -> dict[str, Any]:
    """MLflow releases from PyPI (pip), as image tags `v<version>` and `v<version>-full`."""
    out = subprocess.run(  # noqa: S603  # the pip the developer named, fixed arguments
        [pip, "index", "versions", "mlflow"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(row for row in out.splitlines() if row.startswith("Available versions:"))
    versions = [v.strip() for v in line.split(":", 1)[1].split(",")]
    releases = []
    for version in versions:
        if not re.fullmatch(r"\d+\.\d+\.\d+", version):
            continue
        releases.append({"version": f"v{version}", "date": ""})
        if _version_key(version) >= _MLFLOW_FULL_SINCE:
            releases.append({"version": f"v{version}-full", "date": ""})
    return {
        "repository": "mlflow/mlflow",
        "via": "PyPI `pip index versions mlflow` (release dates are not listed there)",
        "releases": sorted(releases, key=lambda r: _version_key(r["version"])),
    }


# Each recorded source: (group, name) -> how to read it from the clones (and pip for MLflow).
Reader = Callable[[Path, str], dict[str, Any]]
SOURCES: dict[tuple[str, str], Reader] = {
    ("charts", "kube-prometheus-stack"): lambda m, _: chart_releases(
        m,
        "prometheus-community/helm-charts",
        "kube-prometheus-stack",
        "charts/kube-prometheus-stack",
    ),
    ("charts", "cloudnative-pg"): lambda m, _: chart_releases(
        m, "cloudnative-pg/charts", "cloudnative-pg", "charts/cloudnative-pg"
    ),
    ("charts", "plugin-barman-cloud"): lambda m, _: chart_releases(
        m, "cloudnative-pg/charts", "plugin-barman-cloud", "charts/plugin-barman-cloud"
    ),
    ("charts", "openbao"): lambda m, _: chart_releases(
        m, "openbao/openbao-helm", "openbao", "charts/openbao"
    ),
    # external-secrets tags its chart releases `helm-chart-<version>`.
    ("charts", "external-secrets"): lambda m, _: chart_releases(
        m,
        "external-secrets/external-secrets",
        "external-secrets",
        "deploy/charts/external-secrets",
        tag_prefix="helm-chart",
    ),
    ("charts", "cert-manager"): lambda m, _: tag_chart_releases(
        m, "cert-manager/cert-manager", rf"v{_SEMVER}"
    ),
    ("operators", "cloudnative-pg"): lambda m, _: cnpg_supported(m),
    ("images", "ghcr.io/cloudnative-pg/postgresql"): lambda m, _: postgres_image_tags(m),
    ("images", "ghcr.io/mlflow/mlflow"): lambda _, pip: mlflow_image_tags(pip),
    ("images", "quay.io/minio/minio"): lambda m, _: minio_images(m),
    ("images", "quay.io/minio/mc"): lambda m, _: tag_releases(
        m, "minio/mc", r"RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ"
    ),
    ("images", "chrislusf/seaweedfs"): lambda m, _: tag_releases(
        m, "seaweedfs/seaweedfs", r"\d+\.\d+"
    ),
    ("images", "quay.io/prometheus/pushgateway"): lambda m, _: tag_releases(
        m, "prometheus/pushgateway", rf"v{_SEMVER}"
    ),
}


def record(mirrors: Path, date: str, pip: str) -> dict[str, Any]:
    """Return the whole record (see the module docstring)."""
    data: dict[str, Any] = {
        "recorded_on": date,
        "how": "uv run --frozen python -m scripts.record_upstream --mirrors DIR",
    }
    for (group, name), read in SOURCES.items():
        data.setdefault(group, {})[name] = read(mirrors, pip)
    return data


def record_only(
    existing: dict[str, Any], names: Sequence[str], mirrors: Path, date: str, pip: str
) -> dict[str, Any]:
    """Return existing with only the named sources re-read, each with its own `recorded_on`.

    For adding or bumping one pin without re-reading (and so changing) every other source.
    """
    unknown = sorted(set(names) - {name for _, name in SOURCES})
    if unknown:
        raise SystemExit(f"--only: unknown source(s) {unknown}; known: {sorted(SOURCES)}")
    data: dict[str, Any] = json.loads(json.dumps(existing))
    for (group, name), read in SOURCES.items():
        if name in names:
            data.setdefault(group, {})[name] = {**read(mirrors, pip), "recorded_on": date}
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """Write infra/upstream/releases.json from the clones under --mirrors."""
    parser = argparse.ArgumentParser(prog="python -m scripts.record_upstream", description=__doc__)
    parser.add_argument("--mirrors", required=True, type=Path, help="folder of upstream clones")
    parser.add_argument("--date", default=dt.date.today().isoformat(), help="record date")
    parser.add_argument("--out", type=Path, default=OUT, help="output file")
    parser.add_argument("--pip", default="pip", help="pip executable for the PyPI look-up")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="SOURCE",
        help="re-record only this source (e.g. cert-manager) and keep the rest of --out",
    )
    args = parser.parse_args(argv)
    if args.only:
        existing = json.loads(args.out.read_text(encoding="utf-8"))
        data = record_only(existing, args.only, args.mirrors, args.date, args.pip)
    else:
        data = record(args.mirrors, args.date, args.pip)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"recorded upstream releases -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
