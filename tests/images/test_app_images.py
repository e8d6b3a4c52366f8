"""The app images, built from apps/Dockerfile, run under the platform's restricted context.

Each container runs with the securityContext and scratch volume the dev stack renders (user,
read-only root, all capabilities dropped, no privilege escalation, /tmp emptyDir) and is checked
from inside with pytest-testinfra's docker backend.
"""

from __future__ import annotations

import json
import time

import pytest
import testinfra

from tests.images.engine import AppImages, Container, docker, docker_unchecked, rendered_ids

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

COMPILERS = ("gcc", "cc", "c++", "g++", "clang")
# Prints the HTTP status, then the body, of a GET (error statuses included).
HTTP_GET = """
import sys, urllib.error, urllib.request
try:
    response = urllib.request.urlopen(sys.argv[1], timeout=5)
except urllib.error.HTTPError as error:
    response = error
print(response.status)
print(response.read().decode())
"""
SERVING_START_TIMEOUT = 120.0


@pytest.fixture(params=["training", "serving"])
def container(
    request: pytest.FixtureRequest, training_container: Container, serving_container: Container
) -> Container:
    """Each app's running container."""
    return training_container if request.param == "training" else serving_container


def host_of(container: Container) -> testinfra.host.Host:
    """testinfra's view of the running container."""
    return testinfra.get_host(f"docker://{container.id}")


def http_get(container: Container, path: str) -> tuple[int, str]:
    """GET http://127.0.0.1:<rendered http port><path> from inside the container."""
    url = f"http://127.0.0.1:{container.rendered.port('http')}{path}"
    result = host_of(container).run("python -c %s %s", HTTP_GET, url)
    if result.rc != 0:
        raise ConnectionError(f"GET {url} failed in the container: {result.stderr[-500:]}")
    status, _, body = result.stdout.partition("\n")
    return int(status), body


def wait_serving(container: Container) -> None:
    """Wait until uvicorn answers the liveness path (imports take seconds cold)."""
    path = container.rendered.probe_path("livenessProbe")
    deadline = time.monotonic() + SERVING_START_TIMEOUT
    while True:
        try:
            http_get(container, path)
        except ConnectionError:
            state = docker("inspect", "--format", "{{.State.Status}}", container.id).strip()
            if state != "running" or time.monotonic() > deadline:
                proc = docker_unchecked("logs", "--tail", "40", container.id)
                logs = (proc.stdout + proc.stderr).decode(errors="replace")
                pytest.fail(f"serving container {state}, {path} never answered; logs:\n{logs}")
            time.sleep(0.5)
        else:
            return


def test_image_user_is_numeric_and_not_root(app_images: AppImages) -> None:
    """runAsNonRoot can only verify a numeric USER; it must not be root."""
    for image in (app_images.training, app_images.serving):
        user = docker("image", "inspect", "--format", "{{.Config.User}}", image).strip()
        uid, _, gid = user.partition(":")
        assert uid.isdigit(), f"{image}: USER {user!r} is not numeric"
        assert int(uid) != 0, f"{image}: USER is root"
        assert not gid or gid.isdigit(), f"{image}: USER group {gid!r} is not numeric"


def test_runs_as_the_rendered_non_root_user(container: Container) -> None:
    """PID 1 and exec'd commands run as the platform's runAsUser/runAsGroup, never root."""
    uid, gid = rendered_ids(container.rendered)
    assert uid != 0
    host = host_of(container)
    status = host.file("/proc/1/status").content_string
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["Uid"].split() == [str(uid)] * 4
    assert fields["Gid"].split() == [str(gid)] * 4
    # `id -u`, not host.user(): the rendered UID need not have a passwd entry in the image.
    assert host.check_output("id -u") == str(uid)
    # Nothing can be regained: no capabilities, no setuid escalation.
    assert fields["CapEff"].strip() == "0000000000000000"
    assert fields["NoNewPrivs"].strip() == "1"


def test_no_compilers_in_the_final_image(container: Container) -> None:
    """The final stage is the slim base plus the venv: no toolchain to build anything with."""
    host = host_of(container)
    present = [name for name in COMPILERS if host.exists(name)]
    assert present == []


def test_venv_is_root_owned_and_not_writable_by_the_app_user(container: Container) -> None:
    """The app cannot modify its own code or dependencies, even with a writable root filesystem."""
    host = host_of(container)
    venv = host.file("/app/.venv")
    assert venv.is_directory
    assert (venv.user, venv.group) == ("root", "root")
    # Every file and directory (symlinks have no mode of their own) is root's and not
    # group/other-writable (the Dockerfile removes uv's 0666 lock file for this).
    writable = host.run(r"find /app/.venv ! -type l \( ! -user 0 -o -perm /022 \) -print")
    assert writable.rc == 0, writable.stderr
    assert writable.stdout.splitlines()[:10] == []
    # Without --read-only, as the rendered user: only file permissions stand in the way.
    uid, gid = rendered_ids(container.rendered)
    proc = docker_unchecked(
        "run", "--rm", "--user", f"{uid}:{gid}", "--entrypoint", "sh", container.image, "-c",
        "touch /app/.venv/probe && echo wrote; mkdir /app/.venv/lib/probe && echo wrote",
    )  # fmt: skip
    stderr = proc.stderr.decode(errors="replace")
    assert b"wrote" not in proc.stdout
    assert stderr.count("Permission denied") == 2, stderr


def test_home_and_tmp_are_the_writable_scratch(container: Container) -> None:
    """HOME points at /tmp, the one writable place under readOnlyRootFilesystem."""
    host = host_of(container)
    assert host.run("printenv HOME").stdout.strip() == "/tmp"
    assert host.run("touch /tmp/probe").rc == 0
    assert host.run("touch /app/probe").rc != 0


def test_training_cli_help(app_images: AppImages, training_container: Container) -> None:
    """`python -m training --help` exits 0, in the running container and as the image default."""
    result = host_of(training_container).run("python -m training --help")
    assert result.rc == 0, result.stderr
    assert result.stdout.startswith("usage: python -m training")
    for command in ("train", "promote", "rollback", "status", "retrain"):
        assert command in result.stdout
    # ENTRYPOINT python -m training, CMD --help, under the same restrictions.
    default = docker("run", "--rm", *training_container.flags, app_images.training)
    assert default.startswith("usage: python -m training")


def test_training_image_carries_the_git_commit(
    app_images: AppImages, training_container: Container
) -> None:
    """GIT_COMMIT, the lineage tag of every run, is the commit the image was built from."""
    value = host_of(training_container).run("printenv GIT_COMMIT").stdout.strip()
    assert value == app_images.git_commit


def test_serving_probes_without_mlflow(serving_container: Container) -> None:
    """Liveness answers 200 at once; readiness says 503 "not ready" while no model is loaded."""
    wait_serving(serving_container)
    live_status, _ = http_get(
        serving_container, serving_container.rendered.probe_path("livenessProbe")
    )
    assert live_status == 200
    ready_status, body = http_get(
        serving_container, serving_container.rendered.probe_path("readinessProbe")
    )
    assert ready_status == 503
    payload = json.loads(body)
    assert payload["status"] == "not ready"
    assert payload["detail"]
    # PID 1 is the rendered command itself (uvicorn, one worker), still up after the answers.
    cmdline = host_of(serving_container).file("/proc/1/cmdline").content_string
    argv = cmdline.rstrip("\0").split("\0")
    assert argv[-len(serving_container.rendered.argv) + 1 :] == serving_container.rendered.argv[1:]
