"""Images: dev builds and pushes the app images; stage/prod run the pinned refs."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from infra.components.images import build_specs, git_commit, pinned_ref, prebuilt_refs
from infra.config import ImagesConfig, load_stack_file
from infra.render import RenderedStack
from policy.images import image_problem
from tests.infra.rendering import REPO_ROOT

DOCKER_IMAGE = "docker:index/image:Image"


def _app_images(rendered: RenderedStack) -> dict[str, str]:
    images = {}
    for obj in rendered.manifests:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "serving":
            images["serving"] = obj["spec"]["template"]["spec"]["containers"][0]["image"]
        if obj["kind"] == "CronJob":
            pod = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            images["training"] = pod["containers"][0]["image"]
    return images


def test_dev_builds_both_apps_from_the_repo_root(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    rendered = rendered_stacks["dev"]
    builds: dict[str, dict[str, Any]] = {
        r["name"]: r for r in rendered.resources if r["type"] == DOCKER_IMAGE
    }
    assert set(builds) == {"images-training", "images-serving"}
    for app in ("training", "serving"):
        record = builds[f"images-{app}"]
        inputs = record["inputs"]
        assert record["parent"] == "images"
        assert inputs["build"] == {
            "context": ".",
            "dockerfile": "apps/Dockerfile",
            "target": app,
            "args": {"APP": app, "GIT_COMMIT": git_commit()},
        }
        assert inputs["imageName"] == f"localhost:5001/mlops/{app}:0.1.0"
        assert inputs["registry"] == {"server": "localhost:5001"}
        assert not inputs["skipPush"]
    # The context is the repository root: the Dockerfile copies the workspace lock from there.
    assert (REPO_ROOT / "apps" / "Dockerfile").is_file()


def test_dev_workloads_run_the_built_images_under_a_pinned_placeholder(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    images = _app_images(rendered_stacks["dev"])
    # Mocks build nothing and report no digest, so the pushed versioned tag stands in.
    assert images == {
        "training": "localhost:5001/mlops/training:0.1.0",
        "serving": "localhost:5001/mlops/serving:0.1.0",
    }
    assert all(image_problem(ref) is None for ref in images.values())


@pytest.mark.parametrize("stack", ["stage", "prod"])
def test_stage_and_prod_build_nothing_and_run_the_pinned_refs(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    rendered = rendered_stacks[stack]
    assert not [r for r in rendered.resources if r["type"] == DOCKER_IMAGE]
    cfg = load_stack_file(REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml")
    assert _app_images(rendered) == {"training": cfg.images.training, "serving": cfg.images.serving}
    assert [r for r in rendered.resources if r["type"] == "mlops:index:Images"]


def test_pushed_digest_wins_over_the_tag() -> None:
    digest = "localhost:5001/mlops/serving@sha256:" + "a" * 64
    assert pinned_ref("localhost:5001/mlops/serving:0.1.0", digest) == digest
    assert pinned_ref("localhost:5001/mlops/serving:0.1.0", None).endswith(":0.1.0")
    assert pinned_ref("localhost:5001/mlops/serving:0.1.0", "").endswith(":0.1.0")


def test_build_specs_and_prebuilt_refs_are_exclusive() -> None:
    dev = load_stack_file(REPO_ROOT / "stacks" / "Pulumi.dev.yaml").images
    assert [s.app for s in build_specs(dev)] == ["training", "serving"]
    with pytest.raises(ValueError, match="pinned image ref is required"):
        prebuilt_refs(dev)
    prod = load_stack_file(REPO_ROOT / "stacks" / "Pulumi.prod.yaml").images
    assert build_specs(prod) == []
    assert (
        prebuilt_refs(prod)["serving"]
        == "registry.example.com/mlops/serving:0.1.0@sha256:" + "0" * 64
    )


def test_dockerfile_paths_exist_for_every_built_app() -> None:
    dev = load_stack_file(REPO_ROOT / "stacks" / "Pulumi.dev.yaml").images
    missing = [s.dockerfile for s in build_specs(dev) if not (REPO_ROOT / s.dockerfile).is_file()]
    assert missing == []
    # Every target the builds name is a stage of that Dockerfile.
    text = (REPO_ROOT / "apps" / "Dockerfile").read_text(encoding="utf-8")
    assert all(f" AS {s.target}\n" in text for s in build_specs(dev))


def test_refs_are_not_allowed_next_to_build(tmp_path: Path) -> None:
    text = (REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text(encoding="utf-8")
    text = text.replace("    tag: 0.1.0\n", "    tag: 0.1.0\n    serving: x/serving:1.0\n")
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"images.serving: not used when images.build is true"):
        load_stack_file(path)


def test_builds_carry_the_git_commit_of_the_checkout(tmp_path: Path) -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert git_commit() == head
    assert len(head) == 40
    cfg = ImagesConfig(build=True, registry="localhost:5001")
    assert {spec.args["GIT_COMMIT"] for spec in build_specs(cfg)} == {head}
    # Outside a git checkout (a source tarball): the Dockerfile's own default.
    assert git_commit(tmp_path) == "unknown"


def test_the_build_platform_comes_from_config() -> None:
    host = ImagesConfig(build=True, registry="localhost:5001")
    assert {spec.platform for spec in build_specs(host)} == {None}
    arm = ImagesConfig(build=True, registry="localhost:5001", platform="linux/arm64")
    assert {spec.platform for spec in build_specs(arm)} == {"linux/arm64"}
    with pytest.raises(ValidationError, match="like 'linux/amd64'"):
        ImagesConfig(build=True, registry="localhost:5001", platform="arm64")
