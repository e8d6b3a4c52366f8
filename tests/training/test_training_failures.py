"""Integration: every failure exits non-zero with one `error:` line and the champion unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from training import data

from tests import services
from tests.training.helpers import (
    FAST_TRAIN,
    FIXED_HOLDOUT,
    alias_version,
    cli_env,
    error_lines,
    run_in_process,
    run_training,
    unique_model_name,
    version_count,
)

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Champion:
    """A registered model whose version 1 is champion: what every failure must leave alone."""

    name: str
    env: dict[str, str]
    client: MlflowClient

    def assert_unchanged(self) -> None:
        assert alias_version(self.client, self.name, "champion") == "1"
        assert version_count(self.client, self.name) == 1


@pytest.fixture(scope="module")
def champion(mlflow_server: services.MlflowServer, s3_server: services.S3Server) -> Champion:
    """Train from a user CSV in S3 (the s3:// reader path) and promote it."""
    name = unique_model_name()
    env = cli_env(mlflow_server, name)
    key = f"uploads/{name}/traffic.csv"
    csv = data.generate(1500, seed=21).to_csv(index=False).encode()
    s3_server.client().put_object(Bucket="datasets", Key=key, Body=csv)
    source = f"s3://datasets/{key}"
    assert run_in_process("train", *FAST_TRAIN, "--data", source, env=env) == 0
    assert run_in_process("promote", *FIXED_HOLDOUT, env=env) == 0
    client = MlflowClient(tracking_uri=mlflow_server.tracking_uri)
    run = client.get_run(client.get_model_version(name, "1").run_id)
    assert run.data.tags["data_source"] == source
    champ = Champion(name=name, env=env, client=client)
    champ.assert_unchanged()
    return champ


def assert_one_error_line(proc: object, expected: str) -> None:
    lines = error_lines(proc)  # type: ignore[arg-type]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert expected in lines[0], lines[0]
    assert "Traceback" not in proc.stderr  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", ["train", "promote", "rollback", "status"])
def test_mlflow_unreachable_fails_fast_with_one_line(champion: Champion, command: str) -> None:
    uri = f"http://127.0.0.1:{services.free_port()}"
    proc = run_training(command, env={**champion.env, "MLFLOW_TRACKING_URI": uri})
    assert proc.returncode == 1
    assert_one_error_line(proc, f"MLflow at {uri}: connection refused or unreachable")
    champion.assert_unchanged()


def test_s3_unreachable_fails_before_registering(champion: Champion) -> None:
    endpoint = f"http://127.0.0.1:{services.free_port()}"
    env = {**champion.env, "MLFLOW_S3_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_S3": endpoint}
    proc = run_training("train", *FAST_TRAIN, env=env)
    assert proc.returncode == 1
    assert_one_error_line(proc, f"S3 at {endpoint}: connection refused or unreachable")
    assert "writing s3://datasets/" in proc.stderr
    champion.assert_unchanged()


def test_missing_s3_object_names_the_uri(champion: Champion) -> None:
    proc = run_training("train", "--data", "s3://datasets/no/such/file.csv", env=champion.env)
    assert proc.returncode == 1
    assert_one_error_line(proc, "reading s3://datasets/no/such/file.csv: S3 at")
    champion.assert_unchanged()


def write_csv(path: Path, frame: object) -> str:
    frame.to_csv(path, index=False)  # type: ignore[attr-defined]
    return str(path)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("empty", "is empty (0 rows)"),
        ("malformed", "is not valid Parquet"),
        ("missing_column", "is missing column(s) weather"),
        ("wrong_dtype", "column 'recent_speed_kmh' must be numeric"),
    ],
)
def test_bad_datasets_fail_with_the_reason(
    champion: Champion, tmp_path: Path, case: str, expected: str
) -> None:
    frame = data.generate(200, seed=1)
    if case == "empty":
        source = write_csv(tmp_path / "empty.csv", frame.iloc[0:0])
    elif case == "malformed":
        (tmp_path / "bad.parquet").write_bytes(b"PAR1 definitely not parquet")
        source = str(tmp_path / "bad.parquet")
    elif case == "missing_column":
        source = write_csv(tmp_path / "missing.csv", frame.drop(columns=["weather"]))
    else:
        frame["recent_speed_kmh"] = "fast"
        source = write_csv(tmp_path / "dtype.csv", frame)
    proc = run_training("train", "--data", source, env=champion.env)
    assert proc.returncode == 1
    assert_one_error_line(proc, expected)
    champion.assert_unchanged()


def test_bad_holdout_fails_promote_without_moving_aliases(
    champion: Champion, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "holdout.csv", data.generate(50).drop(columns=["congested"]))
    proc = run_training("promote", "--version", "1", "--holdout", source, env=champion.env)
    assert proc.returncode == 1
    assert_one_error_line(proc, "is missing column(s) congested")
    champion.assert_unchanged()


def test_invalid_threshold_is_a_one_line_error(champion: Champion) -> None:
    proc = run_training("promote", "--floor", "1.5", env=champion.env)
    assert proc.returncode == 1
    assert_one_error_line(proc, "invalid option: gate floor must be within [0, 1], got 1.5")
    champion.assert_unchanged()
