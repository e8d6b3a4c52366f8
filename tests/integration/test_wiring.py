"""tests/wiring.py: a rendered container becomes a loopback command, or the test is told why not."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests import wiring

pytestmark = pytest.mark.unit


def _container(**extra: Any) -> wiring.RenderedContainer:
    """A rendered container shaped like the platform's: literal, secret-backed and $(VAR) env."""
    container = {
        "name": "api",
        "command": ["uvicorn", "app.main:app"],
        "args": ["--host", "0.0.0.0", "--port", "8080", "--db", "$(DB_URL)"],
        "env": [
            {"name": "TRACKING_URI", "value": "http://mlflow.mlops-platform.svc.cluster.local"},
            {"name": "HOME", "value": "/tmp"},  # the pod's emptyDir, not this host
            {"name": "DB_URL", "valueFrom": {"secretKeyRef": {"name": "db-app", "key": "uri"}}},
        ],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
        **extra,
    }
    workload = {"kind": "Deployment", "metadata": {"name": "api"}}
    return wiring.RenderedContainer(workload, container)


def test_localize_substitutes_secrets_overrides_and_flags() -> None:
    local = wiring.localize(
        _container(),
        secrets={"DB_URL": "postgresql://loopback/db"},
        overrides={"TRACKING_URI": "http://127.0.0.1:5000", "HOME": "/var/empty"},
        flags={"--host": "127.0.0.1", "--port": "18080"},
    )
    assert local.env == {
        "TRACKING_URI": "http://127.0.0.1:5000",
        "HOME": "/var/empty",
        "DB_URL": "postgresql://loopback/db",
    }
    # The image's console script runs as this interpreter's module; $(DB_URL) is expanded.
    assert local.argv == [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        "18080",
        "--db",
        "postgresql://loopback/db",
    ]


def test_localize_refuses_a_secret_backed_variable_without_a_test_value() -> None:
    with pytest.raises(KeyError, match="DB_URL comes from a Secret"):
        wiring.localize(_container(), secrets={}, overrides={}, flags={})


def test_localize_refuses_an_override_for_a_variable_the_manifest_does_not_set() -> None:
    # A renamed or dropped env var in the manifest must break the test, not be papered over.
    with pytest.raises(KeyError, match="override for MODEL_NAME"):
        wiring.localize(
            _container(),
            secrets={"DB_URL": "x"},
            overrides={"MODEL_NAME": "other"},
            flags={},
        )


def test_localize_refuses_a_flag_the_rendered_args_do_not_have() -> None:
    with pytest.raises(KeyError, match="--workers not in rendered args"):
        wiring.localize(
            _container(), secrets={"DB_URL": "x"}, overrides={}, flags={"--workers": "2"}
        )


def test_rendered_container_names_its_ports_and_probes() -> None:
    container = _container()
    assert container.port("http") == 8080
    assert container.probe_path("readinessProbe") == "/readyz"
    with pytest.raises(KeyError, match="no port named 'metrics'"):
        container.port("metrics")


def test_render_of_an_invalid_stack_file_names_the_file(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.broken.yaml"
    stack_file.write_text("config:\n  mlops-platform:environment: nowhere\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"render of dev from .*Pulumi\.broken\.yaml failed"):
        wiring.render("dev", tmp_path / "out", stack_file)
