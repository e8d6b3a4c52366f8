"""A throwaway git repository holding a copy of this one: `make diff` on real history."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT = "mlops-platform"


def git(repo: Path, *args: str) -> str:
    """Run git in repo with a fixed identity; return stdout."""
    cmd = ["git", "-c", "user.name=diff-test", "-c", "user.email=diff-test@example.com", *args]
    return subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True).stdout


def project_files() -> list[str]:
    # Tracked and new (not ignored) files: the tests see the code as it is in the working tree.
    out = git(REPO_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return sorted({f for f in out.split("\0") if f and (REPO_ROOT / f).is_file()})


class Repo:
    """A clone of the seed repository that a test changes and commits to."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def edit_stack(self, stack: str, change: Callable[[dict[str, Any]], None]) -> None:
        """Change stacks/Pulumi.<stack>.yaml's `mlops-platform:` keys (a dict without prefix)."""
        path = self.root / "stacks" / f"Pulumi.{stack}.yaml"
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        config = document["config"]
        keys = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{PROJECT}:")}
        change(keys)
        others = {k: v for k, v in config.items() if not k.startswith(f"{PROJECT}:")}
        document["config"] = {**others, **{f"{PROJECT}:{k}": v for k, v in keys.items()}}
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    def replace(self, relative: str, old: str, new: str) -> None:
        """Replace the one occurrence of old in a file (fails if it is not there exactly once)."""
        path = self.root / relative
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {relative}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    def commit(self, message: str) -> None:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", message)

    def run_diff(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `python -m infra.diff` in the repository, as `make diff` does."""
        return subprocess.run(
            [sys.executable, "-m", "infra.diff", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
