"""Structural checks for dashboards and rule files; each returns a list of problems (empty = ok).

The tests run these on the committed files and on deliberately broken copies; the generator runs
them before writing, so a broken definition never reaches a file.
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dashboards.grafana import DATASOURCE, GRID_COLUMNS, SCHEMA_VERSION

SEVERITIES = ("critical", "warning", "info")
RECORD_NAME = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z0-9_]+$")


def _walk_datasources(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield where, value
            yield from _walk_datasources(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk_datasources(value, f"{where}[{index}]")


def _grid_problems(panels: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    cells: dict[tuple[int, int], int] = {}
    for panel in panels:
        pid: Any = panel.get("id")
        pos = panel.get("gridPos", {})
        values = [pos.get(k) for k in ("h", "w", "x", "y")]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            problems.append(f"panel {pid}: gridPos needs integer h, w, x, y, got {pos}")
            continue
        h, w, x, y = values
        if h < 1 or w < 1 or x < 0 or y < 0 or x + w > GRID_COLUMNS:
            problems.append(f"panel {pid}: gridPos {pos} outside the {GRID_COLUMNS}-column grid")
            continue
        for cell in ((cx, cy) for cx in range(x, x + w) for cy in range(y, y + h)):
            if cell in cells:
                problems.append(f"panel {pid}: gridPos overlaps panel {cells[cell]}")
                break
            cells[cell] = pid
    return problems


def _target_problems(panel: dict[str, Any]) -> list[str]:
    targets = panel.get("targets") or []
    problems = [] if targets else [f"panel {panel.get('id')}: no targets"]
    for target in targets:
        expr = target.get("expr")
        if not isinstance(expr, str) or not expr.strip():
            problems.append(f"panel {panel.get('id')} target {target.get('refId')}: empty expr")
    return problems


def dashboard_problems(dashboard: dict[str, Any]) -> list[str]:
    """Everything structurally wrong with one dashboard's JSON."""
    problems: list[str] = []
    version = dashboard.get("schemaVersion")
    if not isinstance(version, int) or version < SCHEMA_VERSION:
        problems.append(f"schemaVersion must be >= {SCHEMA_VERSION} (Grafana 11), is {version}")
    variables = dashboard.get("templating", {}).get("list", [])
    if not any(
        v.get("name") == "datasource"
        and v.get("type") == "datasource"
        and v.get("query") == "prometheus"
        for v in variables
    ):
        problems.append("templating: no `datasource` variable of type datasource (prometheus)")
    panels = dashboard.get("panels") or []
    if not panels:
        problems.append("dashboard has no panels")
    ids = [p.get("id") for p in panels]
    duplicates = sorted({i for i in ids if ids.count(i) > 1}, key=str)
    if duplicates:
        problems.append(f"duplicate panel ids: {duplicates}")
    problems += _grid_problems(panels)
    for panel in panels:
        problems += _target_problems(panel)
    for where, datasource in _walk_datasources(panels, "panels"):
        if datasource != DATASOURCE:
            problems.append(
                f"{where}: datasource {datasource!r} is not the ${{datasource}} variable"
            )
    return problems


def _alert_problems(rule: dict[str, Any], runbook_dir: Path) -> list[str]:
    name = rule["alert"]
    labels, notes = rule.get("labels") or {}, rule.get("annotations") or {}
    problems = []
    if labels.get("severity") not in SEVERITIES:
        problems.append(f"alert {name}: label severity must be one of {SEVERITIES}")
    if not notes.get("summary"):
        problems.append(f"alert {name}: annotation summary missing")
    if "$value" not in str(notes.get("description", "")):
        problems.append(f"alert {name}: annotation description must show {{{{ $value }}}}")
    if not str(notes.get("runbook_url", "")).endswith(f"/{name}.md"):
        problems.append(f"alert {name}: runbook_url must end with /{name}.md")
    if not (runbook_dir / f"{name}.md").is_file():
        problems.append(f"alert {name}: runbook {runbook_dir.name}/{name}.md does not exist")
    if "for" not in rule:
        problems.append(f"alert {name}: no `for` duration")
    return problems


def rule_file_problems(content: dict[str, Any], runbook_dir: Path) -> list[str]:
    """Everything wrong with one rule file: alert metadata, runbooks, recording rule names."""
    problems: list[str] = []
    groups = content.get("groups")
    if not isinstance(groups, list) or not groups:
        return ["rule file has no `groups:` list"]
    for group in groups:
        for rule in group.get("rules", []):
            if "alert" in rule:
                problems += _alert_problems(rule, runbook_dir)
            elif not RECORD_NAME.match(str(rule.get("record", ""))):
                problems.append(
                    f"record {rule.get('record')!r}: name is not level:metric:operations"
                )
    return problems
