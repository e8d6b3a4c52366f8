"""The program runs the same wherever it is started from, and shadows no other module.

`Pulumi.yaml` has `main: infra/`: the Pulumi CLI runs the program with infra/ as the working
directory and first on the module path, while the tests and `make render` run it from the
repository root. A module under infra/ named like a standard-library or installed module (as
`platform.py` was) replaces that module for every import in the program, pulumi's included.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra.components.images import build_paths
from infra.render import RenderedStack, load_rendered
from tests.infra.rendering import REPO_ROOT

INFRA = REPO_ROOT / "infra"
DOCKER_IMAGE = "docker:index/image:Image"


def _render_from(cwd: Path, out: Path) -> RenderedStack:
    # `python -m` puts the working directory first on sys.path: infra/ here, as the CLI does.
    cmd = [sys.executable, "-m", "infra.render", "--stack", "dev", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return load_rendered(out, "dev")


def _resolved_builds(rendered: RenderedStack, cwd: Path) -> dict[str, dict[str, Any]]:
    """Each docker Image's build inputs with context and dockerfile resolved against cwd."""
    builds = {}
    for record in rendered.resources:
        if record["type"] == DOCKER_IMAGE:
            build = dict(record["inputs"]["build"])
            build["context"] = (cwd / build["context"]).resolve()
            build["dockerfile"] = (cwd / build["dockerfile"]).resolve()
            builds[record["name"]] = build
    return builds


def _without_build_paths(rendered: RenderedStack) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(json.dumps(rendered.resources))
    for record in records:
        if record["type"] == DOCKER_IMAGE:
            del record["inputs"]["build"]["context"], record["inputs"]["build"]["dockerfile"]
    return records


def test_the_program_renders_the_same_from_infra_as_from_the_root(
    rendered_stacks: dict[str, RenderedStack], tmp_path: Path
) -> None:
    from_root = rendered_stacks["dev"]
    from_infra = _render_from(INFRA, tmp_path / "from-infra")
    assert from_infra.manifests == from_root.manifests
    assert _without_build_paths(from_infra) == _without_build_paths(from_root)
    # The build paths are written relative to where the program runs, and name the same files.
    builds = _resolved_builds(from_infra, INFRA)
    assert builds == _resolved_builds(from_root, REPO_ROOT)
    for build in builds.values():
        assert build["context"] == REPO_ROOT
        assert build["dockerfile"] == REPO_ROOT / "apps" / "Dockerfile"
        assert build["dockerfile"].is_file()


def test_build_paths_are_relative_to_the_working_directory() -> None:
    assert build_paths(REPO_ROOT) == (".", "apps/Dockerfile")
    assert build_paths(INFRA) == ("..", "../apps/Dockerfile")


def test_pulumi_imports_with_infra_first_on_the_module_path() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import platform, pulumi; print(platform.__file__)"],
        cwd=INFRA,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert not Path(proc.stdout.strip()).is_relative_to(INFRA)


def _top_level_names(folder: Path) -> set[str]:
    """Module names a folder provides when it is on sys.path: modules, packages, folders."""
    names = set()
    for path in folder.iterdir():
        name = path.stem if path.suffix == ".py" else path.name
        if path.is_dir() or path.suffix == ".py":
            names.add(name)
    return {n for n in names if not n.startswith(("_", "."))}


def test_no_module_under_infra_shadows_a_stdlib_or_installed_module() -> None:
    installed = set(importlib.metadata.packages_distributions())
    taken = set(sys.stdlib_module_names) | installed
    names = _top_level_names(INFRA)
    assert {"assembly", "config", "components"} <= names
    assert sorted(names & taken) == []
    # The check sees the old name: `platform` is the standard library's.
    assert "platform" in taken
