"""Fixtures for the sandbox tests: the dev stack rendered as the sandbox runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra.render import RenderedStack
from sandbox import wiring

DEV_STACK = wiring.REPO_ROOT / "stacks" / "Pulumi.dev.yaml"


def sandbox_stack_file(base: Path) -> Path:
    """stacks/Pulumi.dev.yaml with SeaweedFS as its object store (what the sandbox runs).

    Only `objectStore.engine` is set; when the dev stack already says seaweedfs this file is
    the dev stack unchanged.
    """
    stack = yaml.safe_load(DEV_STACK.read_text(encoding="utf-8"))
    stack["config"]["mlops-platform:objectStore"]["engine"] = "seaweedfs"
    path = base / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(stack, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def sandbox_render(tmp_path_factory: pytest.TempPathFactory) -> RenderedStack:
    """The dev stack (SeaweedFS) rendered offline, as `make sandbox` renders it."""
    base = tmp_path_factory.mktemp("sandbox-render")
    return wiring.render("dev", base / "out", sandbox_stack_file(base))
