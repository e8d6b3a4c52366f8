"""Docker helpers for tests/images: the engine, image builds, containers under the rendered context.

No registry is reachable where CI runs, so the base images the Dockerfile pins are local
stand-ins (scripts/stand-in-base-images.sh) under the same tags, and apps/Dockerfile is built
as committed, from the repository root, once per app target.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.components.images import DOCKERFILE
from tests import wiring

REPO = Path(__file__).resolve().parents[2]
# Debian's docker.io client (scripts/bootstrap.sh installs it). It runs BuildKit builds by itself
# (DOCKER_BUILDKIT=1); a newer client elsewhere on PATH may need the buildx plugin for that.
DOCKER_CLI = "/usr/bin/docker"
BUILD_TIMEOUT = 1200.0
# Local tags for the images under test (never pushed anywhere).
TRAINING_TAG = "mlops-platform-test/training:ci"
SERVING_TAG = "mlops-platform-test/serving:ci"


def docker_unchecked(
    *args: str, timeout: float = 120.0, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run the docker client and return the finished process, whatever its exit code."""
    return subprocess.run(
        [DOCKER_CLI, *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )


def docker(*args: str, timeout: float = 120.0, stdin: bytes | None = None) -> str:
    """Run the docker client; return stdout, or raise with the command and its stderr."""
    proc = docker_unchecked(*args, timeout=timeout, stdin=stdin)
    if proc.returncode != 0:
        raise RuntimeError(
            f"docker {' '.join(args[:4])} ... failed ({proc.returncode}):\n"
            f"{proc.stderr.decode(errors='replace')[-4000:]}"
        )
    return proc.stdout.decode(errors="replace")


def engine_answers() -> bool:
    """True when a Docker engine answers on the default socket."""
    try:
        docker("info", "--format", "{{.ServerVersion}}", timeout=20)
    except (RuntimeError, subprocess.TimeoutExpired):
        return False
    return True


def git_commit() -> str:
    """HEAD of the checkout: the GIT_COMMIT build arg the training target documents."""
    proc = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def stand_in_base_images() -> None:
    """Build the stand-ins for the pinned base images (the script skips tags that exist)."""
    subprocess.run(
        [str(REPO / "scripts" / "stand-in-base-images.sh")],
        cwd=REPO,
        check=True,
        timeout=BUILD_TIMEOUT,
        env={**os.environ, "DOCKER": DOCKER_CLI},
    )


def build(app: str, tag: str, build_args: Mapping[str, str] | None = None) -> None:
    """One app's image, built as the platform builds it (infra/components/images.py).

    `docker build -f apps/Dockerfile --build-arg APP=<app> --target <app> -t <tag> .` from the
    repository root, as the file documents.
    """
    spec = {"APP": app, **(build_args or {})}
    args = [a for name, value in spec.items() for a in ("--build-arg", f"{name}={value}")]
    docker(
        "build", "--progress=plain", "-f", str(REPO / DOCKERFILE), *args, "--target", app,
        "-t", tag, str(REPO), timeout=BUILD_TIMEOUT,
    )  # fmt: skip


@dataclass(frozen=True)
class AppImages:
    """The two app images, built from the committed apps/Dockerfile."""

    training: str
    serving: str
    git_commit: str


def pod_spec(rendered: wiring.RenderedContainer) -> dict[str, object]:
    """The pod spec of the rendered workload (Deployment, Job or CronJob)."""
    spec = rendered.workload["spec"]
    if rendered.workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    result: dict[str, object] = spec["template"]["spec"]
    return result


def rendered_ids(rendered: wiring.RenderedContainer) -> tuple[int, int]:
    """The runAsUser / runAsGroup the platform renders for this workload."""
    ctx = rendered.workload["spec"]
    if rendered.workload["kind"] == "CronJob":
        ctx = ctx["jobTemplate"]["spec"]
    pod_ctx = ctx["template"]["spec"]["securityContext"]
    return int(pod_ctx["runAsUser"]), int(pod_ctx["runAsGroup"])


def run_flags(rendered: wiring.RenderedContainer) -> list[str]:
    """`docker run` flags for the securityContext and scratch volumes the platform renders."""
    uid, gid = rendered_ids(rendered)
    ctx = rendered.container["securityContext"]
    flags = ["--user", f"{uid}:{gid}"]
    if ctx.get("readOnlyRootFilesystem"):
        flags.append("--read-only")
    flags += [f"--cap-drop={cap}" for cap in ctx.get("capabilities", {}).get("drop", [])]
    if ctx.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    volumes = pod_spec(rendered).get("volumes", [])
    assert isinstance(volumes, list)
    empty_dirs = {v["name"] for v in volumes if "emptyDir" in v}
    for mount in rendered.container.get("volumeMounts", []):
        if mount["name"] in empty_dirs:
            # Docker's tmpfs is noexec by default; an emptyDir is a plain directory.
            flags += ["--tmpfs", f"{mount['mountPath']}:rw,exec,mode=1777"]
    return flags


@dataclass(frozen=True)
class Container:
    """A running container of an app image, with the rendered container it mirrors."""

    id: str
    image: str
    rendered: wiring.RenderedContainer
    flags: list[str]


def start_container(
    image: str,
    rendered: wiring.RenderedContainer,
    argv: Sequence[str],
    env: Mapping[str, str],
) -> Container:
    """`docker run -d` with the rendered restrictions; argv replaces entrypoint and command."""
    flags = run_flags(rendered)
    env_args = [arg for name, value in env.items() for arg in ("--env", f"{name}={value}")]
    container_id = docker(
        "run", "-d", *flags, *env_args, "--entrypoint", argv[0], image, *argv[1:]
    ).strip()
    return Container(id=container_id, image=image, rendered=rendered, flags=flags)


def remove_container(container: Container) -> None:
    """Remove the container by ID."""
    docker("rm", "-f", container.id, timeout=60)
