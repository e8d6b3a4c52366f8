"""Fixtures for the infra tests: stacks rendered offline (helpers in tests/infra/rendering.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infra.render import RenderedStack
from tests.infra.rendering import STACKS, RenderRun, run_render


@pytest.fixture(scope="session")
def rendered_stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RenderedStack]:
    """Every stack file rendered once per session: {"dev": ..., "stage": ..., "prod": ...}."""
    result = {}
    for stack in STACKS:
        run = run_render(stack, tmp_path_factory.mktemp(f"render-{stack}"))
        assert run.returncode == 0, f"render of {stack} failed:\n{run.stderr}"
        result[stack] = run.load()
    return result


@pytest.fixture
def render_stack(tmp_path: Path) -> Callable[..., RenderRun]:
    """Render an arbitrary stack file: render_stack(config_path, stack="dev") -> RenderRun."""
    counter = iter(range(1_000))

    def render(config: Path, stack: str = "dev") -> RenderRun:
        return run_render(stack, tmp_path / f"render-{next(counter)}", config)

    return render
