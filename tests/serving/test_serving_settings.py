"""Settings come from the environment; a bad environment fails with the variable's name."""

from __future__ import annotations

import pytest
from mlops_contract import registry
from serving.settings import Settings, SettingsError, load_settings

pytestmark = pytest.mark.unit


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("MLFLOW_TRACKING_URI", "MODEL_NAME", "MODEL_ALIAS", "MAX_BATCH_ROWS",
                 "MODEL_POLL_INTERVAL_SECONDS", "BATCH_MAX_WAIT_MS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_follow_the_contract(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000/")
    settings = load_settings()
    assert settings.mlflow_tracking_uri == "http://mlflow:5000"
    assert settings.model_name == registry.DEFAULT_MODEL_NAME
    assert settings.model_alias == registry.CHAMPION_ALIAS
    assert settings.model_poll_interval_seconds == 10


def test_environment_overrides_defaults(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    clean_env.setenv("MODEL_ALIAS", "challenger")
    clean_env.setenv("MAX_BATCH_ROWS", "64")
    settings = load_settings()
    assert (settings.model_alias, settings.max_batch_rows) == ("challenger", 64)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "MLFLOW_TRACKING_URI"),
        ({"MLFLOW_TRACKING_URI": "./mlruns"}, "MLFLOW_TRACKING_URI"),
        ({"MLFLOW_TRACKING_URI": "http://m:5000", "MAX_BATCH_ROWS": "0"}, "MAX_BATCH_ROWS"),
        ({"MLFLOW_TRACKING_URI": "http://m:5000", "MODEL_ALIAS": ""}, "MODEL_ALIAS"),
        (
            {"MLFLOW_TRACKING_URI": "http://m:5000", "MODEL_POLL_INTERVAL_SECONDS": "soon"},
            "MODEL_POLL_INTERVAL_SECONDS",
        ),
    ],
    ids=["missing uri", "local uri", "zero batch rows", "empty alias", "non-numeric interval"],
)
def test_bad_environment_names_the_variable(
    clean_env: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for key, value in env.items():
        clean_env.setenv(key, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_fields_can_be_passed_by_name(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings(mlflow_tracking_uri="http://m:5000", model_alias="custom")
    assert (settings.mlflow_tracking_uri, settings.model_alias) == ("http://m:5000", "custom")
