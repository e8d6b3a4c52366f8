"""docs/contracts.md explains the contract package: neither can drift from the other."""

from __future__ import annotations

import pytest
from mlops_contract import env, metrics

from tests.contract.docs_check import (
    CONTRACTS_DOC,
    env_names,
    exposed_metric_names,
    missing_from_doc,
    unknown_in_doc,
)

pytestmark = pytest.mark.unit

DOC = CONTRACTS_DOC.read_text(encoding="utf-8")


def test_the_page_mentions_every_contract_fact() -> None:
    assert missing_from_doc(DOC) == []


def test_the_page_names_nothing_the_contract_lacks() -> None:
    assert unknown_in_doc(DOC) == []


def test_the_checks_see_the_whole_contract() -> None:
    # Guards the checks themselves: they must find the names the issue is about.
    assert {
        env.RETRAIN_POLICY,
        env.RETRAIN_MAX_PSI,
        env.RETRAIN_MAX_ACCURACY_DROP,
        env.RETRAIN_MIN_LABELLED,
        env.MODEL_ALIAS,
    } <= env_names()
    assert metrics.REQUESTS_TOTAL in exposed_metric_names()
    assert metrics.REQUESTS not in exposed_metric_names()
    assert metrics.RETRAIN_LAST_OUTCOME in exposed_metric_names()


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        # A contract name dropped from the page.
        (("`RETRAIN_MIN_LABELLED`", "`RETRAIN_MIN_ROWS`"), "env var `RETRAIN_MIN_LABELLED`"),
        (("`serving_drift_window_rows`", "`drift rows`"), "metric `serving_drift_window_rows`"),
        (("`previous`", "`prior`"), "registry fact `previous`"),
        (("`mlops_contract.signals`", "`signals`"), "module `mlops_contract.signals`"),
        # A default restated wrongly.
        (("(default `0.05`", "(default `0.1`"), "`max_drop` is not given with its default"),
        (("(default `champion`", "(default `live`"), "the `MODEL_ALIAS` row"),
    ],
)
def test_a_page_missing_a_fact_is_reported(edit: tuple[str, str], problem: str) -> None:
    old, new = edit
    assert old in DOC
    problems = missing_from_doc(DOC.replace(old, new))
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("addition", "problem"),
    [
        ("Set `RETRAIN_MAX_F1_DROP` too.", "`RETRAIN_MAX_F1_DROP` looks like an env var"),
        ("See `serving_queue_depth`.", "`serving_queue_depth` looks like a metric"),
        ("See `retrain_last_rows`.", "`retrain_last_rows` looks like a metric"),
    ],
)
def test_a_page_inventing_a_name_is_reported(addition: str, problem: str) -> None:
    problems = unknown_in_doc(f"{DOC}\n{addition}\n")
    assert any(problem in p for p in problems), problems
