"""`python -m training bootstrap`: a first champion once, then nothing (real MLflow and S3)."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient
from mlops_contract.registry import CHAMPION_ALIAS

from tests.training.helpers import (
    FAST_TRAIN,
    FIXED_HOLDOUT,
    alias_version,
    run_training,
    version_count,
)

pytestmark = pytest.mark.integration


def test_bootstrap_promotes_a_first_model_then_changes_nothing(
    training_env: dict[str, str], model_name: str, client: MlflowClient
) -> None:
    first = run_training("bootstrap", *FAST_TRAIN, *FIXED_HOLDOUT, env=training_env)
    assert first.returncode == 0, first.stderr
    assert f"{model_name}@{CHAMPION_ALIAS} names no version" in first.stdout
    assert "PROMOTED" in first.stdout
    assert alias_version(client, model_name, CHAMPION_ALIAS) == "1"
    updated = client.get_registered_model(model_name).last_updated_timestamp

    second = run_training("bootstrap", *FAST_TRAIN, *FIXED_HOLDOUT, env=training_env)
    assert second.returncode == 0, second.stderr
    assert f"{model_name}@{CHAMPION_ALIAS} is already version 1: nothing to do" in second.stdout
    assert "PROMOTED" not in second.stdout
    assert version_count(client, model_name) == 1
    assert alias_version(client, model_name, CHAMPION_ALIAS) == "1"
    assert client.get_registered_model(model_name).last_updated_timestamp == updated


def test_a_first_model_the_gate_rejects_fails_the_bootstrap_and_names_no_champion(
    training_env: dict[str, str], model_name: str, client: MlflowClient
) -> None:
    # A floor no model reaches: the Job must fail, or serving would wait for a champion forever.
    proc = run_training(
        "bootstrap", "--floor", "0.999", *FAST_TRAIN, *FIXED_HOLDOUT, env=training_env
    )
    assert proc.returncode == 3, proc.stdout
    assert "REJECTED: accuracy" in proc.stdout
    assert version_count(client, model_name) == 1
    assert client.get_registered_model(model_name).aliases == {}
