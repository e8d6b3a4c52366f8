"""The `make lint` security scan (scripts/security_scan.py) reports real problems by name.

It runs the real Checkov (tools/checkov) and hadolint over a deliberately bad manifest and
Dockerfile, exactly as `make lint` runs them, so the step cannot pass silently.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "0" * 64

PRIVILEGED = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: privileged, namespace: demo}}
spec:
  selector: {{matchLabels: {{app: privileged}}}}
  template:
    metadata: {{labels: {{app: privileged}}}}
    spec:
      containers:
        - name: app
          image: registry.example.com/app@{DIGEST}
          securityContext: {{privileged: true}}
"""
# Skips the privileged check, but says nothing about why.
UNEXPLAINED = PRIVILEGED.replace(
    "{name: privileged, namespace: demo}",
    "{name: unexplained, namespace: demo, annotations: {checkov.io/skip1: CKV_K8S_16}}",
)
BAD_DOCKERFILE = """\
FROM debian:latest
RUN apt-get update && apt-get install -y curl
"""


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    root = tmp_path_factory.mktemp("scan")
    manifests = root / "demo" / "manifests"
    manifests.mkdir(parents=True)
    (manifests / "demo.yaml").write_text(f"{PRIVILEGED}---\n{UNEXPLAINED}")
    dockerfile = root / "Dockerfile"
    dockerfile.write_text(BAD_DOCKERFILE)
    cmd = [sys.executable, "-m", "scripts.security_scan", "--manifests", str(root)]
    cmd += ["--dockerfile", str(dockerfile)]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900, check=False)


def _lines(scan: subprocess.CompletedProcess[str], tool: str, check: str) -> list[str]:
    return [line for line in scan.stdout.splitlines() if line.startswith(f"{tool} {check} ")]


def test_findings_fail_the_scan(scan: subprocess.CompletedProcess[str]) -> None:
    assert scan.returncode == 1, scan.stdout + scan.stderr


def test_a_privileged_container_is_reported_with_its_object_and_file(
    scan: subprocess.CompletedProcess[str],
) -> None:
    lines = _lines(scan, "checkov", "CKV_K8S_16")
    privileged = [line for line in lines if "Deployment.demo.privileged " in line]
    assert len(privileged) == 1, scan.stdout
    assert "rendered/demo/manifests/demo.yaml:" in privileged[0]


def test_a_skip_without_a_reason_counts_as_a_failure(
    scan: subprocess.CompletedProcess[str],
) -> None:
    lines = _lines(scan, "checkov", "CKV_K8S_16")
    assert any(
        "Deployment.demo.unexplained " in line and "without a reason" in line for line in lines
    )


def test_the_dockerfile_is_checked_by_checkov_and_hadolint(
    scan: subprocess.CompletedProcess[str],
) -> None:
    assert _lines(scan, "checkov", "CKV_DOCKER_7"), scan.stdout  # FROM ...:latest
    assert _lines(scan, "hadolint", "DL3007"), scan.stdout  # the same, by hadolint
    assert _lines(scan, "hadolint", "DL3008"), scan.stdout  # apt-get install unpinned
