"""Render stacks of the working tree and of a git ref, each with that tree's own render.

The base tree is exported with `git archive` (no worktree is registered in the repository)
and rendered by its own `python -m infra.render`, run with this interpreter and the base's own
`infra` and contract package first on the path. Each render is a subprocess because the Pulumi
mocks are set once per process.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# Tried in order when no base is given: the local branch, then the remote one (CI checkouts).
DEFAULT_BRANCHES = ("main", "origin/main")
# Source roots a tree's render imports from, besides the tree itself (the workspace packages
# that are installed in editable mode from the working tree, not from the base).
_SOURCE_ROOTS = ("contract/src",)
RENDER_TIMEOUT_SECONDS = 300
# Every render runs with no git repository in sight (GIT_DIR names none), so a program that asks
# `git rev-parse HEAD` (the images' GIT_COMMIT build arg) gets its no-git fallback on both sides.
# The base tree is an archive outside git anyway; without this the working tree would render its
# commit, and a stack that builds images would differ between any two commits on that alone.
NO_GIT_ENV = {"GIT_DIR": os.devnull}
BUILD_COMMIT_NOTE = (
    "Both sides render without git: image builds' `GIT_COMMIT` build arg (new with every "
    "commit) is the program's no-git fallback on both, so it is never shown as a change."
)


class DiffError(RuntimeError):
    """The diff cannot be made; the message says why and what to do."""


def git(repo: Path, *args: str) -> str:
    """Run git in repo and return its stdout; a failure raises DiffError with git's message."""
    proc = subprocess.run(  # noqa: S603  # fixed argv, no shell
        ["git", *args],  # noqa: S607  # git from PATH, as a developer runs it
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise DiffError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def resolve_base(repo: Path, ref: str | None) -> tuple[str, str]:
    """Return (label, commit) of the base: ref, or the merge base of HEAD with main."""
    if ref:
        return ref, git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}")
    for branch in DEFAULT_BRANCHES:
        try:
            commit = git(repo, "merge-base", "HEAD", branch)
        except DiffError:
            continue
        return f"merge-base(HEAD, {branch})", commit
    raise DiffError(
        f"no base given and none of {', '.join(DEFAULT_BRANCHES)} exists: "
        "pass BASE=<git ref> (make diff BASE=origin/main)"
    )


def export_tree(repo: Path, commit: str, dest: Path) -> None:
    """Write the files of commit into dest (like a checkout, without touching the repo)."""
    proc = subprocess.run(  # noqa: S603  # fixed argv, no shell
        ["git", "archive", "--format=tar", commit],  # noqa: S607
        cwd=repo,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise DiffError(f"git archive {commit} failed: {proc.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as archive:
        archive.extractall(dest, filter="data")


@dataclass(frozen=True)
class RenderJob:
    """One stack of one tree, rendered into out_dir; absent when the tree has no stack file."""

    tree: Path
    stack: str
    out_dir: Path

    @property
    def absent(self) -> bool:
        """True when this tree has no stack file for the stack (it is all added or removed)."""
        return not (self.tree / "stacks" / f"Pulumi.{self.stack}.yaml").is_file()


def _render(job: RenderJob) -> None:
    if job.absent:
        return
    if not (job.tree / "infra" / "render.py").is_file():
        raise DiffError(f"{job.tree} has no infra/render.py: pick a newer base")
    paths = [str(job.tree), *(str(job.tree / root) for root in _SOURCE_ROOTS)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **NO_GIT_ENV}
    cmd = [sys.executable, "-m", "infra.render", "--stack", job.stack, "--out", str(job.out_dir)]
    try:
        proc = subprocess.run(  # noqa: S603  # fixed argv, no shell
            cmd,
            cwd=job.tree,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=RENDER_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise DiffError(
            f"render of {job.stack} in {job.tree} took over {RENDER_TIMEOUT_SECONDS}s"
        ) from None
    if proc.returncode != 0:
        raise DiffError(f"render of stack {job.stack!r} in {job.tree} failed:\n{proc.stderr}")


def render_all(jobs: list[RenderJob], parallel: int) -> None:
    """Run every render, at most `parallel` at a time; the first failure raises DiffError."""
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        for _ in pool.map(_render, jobs):
            pass
