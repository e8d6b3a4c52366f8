"""A thin `kubectl` wrapper for the smoke tests: JSON queries and testinfra hosts in pods."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
from dataclasses import dataclass
from typing import Any

import testinfra

# kubectl waits this long for the API server before giving up on one request.
REQUEST_TIMEOUT = "20s"


class KubectlError(RuntimeError):
    """kubectl failed for a reason other than "not found"."""


@dataclass(frozen=True)
class Kubectl:
    """kubectl bound to one kubeconfig context."""

    context: str

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = ["kubectl", f"--context={self.context}", f"--request-timeout={REQUEST_TIMEOUT}"]
        return subprocess.run([*cmd, *args], capture_output=True, text=True, check=False)

    def check_reachable(self) -> None:
        """Fail with a message naming the context when kubectl or the cluster is missing."""
        if shutil.which("kubectl") is None:
            raise KubectlError("kubectl is not on PATH: install it to run the smoke tests")
        proc = self._run("get", "namespaces", "-o", "name")
        if proc.returncode != 0:
            raise KubectlError(
                f"cannot reach the cluster of kubeconfig context {self.context!r} "
                f"(set it with --kube-context): {proc.stderr.strip()}"
            )

    def get(self, resource: str, name: str, namespace: str | None = None) -> Any:
        """`kubectl get resource name -o json`, or None when the object does not exist."""
        args = ["get", resource, name, "-o", "json"]
        if namespace:
            args += ["-n", namespace]
        proc = self._run(*args)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr or "not found" in proc.stderr:
                return None
            raise KubectlError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return json.loads(proc.stdout)

    def pods(self, namespace: str, selector: str) -> Any:
        """`kubectl get pods -l selector -o json` in namespace."""
        proc = self._run("get", "pods", "-n", namespace, "-l", selector, "-o", "json")
        if proc.returncode != 0:
            raise KubectlError(f"listing pods {selector} in {namespace}: {proc.stderr.strip()}")
        return json.loads(proc.stdout)

    def host(self, pod: str, namespace: str, container: str) -> Any:
        """A testinfra host that runs commands in `container` of `pod` (kubectl exec)."""
        query = urllib.parse.urlencode(
            {"namespace": namespace, "container": container, "context": self.context}
        )
        return testinfra.get_host(f"kubectl://{pod}?{query}")
