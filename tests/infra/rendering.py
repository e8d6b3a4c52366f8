"""Offline renders for the infra tests: `python -m infra.render` in a fresh interpreter.

Each render runs in a subprocess because `pulumi.runtime.set_mocks` is once per process.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.config import PROJECT
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


# `secrets` settings per provider for the provider renders: `external` names a store that the
# cluster would hold (the platform only references it).
SECRET_PROVIDERS: dict[str, dict[str, Any]] = {
    "kubernetes": {"provider": "kubernetes"},
    "openbao": {"provider": "openbao"},
    "external": {"provider": "external", "external": {"storeName": "cloud-secrets"}},
}


def with_secrets(stack: str, secrets: dict[str, Any], out: Path) -> Path:
    """Write a copy of stacks/Pulumi.<stack>.yaml whose `secrets` key is replaced; return it."""
    path = REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["config"][f"{PROJECT}:secrets"] = secrets
    out.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return out
