"""The Prometheus rule files pass promtool, and every alert is unit-tested both ways."""

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.rules import ALERTS
from sandbox.services import promtool_path

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = sorted((ROOT / "dashboards" / "rules").glob("*.yaml"))
TEST_FILES = sorted((ROOT / "dashboards" / "rules" / "tests").glob("*_test.yaml"))


def _promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool_path(), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_rule_files_and_unit_tests_exist() -> None:
    assert {p.name for p in RULE_FILES} == {"serving.yaml", "quality.yaml", "platform.yaml"}
    assert len(TEST_FILES) == len(RULE_FILES)


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules_accepts_rule_file(rule_file: Path) -> None:
    result = _promtool("check", "rules", rule_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(test_file: Path) -> None:
    result = _promtool("test", "rules", test_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_rules_rejects_a_broken_expression(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: sum by (job (up)\n")
    result = _promtool("check", "rules", broken)
    assert result.returncode != 0


def test_promtool_unit_test_fails_when_the_expected_alert_differs(tmp_path: Path) -> None:
    # A copy of the serving tests expecting a wrong description must fail: promtool compares
    # labels and annotations exactly, so the passing run above is a real check.
    source = (ROOT / "dashboards" / "rules" / "tests" / "serving_test.yaml").read_text()
    assert "1.961%" in source
    copy = tmp_path / "serving_test.yaml"
    copy.write_text(
        source.replace("1.961%", "1.5%").replace(
            "../serving.yaml", str(ROOT / "dashboards" / "rules" / "serving.yaml")
        )
    )
    result = _promtool("test", "rules", copy)
    assert result.returncode != 0
    assert "1.5%" in result.stdout + result.stderr


def _alert_cases(test_file: Path) -> list[tuple[str, bool]]:
    content: dict[str, Any] = yaml.safe_load(test_file.read_text())
    return [
        (case["alertname"], bool(case.get("exp_alerts")))
        for group in content["tests"]
        for case in group.get("alert_rule_test", [])
    ]


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    cases = [case for test_file in TEST_FILES for case in _alert_cases(test_file)]
    fired = {name for name, fires in cases if fires}
    quiet = {name for name, fires in cases if not fires}
    names = {alert.name for alert in ALERTS}
    assert len(names) == len(ALERTS), "alert names must be unique"
    assert names - fired == set(), "alerts without a test that fires them"
    assert names - quiet == set(), "alerts without a test that keeps them quiet"
    # The committed rule files hold exactly the alerts the definitions declare.
    in_files = {
        rule["alert"]
        for rule_file in RULE_FILES
        for group in yaml.safe_load(rule_file.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert in_files == names
