"""Small builders for Grafana dashboard JSON (classic model, schemaVersion 39: Grafana 11 and 12).

Panels are laid out in rows of a 24-column grid; every panel and target reads the Prometheus data
source chosen in the `datasource` template variable, so no data source UID is hard-coded.
"""

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 39
GRID_COLUMNS = 24
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@dataclass(frozen=True, kw_only=True)
class Target:
    """One PromQL query of a panel."""

    expr: str
    legend: str = ""


@dataclass(frozen=True, kw_only=True)
class Panel:
    """A time series or stat panel before layout."""

    title: str
    description: str
    targets: list[Target]
    kind: str = "timeseries"
    unit: str = "short"
    width: int = 12
    height: int = 8
    threshold: float | None = None
    extra_defaults: dict[str, Any] = field(default_factory=dict)
    extra_options: dict[str, Any] = field(default_factory=dict)


def _thresholds(threshold: float | None) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if threshold is not None:
        steps.append({"color": "red", "value": threshold})
    return {"mode": "absolute", "steps": steps}


def _target(target: Target, ref_id: str, instant: bool) -> dict[str, Any]:
    return {
        "datasource": dict(DATASOURCE),
        "editorMode": "code",
        "expr": target.expr,
        "instant": instant,
        "legendFormat": target.legend or "__auto",
        "range": not instant,
        "refId": ref_id,
    }


def _options(kind: str) -> dict[str, Any]:
    if kind == "stat":
        return {
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "auto",
        }
    return {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }


def _custom(panel: Panel) -> dict[str, Any]:
    if panel.kind != "timeseries":
        return {}
    # A dashed red line at the alert threshold, so the panel shows what pages.
    style = "line+area" if panel.threshold is not None else "off"
    return {"custom": {"drawStyle": "line", "lineWidth": 1, "thresholdsStyle": {"mode": style}}}


def panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    """Grafana JSON for one panel at grid position (x, y)."""
    instant = panel.kind == "stat"
    ref_ids = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return {
        "datasource": dict(DATASOURCE),
        "description": panel.description,
        "fieldConfig": {
            "defaults": {
                **_custom(panel),
                "thresholds": _thresholds(panel.threshold),
                "unit": panel.unit,
                **panel.extra_defaults,
            },
            "overrides": [],
        },
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "id": panel_id,
        "options": {**_options(panel.kind), **panel.extra_options},
        "targets": [_target(t, ref_ids[i], instant) for i, t in enumerate(panel.targets)],
        "title": panel.title,
        "type": panel.kind,
    }


def layout(panels: list[Panel]) -> list[dict[str, Any]]:
    """Flow panels left to right into rows of 24 columns; ids are 1..n in order."""
    out: list[dict[str, Any]] = []
    x = y = row_height = 0
    for index, panel in enumerate(panels, start=1):
        if not 0 < panel.width <= GRID_COLUMNS:
            raise ValueError(f"panel {panel.title!r}: width {panel.width} not in 1..{GRID_COLUMNS}")
        if x + panel.width > GRID_COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        out.append(panel_json(panel, index, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return out


def dashboard(uid: str, title: str, description: str, panels: list[Panel]) -> dict[str, Any]:
    """A complete dashboard with the `datasource` variable and the given panels."""
    return {
        "annotations": {"list": []},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [],
        "panels": layout(panels),
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["mlops-platform"],
        "templating": {
            "list": [
                {
                    "current": {},
                    "hide": 0,
                    "includeAll": False,
                    "label": "Data source",
                    "multi": False,
                    "name": "datasource",
                    "options": [],
                    "query": "prometheus",
                    "refresh": 1,
                    "regex": "",
                    "type": "datasource",
                }
            ]
        },
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
    }
