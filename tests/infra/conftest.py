"""Fixtures for the infra tests: stacks rendered offline (helpers in tests/infra/rendering.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from infra.render import RenderedStack
from tests.infra.rendering import SECRET_PROVIDERS, STACKS, RenderRun, run_render, with_secrets


@pytest.fixture(scope="session")
def rendered_stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RenderedStack]:
    """Every stack file rendered once per session: {"dev": ..., "stage": ..., "prod": ...}."""
    result = {}
    for stack in STACKS:
        run = run_render(stack, tmp_path_factory.mktemp(f"render-{stack}"))
        assert run.returncode == 0, f"render of {stack} failed:\n{run.stderr}"
        result[stack] = run.load()
    return result


@pytest.fixture(scope="session")
def provider_renders(
    tmp_path_factory: pytest.TempPathFactory,
    rendered_stacks: dict[str, RenderedStack],
) -> dict[tuple[str, str], RenderedStack]:
    """Every stack rendered with each secret provider: {(stack, provider): ...}.

    `kubernetes` is what the stack files say (the session's renders); the others replace the
    stack file's `secrets` key only.
    """
    result = {(stack, "kubernetes"): rendered_stacks[stack] for stack in STACKS}
    for stack in STACKS:
        for provider, secrets in SECRET_PROVIDERS.items():
            if provider == "kubernetes":
                continue
            folder = tmp_path_factory.mktemp(f"render-{stack}-{provider}")
            config = with_secrets(stack, secrets, folder / f"Pulumi.{stack}.yaml")
            run = run_render(stack, folder / "out", config)
            assert run.returncode == 0, f"render of {stack} with {provider} failed:\n{run.stderr}"
            result[(stack, provider)] = run.load()
    return result


@pytest.fixture
def render_stack(tmp_path: Path) -> Callable[..., RenderRun]:
    """Render an arbitrary stack file: render_stack(config_path, stack="dev") -> RenderRun."""
    counter = iter(range(1_000))

    def render(config: Path, stack: str = "dev") -> RenderRun:
        return run_render(stack, tmp_path / f"render-{next(counter)}", config)

    return render
