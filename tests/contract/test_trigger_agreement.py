"""The alert rules and the retrain decision agree on when drift and an accuracy drop fire.

The same fleet states go to the contract's Python decision (`DriftTrigger.fires`,
`AccuracyDropTrigger.fires`, which `retrain` calls) and, as promtool unit tests, to the
`FeatureDriftHigh` and `OnlineAccuracyDrop` rules that `build_rule_files(triggers)` writes. The
Python decision writes each test's expected alerts; promtool passes only if the PromQL raises
exactly those. Run with the default thresholds and with others, so a changed threshold is seen
to flow into the rules.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlops_contract.triggers import AccuracyDropTrigger, DriftTrigger, Triggers

from dashboards.generate import render_rules
from dashboards.rules import build_rule_files
from sandbox.services import promtool_path
from tests.contract import trigger_grid as grid

pytestmark = pytest.mark.unit

QUALITY_FILE = "quality.yaml"
TRIGGER_SETS = {
    "defaults": Triggers(),
    "custom": Triggers(
        drift=DriftTrigger(max_psi=0.3),
        accuracy=AccuracyDropTrigger(max_drop=0.1, min_labelled=5),
    ),
    # Dyadic thresholds: here a relative drop can equal max_drop exactly (0.875 vs 1.0).
    "dyadic": Triggers(
        drift=DriftTrigger(max_psi=0.25),
        accuracy=AccuracyDropTrigger(max_drop=0.125, min_labelled=8),
    ),
}


def _expectations(triggers: Triggers) -> tuple[dict[str, Any], list[grid.Expectation]]:
    rule_files = build_rule_files(triggers)
    expectations = grid.accuracy_expectations(triggers, rule_files)
    expectations += grid.drift_expectations(triggers, rule_files)
    return rule_files, expectations


def _run_promtool(
    tmp_path: Path, rule_files: dict[str, Any], expectations: list[grid.Expectation]
) -> subprocess.CompletedProcess[str]:
    quality = rule_files[QUALITY_FILE]
    (tmp_path / QUALITY_FILE).write_text(render_rules(quality), encoding="utf-8")
    test_file = tmp_path / "agreement_test.yaml"
    content = grid.promtool_test_file(QUALITY_FILE, quality, expectations)
    test_file.write_text(yaml.safe_dump(content, sort_keys=False, width=1000), encoding="utf-8")
    return subprocess.run(
        [promtool_path(), "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.mark.parametrize("label", TRIGGER_SETS)
def test_promql_raises_exactly_the_alerts_the_python_decision_expects(
    label: str, tmp_path: Path
) -> None:
    triggers = TRIGGER_SETS[label]
    rule_files, expectations = _expectations(triggers)
    for alertname in (grid.ACCURACY_ALERT, grid.DRIFT_ALERT):
        decided = [e.fires for e in expectations if e.alertname == alertname]
        assert any(decided), f"{alertname}: the grid needs cases that fire"
        assert not all(decided), f"{alertname}: the grid needs cases that stay quiet"
    result = _run_promtool(tmp_path, rule_files, expectations)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("side", ["last firing online", "first quiet online"])
def test_promtool_reports_a_boundary_case_whose_expectation_is_flipped(
    side: str, tmp_path: Path
) -> None:
    # The agreement above is a real check: expecting the opposite of the Python decision for
    # one case on either side of the drop boundary fails, and promtool names that case.
    triggers = TRIGGER_SETS["defaults"]
    rule_files, expectations = _expectations(triggers)
    labelled = f", {triggers.accuracy.min_labelled} labelled"
    index = next(i for i, e in enumerate(expectations) if side in e.name and labelled in e.name)
    assert expectations[index].fires == (side == "last firing online")
    expectations[index] = expectations[index].flipped()
    result = _run_promtool(tmp_path, rule_files, expectations)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert output.count("FAILED:") == 1, output[-3000:]
    assert f"name: {expectations[index].name}," in output


@pytest.mark.parametrize("label", TRIGGER_SETS)
def test_accuracy_grid_covers_the_boundaries(label: str) -> None:
    trigger = TRIGGER_SETS[label].accuracy
    cases = grid.accuracy_grid(trigger)
    labelled = {c.labelled for c in cases}
    assert {trigger.min_labelled - 1.0, float(trigger.min_labelled), None} <= labelled
    # The drop is pinned to one ulp: adjacent online figures that decide differently.
    firing = [c for c in cases if c.fires(trigger)]
    quiet = [c for c in cases if not c.fires(trigger)]
    assert firing
    assert quiet
    for offline in (0.9, 0.75):
        last_firing, first_quiet = grid.drop_boundary(offline, trigger)
        assert first_quiet == pytest.approx(last_firing, rel=1e-15, abs=0)
        assert trigger.fires(online=last_firing, offline=offline, labelled=trigger.min_labelled)
        assert not trigger.fires(online=first_quiet, offline=offline, labelled=trigger.min_labelled)
        assert not trigger.fires(
            online=last_firing, offline=offline, labelled=trigger.min_labelled - 1
        )
    # Several versions in one push, a champion without figures, and no champion at all.
    assert any(len(c.versions) >= 2 and c.champion is not None for c in cases)
    assert any(c.champion is not None and c.online is None for c in cases)
    assert any(c.champion is None for c in cases)
    # An old version's bigger drop never fires: only the champion has an offline figure.
    assert any(c.versions[0].online == 0.5 and not c.firing_versions(trigger) for c in cases)


def test_dyadic_thresholds_give_a_drop_exactly_at_max_drop() -> None:
    trigger = TRIGGER_SETS["dyadic"].accuracy
    assert AccuracyDropTrigger.relative_drop(0.875, 1.0) == trigger.max_drop
    at_edge = [
        c
        for c in grid.accuracy_grid(trigger)
        if c.online is not None
        and c.offline
        and AccuracyDropTrigger.relative_drop(c.online, c.offline) == trigger.max_drop
    ]
    assert at_edge, "the dyadic grid must hold a case exactly at max_drop"
    assert not any(c.fires(trigger) for c in at_edge), "at max_drop is not above it"


@pytest.mark.parametrize("label", TRIGGER_SETS)
def test_drift_grid_covers_the_boundary_and_agrees_with_the_largest_psi(label: str) -> None:
    trigger = TRIGGER_SETS[label].drift
    cases = grid.drift_grid(trigger)
    largest = {c.largest_psi for c in cases}
    assert trigger.max_psi in largest
    assert None in largest
    for case in cases:
        # Retrain decides on the largest PSI; the alert fires per feature: same verdict.
        assert bool(case.drifted_features(trigger)) == trigger.fires(case.largest_psi)
    assert any(len(c.psi) > 1 for c in cases)
    assert any(len(values) >= 3 for c in cases for values in c.psi.values())


def test_changed_thresholds_change_decisions_on_the_same_numbers() -> None:
    defaults, custom = TRIGGER_SETS["defaults"], TRIGGER_SETS["custom"]
    fixed = [c for c in grid.accuracy_grid(defaults.accuracy) if c.name.startswith("fixed")]
    assert any(c.fires(defaults.accuracy) != c.fires(custom.accuracy) for c in fixed)
    psi = [c for c in grid.drift_grid(defaults.drift) if c.name.startswith("fixed")]
    changed = [
        c for c in psi if c.drifted_features(defaults.drift) != c.drifted_features(custom.drift)
    ]
    assert changed
    # ... and the rule files carry the changed thresholds.
    rules = build_rule_files(custom)
    assert grid.alert_rule(rules, grid.DRIFT_ALERT)["expr"].endswith(" > 0.3")
    accuracy = grid.alert_rule(rules, grid.ACCURACY_ALERT)["expr"]
    assert " > 0.1\n" in accuracy
    assert accuracy.endswith(" >= 5")
