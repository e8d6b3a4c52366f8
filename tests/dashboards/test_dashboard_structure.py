"""Structure of every dashboard and rule file, each check shown able to fail on a broken copy."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards import generate
from dashboards.lint import dashboard_problems, rule_file_problems
from dashboards.panels import dashboards
from dashboards.rules import ALERTS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_FILES = sorted((ROOT / "dashboards" / "grafana").glob("*.json"))
RULE_FILES = sorted((ROOT / "dashboards" / "rules").glob("*.yaml"))
RUNBOOKS = ROOT / "docs" / "runbooks"


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture
def serving_dashboard() -> dict[str, Any]:
    return copy.deepcopy(_load(ROOT / "dashboards" / "grafana" / "model-serving.json"))


def test_the_three_dashboards_are_committed() -> None:
    titles = {_load(p)["title"] for p in DASHBOARD_FILES}
    assert titles == {"Model serving", "Model quality", "Platform"}
    assert len({_load(p)["uid"] for p in DASHBOARD_FILES}) == 3


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_committed_dashboard_is_structurally_valid(path: Path) -> None:
    dashboard = _load(path)
    assert dashboard_problems(dashboard) == []
    assert dashboard["schemaVersion"] >= 39
    assert all(t["expr"] for p in dashboard["panels"] for t in p["targets"])


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_committed_rule_file_has_alert_metadata_and_runbooks(path: Path) -> None:
    assert rule_file_problems(yaml.safe_load(path.read_text(encoding="utf-8")), RUNBOOKS) == []


def test_every_alert_has_a_runbook_page() -> None:
    for alert in ALERTS:
        page = RUNBOOKS / f"{alert.name}.md"
        assert page.is_file(), f"missing {page}"
        text = page.read_text(encoding="utf-8")
        assert text.startswith(f"# {alert.name}")
        for section in ("**Meaning.**", "**Confirm.**", "**Act.**"):
            assert section in text, f"{page.name} lacks {section}"


def test_runbook_index_lists_every_alert_and_no_orphan_pages() -> None:
    index = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    names = {alert.name for alert in ALERTS}
    for name in names:
        assert f"[{name}]({name}.md)" in index
    pages = {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"}
    assert pages == names


def test_generator_output_equals_committed_files() -> None:
    rendered = generate.rendered_files()
    assert set(rendered) == {*DASHBOARD_FILES, *RULE_FILES}
    for path, text in rendered.items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run `uv run --frozen python -m dashboards.generate`"
        )
    assert generate.main(["--check"]) == 0


def test_generator_check_reports_a_stale_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(generate, "GRAFANA_DIR", tmp_path)
    assert generate.main(["--check"]) == 1


def test_generator_refuses_definitions_that_fail_the_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> dict[str, dict[str, Any]]:
        built = dashboards()
        built["platform.json"]["panels"][0]["targets"][0]["expr"] = ""
        return built

    monkeypatch.setattr(generate, "dashboards", broken)
    with pytest.raises(ValueError, match="empty expr"):
        generate.rendered_files()


# --- each dashboard check fails on a broken example ---------------------------------------------


def test_duplicate_panel_ids_are_reported(serving_dashboard: dict[str, Any]) -> None:
    serving_dashboard["panels"][1]["id"] = serving_dashboard["panels"][0]["id"]
    assert any("duplicate panel ids" in p for p in dashboard_problems(serving_dashboard))


def test_panel_wider_than_the_grid_is_reported(serving_dashboard: dict[str, Any]) -> None:
    serving_dashboard["panels"][0]["gridPos"].update(x=20, w=8)
    assert any("outside the 24-column grid" in p for p in dashboard_problems(serving_dashboard))


def test_non_integer_grid_position_is_reported(serving_dashboard: dict[str, Any]) -> None:
    serving_dashboard["panels"][0]["gridPos"]["y"] = 1.5
    assert any("integer h, w, x, y" in p for p in dashboard_problems(serving_dashboard))


def test_overlapping_panels_are_reported(serving_dashboard: dict[str, Any]) -> None:
    first, second = serving_dashboard["panels"][:2]
    second["gridPos"].update(x=first["gridPos"]["x"], y=first["gridPos"]["y"])
    assert any("overlaps panel" in p for p in dashboard_problems(serving_dashboard))


def test_missing_datasource_variable_is_reported(serving_dashboard: dict[str, Any]) -> None:
    serving_dashboard["templating"]["list"] = []
    assert any("`datasource` variable" in p for p in dashboard_problems(serving_dashboard))


def test_hard_coded_datasource_uid_is_reported(serving_dashboard: dict[str, Any]) -> None:
    serving_dashboard["panels"][2]["targets"][0]["datasource"] = {
        "type": "prometheus",
        "uid": "P1809F7CD0C75ACF3",
    }
    problems = dashboard_problems(serving_dashboard)
    assert any("P1809F7CD0C75ACF3" in p and "targets[0]" in p for p in problems)


def test_panel_without_datasource_variable_is_reported(serving_dashboard: dict[str, Any]) -> None:
    serving_dashboard["panels"][3]["datasource"] = "Prometheus"
    assert any("'Prometheus'" in p for p in dashboard_problems(serving_dashboard))


def test_target_without_expression_is_reported(serving_dashboard: dict[str, Any]) -> None:
    del serving_dashboard["panels"][4]["targets"][0]["expr"]
    assert any("empty expr" in p for p in dashboard_problems(serving_dashboard))


def test_panel_without_targets_is_reported(serving_dashboard: dict[str, Any]) -> None:
    serving_dashboard["panels"][4]["targets"] = []
    assert any("no targets" in p for p in dashboard_problems(serving_dashboard))


def test_old_schema_version_is_reported(serving_dashboard: dict[str, Any]) -> None:
    serving_dashboard["schemaVersion"] = 27
    assert any("schemaVersion" in p for p in dashboard_problems(serving_dashboard))


# --- each rule check fails on a broken example --------------------------------------------------


def _serving_rules() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (ROOT / "dashboards" / "rules" / "serving.yaml").read_text()
    )
    return loaded


def _first_alert(content: dict[str, Any]) -> dict[str, Any]:
    alert: dict[str, Any] = next(r for g in content["groups"] for r in g["rules"] if "alert" in r)
    return alert


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda a: a["labels"].pop("severity"), "label severity"),
        (lambda a: a["labels"].update(severity="page-me"), "label severity"),
        (lambda a: a["annotations"].pop("summary"), "summary missing"),
        (lambda a: a["annotations"].update(description="it broke"), "$value"),
        (lambda a: a["annotations"].pop("runbook_url"), "runbook_url"),
        (lambda a: a.update(alert="NoSuchRunbook"), "runbook runbooks/NoSuchRunbook.md"),
        (lambda a: a.pop("for"), "no `for`"),
    ],
    ids=[
        "no-severity",
        "bad-severity",
        "no-summary",
        "no-value",
        "no-runbook-url",
        "no-runbook-page",
        "no-for",
    ],
)
def test_broken_alert_metadata_is_reported(breakage: Any, message: str) -> None:
    content = _serving_rules()
    breakage(_first_alert(content))
    assert any(message in p for p in rule_file_problems(content, RUNBOOKS))


def test_badly_named_recording_rule_is_reported() -> None:
    content = _serving_rules()
    content["groups"][0]["rules"][0]["record"] = "serving_request_rate"
    assert any("level:metric:operations" in p for p in rule_file_problems(content, RUNBOOKS))
