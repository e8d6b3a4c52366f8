"""Read upstream clones with git only: shared by scripts/record_upstream.py and crd_schemas.py."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    """Run git against a clone (bare or not) and return its output."""
    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    # git from PATH on purpose, with fixed arguments: a developer's tool, not untrusted input.
    return subprocess.run(  # noqa: S603
        ["git", f"--git-dir={git_dir}", *args],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def find_clone(mirrors: Path, owner_name: str) -> Path:
    """Return the clone of owner/name under mirrors: `<owner>/<name>` or `<owner>+<name>/repo`."""
    owner, name = owner_name.split("/")
    for candidate in (mirrors / owner / name, mirrors / f"{owner}+{name}" / "repo"):
        if candidate.exists():
            return candidate
    raise SystemExit(f"no clone of {owner_name} under {mirrors} (expected {owner}/{name})")
