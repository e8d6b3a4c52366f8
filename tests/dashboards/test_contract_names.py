"""The dashboards and rules name only the contract's metrics, and draw the contract's thresholds."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from mlops_contract import metrics as m
from mlops_contract.triggers import AccuracyDropTrigger, DriftTrigger, Triggers

from dashboards.panels import dashboards
from dashboards.rules import build_rule_files

pytestmark = pytest.mark.unit

_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
CUSTOM = Triggers(
    drift=DriftTrigger(max_psi=0.3),
    accuracy=AccuracyDropTrigger(max_drop=0.1, min_labelled=5),
)


def _contract_metrics() -> set[str]:
    names = {v for k, v in vars(m).items() if k.isupper() and isinstance(v, str)}
    histograms = {m.REQUEST_DURATION, m.BATCH_SIZE}
    return names | {f"{h}{suffix}" for h in histograms for suffix in _HISTOGRAM_SERIES}


def _app_metrics_named(exprs: list[str]) -> set[str]:
    # Recording-rule names contain ':' and are the dashboards' own; skip them.
    return {
        token
        for expr in exprs
        for token in _IDENTIFIER.findall(expr)
        if ":" not in token and token.startswith(("serving_", "retrain_"))
    }


def _rule_exprs() -> list[str]:
    return [
        rule["expr"]
        for content in build_rule_files().values()
        for group in content["groups"]
        for rule in group["rules"]
    ]


def _panel_exprs() -> list[str]:
    return [
        target["expr"]
        for board in dashboards().values()
        for panel in board["panels"]
        for target in panel["targets"]
    ]


def test_rules_and_panels_name_only_contract_metrics() -> None:
    named = _app_metrics_named(_rule_exprs() + _panel_exprs())
    assert named, "the scan must see the serving and retrain metrics"
    assert named - _contract_metrics() == set()


def test_the_scan_catches_a_misspelt_metric() -> None:
    typo = 'sum(rate(serving_request_total{job="serving"}[5m]))'
    assert _app_metrics_named([typo]) - _contract_metrics() == {"serving_request_total"}


def test_retrain_outcomes_in_rules_are_the_contracts() -> None:
    outcomes = {o for expr in _rule_exprs() for o in re.findall(r'outcome="([^"]+)"', expr)}
    assert outcomes
    assert outcomes <= set(m.RETRAIN_OUTCOMES)


def _quality_thresholds(triggers: Triggers | None) -> dict[str, Any]:
    board = dashboards(triggers)["model-quality.json"]
    return {
        panel["title"]: panel["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"]
        for panel in board["panels"]
        if len(panel["fieldConfig"]["defaults"]["thresholds"]["steps"]) > 1
    }


@pytest.mark.parametrize("triggers", [None, CUSTOM], ids=["defaults", "custom"])
def test_quality_red_lines_are_the_trigger_thresholds(triggers: Triggers | None) -> None:
    expected = triggers or Triggers()
    red = _quality_thresholds(triggers)
    assert red["Per-feature drift (PSI)"] == expected.drift.max_psi
    assert red["Relative accuracy drop (retrain trigger)"] == expected.accuracy.max_drop


def test_changed_thresholds_reach_the_dashboards_and_the_rules_only_where_meant() -> None:
    default_boards, custom_boards = dashboards(), dashboards(CUSTOM)
    assert default_boards["model-serving.json"] == custom_boards["model-serving.json"]
    assert default_boards["platform.json"] == custom_boards["platform.json"]
    assert json.dumps(default_boards["model-quality.json"]) != json.dumps(
        custom_boards["model-quality.json"]
    )
    default_rules, custom_rules = build_rule_files(), build_rule_files(CUSTOM)
    assert default_rules["serving.yaml"] == custom_rules["serving.yaml"]
    assert default_rules["platform.yaml"] == custom_rules["platform.yaml"]
    assert default_rules["quality.yaml"] != custom_rules["quality.yaml"]
