"""Options and fixtures of the live-cluster smoke tests (`pytest -m smoke tests/smoke`).

The expectations come from rendering the same stack offline, so the cluster is checked
against what the program declares, not against numbers copied into the tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.config import load_stack_file
from infra.render import RenderedStack
from tests import wiring
from tests.smoke import expectations
from tests.smoke.kube import Kubectl


def stack_file(stack: str) -> Path:
    """The stack file of `stack`."""
    return wiring.REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml"


@pytest.fixture(scope="session")
def smoke_stack(request: pytest.FixtureRequest) -> str:
    """The stack name given with --stack."""
    return str(request.config.getoption("--stack"))


@pytest.fixture(scope="session")
def smoke_rendered(smoke_stack: str, tmp_path_factory: pytest.TempPathFactory) -> RenderedStack:
    """The stack rendered offline: the source of every expectation."""
    return wiring.render(smoke_stack, tmp_path_factory.mktemp(f"smoke-render-{smoke_stack}"))


@pytest.fixture(scope="session")
def kubectl(request: pytest.FixtureRequest, smoke_stack: str) -> Kubectl:
    """kubectl bound to --kube-context, or to the stack file's kubeContext; cluster reachable."""
    context = request.config.getoption("--kube-context")
    if context is None:
        context = load_stack_file(stack_file(smoke_stack)).kube_context
    client = Kubectl(str(context))
    client.check_reachable()
    return client


def exec_host(kubectl: Kubectl, target: expectations.PodTarget) -> Any:
    """A testinfra host in a Ready pod of target's workload; fails naming the selector if none."""
    pods = kubectl.pods(target.namespace, target.selector)
    pod = expectations.ready_pod(pods)
    assert pod is not None, (
        f"expected a Ready pod of {target.kind} {target.namespace}/{target.workload} "
        f"(selector {target.selector}); found {len(pods.get('items', []))} pod(s), none Ready"
    )
    return kubectl.host(pod, target.namespace, target.container)


@pytest.fixture(scope="session")
def serving_target(smoke_rendered: RenderedStack) -> expectations.PodTarget:
    """The rendered model server container."""
    return expectations.serving_target(smoke_rendered)


@pytest.fixture(scope="session")
def mlflow_target(smoke_rendered: RenderedStack) -> expectations.PodTarget:
    """The rendered MLflow container."""
    return expectations.mlflow_target(smoke_rendered)


@pytest.fixture(scope="session")
def serving_host(kubectl: Kubectl, serving_target: expectations.PodTarget) -> Any:
    """testinfra host in a Ready serving pod."""
    return exec_host(kubectl, serving_target)


@pytest.fixture(scope="session")
def mlflow_host(kubectl: Kubectl, mlflow_target: expectations.PodTarget) -> Any:
    """testinfra host in a Ready MLflow pod."""
    return exec_host(kubectl, mlflow_target)
