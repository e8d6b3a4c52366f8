"""Fixtures for the infra tests: stacks rendered offline by `python -m infra.render`.

Each render runs in a subprocess because `pulumi.runtime.set_mocks` is once per process.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra.render import RenderedStack, load_rendered

REPO_ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "stage", "prod")


@dataclass(frozen=True)
class RenderRun:
    """One `python -m infra.render` run: its exit code, output and where it wrote."""

    returncode: int
    stdout: str
    stderr: str
    out_dir: Path
    stack: str

    def load(self) -> RenderedStack:
        """Load the render (only after a successful run)."""
        assert self.returncode == 0, self.stderr
        return load_rendered(self.out_dir, self.stack)


def run_render(stack: str, out_dir: Path, config: Path | None = None) -> RenderRun:
    """Run the render CLI in a fresh interpreter."""
    cmd = [sys.executable, "-m", "infra.render", "--stack", stack, "--out", str(out_dir)]
    if config is not None:
        cmd += ["--config", str(config)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    return RenderRun(proc.returncode, proc.stdout, proc.stderr, out_dir, stack)


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
