"""Checkov skips on the rendered objects: each carries a reason and sits only where it applies.

The skips are `checkov.io/skip<N>: <check>=<reason>` annotations built by infra/k8s.py
scan_skips; `make lint` (scripts/security_scan.py) fails on any check they do not cover.
"""

from __future__ import annotations

from typing import Any

import pytest

from infra import k8s
from infra.render import RenderedStack
from policy.objects import kind, meta, name, namespace, pod_spec

STACKS = ("dev", "stage", "prod")
DIGEST_REF = "ghcr.io/mlflow/mlflow@sha256:" + "a" * 64


def _skips(obj: dict[str, Any]) -> dict[str, str]:
    """check id -> reason, for every skip annotation on the object."""
    annotations = meta(obj).get("annotations") or {}
    result = {}
    for key, value in annotations.items():
        if key.startswith(k8s.SCAN_SKIP_PREFIX):
            check, _, reason = str(value).partition("=")
            result[check] = reason
    return result


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    found = pod_spec(obj)
    assert found is not None
    spec, _ = found
    return [*spec.get("initContainers", []), *spec["containers"]]


def _takes_env_credentials(obj: dict[str, Any]) -> bool:
    for container in _containers(obj):
        if any("secretKeyRef" in e.get("valueFrom", {}) for e in container.get("env", [])):
            return True
        if any("secretRef" in source for source in container.get("envFrom", [])):
            return True
    return False


def _skipped_objects(rendered: RenderedStack) -> list[dict[str, Any]]:
    return [obj for obj in rendered.manifests if _skips(obj)]


@pytest.mark.parametrize("stack", STACKS)
def test_every_skip_annotation_names_a_check_and_a_reason(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    skipped = _skipped_objects(rendered_stacks[stack])
    assert skipped, "no object declares a skip: did the annotations stop rendering?"
    for obj in skipped:
        for check, reason in _skips(obj).items():
            where = f"{kind(obj)}.{namespace(obj)}.{name(obj)}"
            assert check.startswith("CKV_"), f"{where}: {check!r} is not a Checkov check id"
            assert len(reason.split()) >= 5, f"{where}: {check} has no real reason: {reason!r}"


@pytest.mark.parametrize("stack", STACKS)
def test_image_skips_only_on_workloads_with_tag_pinned_images(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    for obj in rendered_stacks[stack].manifests:
        if pod_spec(obj) is None:
            assert not _skips(obj), f"{name(obj)} runs no pods but skips {sorted(_skips(obj))}"
            continue
        tagged = sorted({c["image"] for c in _containers(obj) if "@" not in c["image"]})
        skips = _skips(obj)
        for check in (k8s.IMAGE_DIGEST_CHECK, k8s.PULL_ALWAYS_CHECK):
            assert (check in skips) == bool(tagged), f"{name(obj)}: {check} vs images {tagged}"
            if tagged:
                assert all(ref in skips[check] for ref in tagged), skips[check]


@pytest.mark.parametrize("stack", STACKS)
def test_env_credentials_skip_only_on_workloads_that_read_secrets_from_env(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    for obj in rendered_stacks[stack].manifests:
        if pod_spec(obj) is None:
            continue
        skipped = k8s.ENV_CREDENTIALS_CHECK in _skips(obj)
        assert skipped == _takes_env_credentials(obj), f"{kind(obj)} {name(obj)}"


def test_digest_pinned_images_skip_nothing() -> None:
    assert k8s.scan_skips(images=[DIGEST_REF]) == {}


def test_skips_are_numbered_one_annotation_each() -> None:
    skips = k8s.scan_skips(images=["quay.io/x/y:1.0"], env_credentials="the client reads env only")
    assert sorted(skips) == [f"{k8s.SCAN_SKIP_PREFIX}{n}" for n in (1, 2, 3)]
    assert skips[f"{k8s.SCAN_SKIP_PREFIX}3"] == "CKV_K8S_35=the client reads env only"


@pytest.mark.parametrize("reason", ["", "  ", "a=b breaks Checkov's split", "two\nlines"])
def test_a_reason_checkov_cannot_read_back_is_refused(reason: str) -> None:
    with pytest.raises(ValueError, match="CKV_K8S_35: the reason must be one non-empty line"):
        k8s.scan_skips(env_credentials=reason)
