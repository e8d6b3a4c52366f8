"""The pack checks any fork of the program, so it must not depend on the program it checks."""

from __future__ import annotations

import ast
from pathlib import Path

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_policy_imports_neither_infra_nor_the_apps() -> None:
    modules = sorted(POLICY_DIR.glob("*.py"))
    assert len(modules) > 5
    offenders = {
        path.name: sorted(_imported_roots(path) & {"infra", "training", "serving", "dashboards"})
        for path in modules
    }
    assert {name: found for name, found in offenders.items() if found} == {}
