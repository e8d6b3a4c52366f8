"""Images: the training and serving images, built and pushed here or taken as pinned refs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from infra.config import ImagesConfig

APPS = ("training", "serving")
# Build from the repository root: the Dockerfile copies the uv workspace (pyproject, uv.lock).
REPO_ROOT = Path(__file__).resolve().parents[2]
# One Dockerfile for both apps: build arg APP picks the workspace package, --target the image.
DOCKERFILE = REPO_ROOT / "apps" / "Dockerfile"
# The Dockerfile's lineage build arg (every training run and model version is tagged with it).
GIT_COMMIT_ARG = "GIT_COMMIT"
UNKNOWN_COMMIT = "unknown"


@dataclass(frozen=True, kw_only=True)
class BuildSpec:
    """How one app image is built and where it is pushed."""

    app: str
    image_name: str
    context: str
    dockerfile: str
    target: str
    args: dict[str, str]
    platform: str | None


def build_paths(cwd: Path | None = None) -> tuple[str, str]:
    """Return (context, dockerfile) for docker, relative to the program's working directory.

    pulumi-docker resolves both against the working directory, and the Pulumi CLI runs the
    program from `main` (infra/), the tests and `make render` from the repository root. Found
    from this file, so they name the same files from anywhere; relative, so no machine path
    lands in the state or a render.
    """
    base = (cwd or Path.cwd()).resolve()
    return os.path.relpath(REPO_ROOT, base), os.path.relpath(DOCKERFILE, base)


def git_commit(repo: Path = REPO_ROOT) -> str:
    """Return the commit the program builds from (`git rev-parse HEAD`), or `unknown`.

    Read at program time: the image has no git, so the build arg is its only lineage. Outside a
    git checkout (a source tarball) or without git, `unknown`, as the Dockerfile's default.
    """
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607  # git from PATH, as a developer runs it
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return UNKNOWN_COMMIT
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and commit else UNKNOWN_COMMIT


def build_specs(cfg: ImagesConfig) -> list[BuildSpec]:
    """Return the builds for cfg (empty when images are prebuilt)."""
    if not cfg.build:
        return []
    if not cfg.registry:
        raise ValueError("ImagesConfig.registry is required when build is true")
    context, dockerfile = build_paths()
    commit = git_commit()
    return [
        BuildSpec(
            app=app,
            image_name=f"{cfg.registry}/mlops/{app}:{cfg.tag}",
            context=context,
            dockerfile=dockerfile,
            target=app,
            args={"APP": app, GIT_COMMIT_ARG: commit},
            # None: the docker host's platform (an arm64 laptop builds for its arm64 kind nodes).
            platform=cfg.platform,
        )
        for app in APPS
    ]


def prebuilt_refs(cfg: ImagesConfig) -> dict[str, str]:
    """Return the pinned refs from stack config (only when images are not built)."""
    refs = {"training": cfg.training, "serving": cfg.serving}
    missing = sorted(app for app, ref in refs.items() if ref is None)
    if missing:
        raise ValueError(f"images.{missing[0]}: a pinned image ref is required (build is false)")
    return {app: str(ref) for app, ref in refs.items()}


def pinned_ref(image_name: str, repo_digest: str | None) -> str:
    """Return the digest ref the push reported, else the pushed tag.

    `pulumi up` knows the digest after the push, so pods run exactly what was built. Without a
    push (the offline render's mocks, or a registry that reports none) the versioned tag is the
    most precise ref there is; it is pinned (never `latest`), so the image policy holds.
    """
    return repo_digest or image_name


def _digest_or(image_name: str) -> Callable[[str | None], str]:
    return lambda digest: pinned_ref(image_name, digest)


class Images(pulumi.ComponentResource):
    """Builds and pushes the app images (pulumi-docker), or passes pinned refs through."""

    refs: dict[str, pulumi.Output[str]]
    versions: dict[str, str]

    def __init__(
        self, name: str, config: ImagesConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Register one docker Image per app when building; otherwise use the config refs."""
        specs = build_specs(config)
        prebuilt = {} if specs else prebuilt_refs(config)
        super().__init__("mlops:index:Images", name, None, opts)
        self.refs = {}
        self.versions = {}
        for spec in specs:
            image = docker.Image(
                f"{name}-{spec.app}",
                image_name=spec.image_name,
                build=docker.DockerBuildArgs(
                    context=spec.context,
                    dockerfile=spec.dockerfile,
                    target=spec.target,
                    args=spec.args,
                    platform=spec.platform,
                ),
                # Credentials come from the local docker config; a local registry needs none.
                registry=docker.RegistryArgs(server=spec.image_name.split("/", 1)[0]),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.refs[spec.app] = image.repo_digest.apply(_digest_or(spec.image_name))
            self.versions[spec.app] = config.tag
        for app, ref in prebuilt.items():
            self.refs[app] = pulumi.Output.from_input(ref)
            self.versions[app] = ref.rsplit("@", 1)[0].rsplit(":", 1)[-1]
        self.register_outputs({"refs": self.refs})
