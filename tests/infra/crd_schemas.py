"""JSON Schemas of the custom resources, derived from the pinned charts' own CRDs.

scripts/crd_schemas.py converts each CRD version's openAPIV3Schema (closed: a field the CRD does
not declare is an error unless it says `x-kubernetes-preserve-unknown-fields`) and stores it in
infra/upstream/chart-schemas/<chart>/ with source.json naming the chart version it came from.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "infra" / "upstream" / "chart-schemas"


def chart_sources() -> dict[str, dict[str, Any]]:
    """source.json of every chart folder: {chart: {"version": ..., "tag": ..., ...}}."""
    return {
        folder.name: json.loads((folder / "source.json").read_text(encoding="utf-8"))
        for folder in sorted(SCHEMA_DIR.iterdir())
        if folder.is_dir()
    }


@cache
def custom_resource_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """{(apiVersion, kind): schema} for every stored CRD version."""
    schemas = {}
    for path in sorted(SCHEMA_DIR.glob("*/*_*_*.json")):
        group, version, kind = path.stem.split("_")
        schemas[(f"{group}/{version}", kind)] = json.loads(path.read_text(encoding="utf-8"))
    return schemas
