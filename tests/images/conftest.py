"""Fixtures for tests/images: a Docker engine, the two app images, their running containers.

A dockerd is started when none answers and stopped by PID at the end; containers are removed
by ID. The images are built from the committed apps/Dockerfile on local stand-in base images.
"""

from __future__ import annotations

import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.render import RenderedStack
from tests import services, wiring
from tests.images import engine

DOCKERD_START_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A running dockerd: the machine's own, or one started here (stopped by PID at the end).

    Skips, loudly (a warning, and the reason with dockerd's log tail in the summary), only when
    dockerd is installed but cannot run on this machine. A missing client or daemon is a setup
    error, not a skip.
    """
    if not Path(engine.DOCKER_CLI).exists():
        pytest.fail(
            f"no Docker client at {engine.DOCKER_CLI}: run scripts/bootstrap.sh (docker.io)"
        )
    if engine.engine_answers():
        yield
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        pytest.fail("dockerd is not installed: run scripts/bootstrap.sh (installs docker.io)")
    base = tmp_path_factory.mktemp("dockerd")
    # Default socket and data root: the image cache (stand-ins, build layers) outlives the session.
    process = services.ManagedProcess(
        "dockerd", [dockerd, "--pidfile", str(base / "dockerd.pid")], base / "dockerd.log"
    )
    process.start()
    deadline = time.monotonic() + DOCKERD_START_TIMEOUT
    while not engine.engine_answers():
        exited = process.proc is not None and process.proc.poll() is not None
        if exited or time.monotonic() > deadline:
            error = process.fail("did not answer `docker info`")
            message = f"IMAGE TESTS NOT RUN: dockerd cannot start on this machine.\n{error}"
            warnings.warn(message, pytest.PytestWarning, stacklevel=1)
            pytest.skip(message)
        time.sleep(0.5)
    try:
        yield
    finally:
        process.stop(timeout=30)


@pytest.fixture(scope="session")
def app_images(docker_engine: None) -> engine.AppImages:
    """Stand-in base images (when missing), then both app images from apps/Dockerfile."""
    engine.stand_in_base_images()
    commit = engine.git_commit()
    engine.build("training", engine.TRAINING_TAG, {"GIT_COMMIT": commit})
    engine.build("serving", engine.SERVING_TAG)
    return engine.AppImages(engine.TRAINING_TAG, engine.SERVING_TAG, commit)


@pytest.fixture(scope="module")
def training_container(
    app_images: engine.AppImages, rendered_dev: RenderedStack
) -> Iterator[engine.Container]:
    """The training image kept alive with `sleep` (its own commands are one-shot jobs)."""
    rendered = wiring.find_container(rendered_dev, "CronJob", "retrain", "retrain")
    container = engine.start_container(
        app_images.training, rendered, ["sleep", "infinity"], rendered.literal_env()
    )
    try:
        yield container
    finally:
        engine.remove_container(container)


@pytest.fixture(scope="module")
def serving_container(
    app_images: engine.AppImages, rendered_dev: RenderedStack
) -> Iterator[engine.Container]:
    """The serving image running its rendered command; MLflow points at a closed port."""
    rendered = wiring.find_container(rendered_dev, "Deployment", "serving", "serving")
    # Nothing listens on port 9 inside the container: the registry is down from the first poll.
    env = {**rendered.literal_env(), "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}
    container = engine.start_container(app_images.serving, rendered, rendered.argv, env)
    try:
        yield container
    finally:
        engine.remove_container(container)
