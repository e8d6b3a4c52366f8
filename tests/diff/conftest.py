"""Fixtures: a seed repository (a copy of this one) and a fresh clone per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.diff.gitrepo import REPO_ROOT, Repo, git, project_files


@pytest.fixture(scope="session")
def seed_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository with one commit on `main`: this repository's files as they are now."""
    repo = tmp_path_factory.mktemp("seed")
    for name in project_files():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, repo / name)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "seed")
    return repo


@pytest.fixture
def repo(seed_repo: Path, tmp_path: Path) -> Repo:
    """A fresh clone of the seed repository (its `main` branch), on a new branch `feature`."""
    root = tmp_path / "repo"
    git(tmp_path, "clone", "-q", str(seed_repo), str(root))
    git(root, "checkout", "-q", "-b", "feature")
    return Repo(root)
