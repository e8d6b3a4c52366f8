"""Snapshots on the real S3 (content-addressed, idempotent) and the CLI's help and usage."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from training import data, snapshot
from training.cli import main
from training.settings import Settings
from training.storage import S3Config

from tests import services


@pytest.mark.integration
def test_snapshot_is_content_addressed_and_uploaded_once(
    s3_server: services.S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    settings = Settings()  # the store and bucket, as the CLI reads them
    s3 = S3Config.from_settings(settings)
    assert s3.endpoint_url == s3_server.endpoint_url
    frame = data.generate(300, seed=int(uuid.uuid4().int % 100_000))
    name = f"snap-{uuid.uuid4().hex[:8]}"
    first = snapshot.snapshot(frame, name, bucket=settings.datasets_bucket, s3=s3)
    second = snapshot.snapshot(frame.copy(), name, bucket=settings.datasets_bucket, s3=s3)
    assert first.uploaded
    assert not second.uploaded
    assert first.uri == second.uri == f"s3://datasets/{name}/{first.sha256}.parquet"
    body = s3_server.client().get_object(Bucket="datasets", Key=f"{name}/{first.sha256}.parquet")
    raw = body["Body"].read()
    assert hashlib.sha256(raw).hexdigest() == first.sha256 == snapshot.sha256_of(frame)
    assert first.digest == first.sha256[:32]


@pytest.mark.unit
@pytest.mark.parametrize("command", ["train", "promote", "rollback", "status", "retrain"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: python -m training {command}" in capsys.readouterr().out


@pytest.mark.unit
def test_missing_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "required: COMMAND" in capsys.readouterr().err


@pytest.mark.unit
def test_drift_policy_without_prometheus_url_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    monkeypatch.delenv("PUSHGATEWAY_URL", raising=False)
    assert main(["retrain", "--policy", "drift"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: PROMETHEUS_URL is not set; policy 'drift' needs it for drift "
        "(set it to the Prometheus server URL, or drop `drift` from the policy)\n"
    )
