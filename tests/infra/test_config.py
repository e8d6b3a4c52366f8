"""Stack config: every stack file is valid; broken configs fail with the key and the fix."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlops_contract.registry import CHAMPION_ALIAS, DEFAULT_MODEL_NAME
from mlops_contract.triggers import AccuracyDropTrigger, DriftTrigger, Triggers
from pydantic import BaseModel

from infra import config as config_module
from infra.config import (
    MINIO_WARNING,
    ConfigError,
    PlatformConfig,
    SecureValue,
    config_warnings,
    load_config,
    load_stack_file,
    parse_config,
    raw_from_stack_yaml,
)
from tests.infra.rendering import REPO_ROOT, STACKS, RenderRun

CONFIGS = Path(__file__).parent / "configs"
P = "mlops-platform:"


def _dev_document() -> dict[str, Any]:
    text = (REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def _problems(document: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(raw_from_stack_yaml(document, "test.yaml"), "test.yaml")
    return info.value


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_is_valid(stack: str) -> None:
    cfg = load_stack_file(REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml")
    assert isinstance(cfg, PlatformConfig)
    assert cfg.environment == stack


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_disables_the_default_kubernetes_provider(stack: str) -> None:
    text = (REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(text)["config"]["pulumi:disable-default-providers"] == ["kubernetes"]


def test_prod_is_highly_available_and_dev_is_small() -> None:
    dev = load_stack_file(REPO_ROOT / "stacks" / "Pulumi.dev.yaml")
    prod = load_stack_file(REPO_ROOT / "stacks" / "Pulumi.prod.yaml")
    assert (dev.postgres.instances, prod.postgres.instances) == (1, 3)
    assert dev.serving.replicas == 1
    assert prod.serving.replicas >= 3
    # SeaweedFS: what the tests and the sandbox run (MinIO is archived upstream).
    assert dev.object_store.engine == "seaweedfs"
    assert dev.secrets.provider == "kubernetes"
    assert prod.monitoring.retention == "30d"
    assert dev.monitoring.retention == "2d"


def test_alias_model_name_and_triggers_default_to_the_contract() -> None:
    cfg = load_stack_file(CONFIGS / "seaweedfs.yaml")
    assert (cfg.model_name, cfg.model_alias) == (DEFAULT_MODEL_NAME, CHAMPION_ALIAS)
    assert cfg.training.triggers.to_triggers() == Triggers()


def test_stack_triggers_become_the_contracts_triggers() -> None:
    document = copy.deepcopy(_dev_document())
    _set("training.triggers", {"policy": ["always"], "maxPsi": 0.3, "minLabelled": 50})(document)
    cfg = parse_config(raw_from_stack_yaml(document, "test.yaml"), "test.yaml")
    assert cfg.training.triggers.to_triggers() == Triggers(
        policy=("always",),
        drift=DriftTrigger(max_psi=0.3),
        accuracy=AccuracyDropTrigger(min_labelled=50),
    )


def test_external_object_store_reads_its_secret_as_a_placeholder() -> None:
    cfg = load_stack_file(CONFIGS / "external-s3.yaml")
    assert cfg.object_store.engine == "external"
    assert cfg.object_store.secret_access_key == SecureValue("<secret:objectStore.secretAccessKey>")
    # The ciphertext is never carried along, and repr never shows a secret.
    assert "throwaway" not in repr(cfg)


def test_seaweedfs_config_is_valid() -> None:
    assert load_stack_file(CONFIGS / "seaweedfs.yaml").object_store.engine == "seaweedfs"


def test_seaweedfs_is_the_default_engine_and_minio_warns(
    tmp_path: Path, render_stack: Callable[..., RenderRun]
) -> None:
    document = _dev_document()
    del document["config"][P + "objectStore"]["engine"]
    default = parse_config(raw_from_stack_yaml(document, "test.yaml"), "test.yaml")
    assert default.object_store.engine == "seaweedfs"
    assert config_warnings(default) == []
    document["config"][P + "objectStore"]["engine"] = "minio"
    minio = parse_config(raw_from_stack_yaml(document, "test.yaml"), "test.yaml")
    assert config_warnings(minio) == [MINIO_WARNING]
    # The render says it too (`pulumi up` logs it with pulumi.log.warn), and still renders.
    path = tmp_path / "minio.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    run = render_stack(path, "dev")
    assert run.returncode == 0, run.stderr
    assert f"warning: {MINIO_WARNING}" in run.stderr


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Return a mutation that sets mlops-platform:<a>.<b>... in a stack document."""

    def mutate(document: dict[str, Any]) -> None:
        top, *rest = path.split(".")
        node = document["config"]
        if not rest:
            node[P + top] = value
            return
        node = node.setdefault(P + top, {})
        for part in rest[:-1]:
            node = node.setdefault(part, {})
        node[rest[-1]] = value

    return mutate


def _delete(key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        del document["config"][P + key]

    return mutate


def _external(secret: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        store = document["config"][P + "objectStore"]
        store.update(engine="external", endpoint="https://s3.example.com", accessKeyId="AKIA")
        if secret is not None:
            store["secretAccessKey"] = secret

    return mutate


def _prod(mutate: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def both(document: dict[str, Any]) -> None:
        document["config"][P + "environment"] = "prod"
        document["config"][P + "serving"]["replicas"] = 3
        document["config"][P + "postgres"]["instances"] = 3
        mutate(document)

    return both


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("unknown-top-key", _set("postgress", {"instances": 1}), "postgress", "unknown key"),
    ("unknown-nested-key", _set("postgres.instance", 2), "postgres.instance", "unknown key"),
    ("wrong-type", _set("postgres.instances", "three"), "postgres.instances", "valid integer"),
    ("zero-replicas", _set("mlflow.replicas", 0), "mlflow.replicas", "greater than or equal to 1"),
    ("bad-cron", _set("training.schedule", "every night"), "training.schedule", "5-field cron"),
    ("cron-seconds", _set("training.schedule", "0 0 3 * * *"), "training.schedule", "5-field"),
    ("cron-range", _set("training.schedule", "61 3 * * *"), "training.schedule", "5-field"),
    (
        "prod-one-postgres",
        _prod(_set("postgres.instances", 1)),
        "postgres.instances",
        "at least 3 instances in prod",
    ),
    (
        "prod-two-serving",
        _prod(_set("serving.replicas", 2)),
        "serving.replicas",
        "at least 3 replicas in prod",
    ),
    ("untagged-image", _set("images.training", "registry/training"), "images.training", "tag"),
    ("latest-image", _set("images.serving", "registry/serving:latest"), "images.serving", "latest"),
    (
        "external-without-secret",
        _external(None),
        "objectStore.secretAccessKey",
        "required when engine is 'external'",
    ),
    (
        "external-plain-secret",
        _external("plaintext-key"),
        "objectStore.secretAccessKey",
        "a secret value",
    ),
    ("bad-engine", _set("objectStore.engine", "ceph"), "objectStore.engine", "'minio'"),
    ("bad-memory", _set("mlflow.resources.limits.memory", "1GB"), "mlflow.resources", "memory"),
    ("missing-context", _delete("kubeContext"), "kubeContext", "required key is missing"),
    ("bad-namespace", _set("namespaces.serving", "ML_Serving"), "namespaces.serving", "DNS-1123"),
    ("bad-environment", _set("environment", "qa"), "environment", "'dev', 'stage' or 'prod'"),
    ("max-below-min", _set("serving.maxReplicas", 0), "serving.maxReplicas", "greater than"),
    (
        "endpoint-without-external",
        _set("objectStore.endpoint", "https://s3.example.com"),
        "objectStore.endpoint",
        "only used when engine is 'external'",
    ),
    ("section-not-mapping", _set("postgres", "big"), "postgres", "valid dictionary"),
    (
        "long-cluster-name",
        _set("postgres.clusterName", "a" * 51),
        "postgres.clusterName",
        "at most 50 characters",
    ),
    ("bad-retention", _set("monitoring.retention", "a month"), "monitoring.retention", "duration"),
    (
        "prod-without-alert-receiver",
        _prod(_delete("monitoring")),
        "monitoring.alertReceiver",
        "required in prod",
    ),
    (
        "plain-alert-receiver",
        _set("monitoring.alertReceiver", "https://hooks.example.com/x"),
        "monitoring.alertReceiver",
        "a secret value",
    ),
    (
        "build-without-registry",
        _set("images.registry", None),
        "images.registry",
        "required when images.build is true",
    ),
    ("refs-missing", _set("images.build", False), "images.serving", "pinned image ref is required"),
    (
        "alias-under-serving",
        _set("serving.modelAlias", "champion"),
        "serving.modelAlias",
        "moved to the top-level `modelAlias`",
    ),
    ("bad-alias", _set("modelAlias", "Champion"), "modelAlias", "DNS-1123"),
    ("zero-psi", _set("training.triggers.maxPsi", 0.0), "training.triggers.maxPsi", "> 0"),
    (
        "drop-above-one",
        _set("training.triggers.maxAccuracyDrop", 1.5),
        "training.triggers.maxAccuracyDrop",
        "fraction in [0, 1)",
    ),
    (
        "no-labelled-rows",
        _set("training.triggers.minLabelled", 0),
        "training.triggers.minLabelled",
        ">= 1",
    ),
    (
        "unknown-policy",
        _set("training.triggers.policy", ["drift", "weekly"]),
        "training.triggers.policy",
        "non-empty subset of always, drift, accuracy",
    ),
    (
        "empty-policy",
        _set("training.triggers.policy", []),
        "training.triggers.policy",
        "got (empty)",
    ),
    (
        "psi-as-text",
        _set("training.triggers.maxPsi", "0.2"),
        "training.triggers.maxPsi",
        "valid number",
    ),
    (
        "bad-log-bucket",
        _set("objectStore.inferenceLogBucket", "Inference_Log"),
        "objectStore.inferenceLogBucket",
        "DNS-1123",
    ),
    (
        "log-bucket-is-datasets",
        _set("objectStore.inferenceLogBucket", "datasets"),
        "objectStore.inferenceLogBucket",
        "must differ from objectStore.datasetsBucket",
    ),
    (
        "datasets-bucket-is-artifacts",
        _set("objectStore.datasetsBucket", "mlflow-artifacts"),
        "objectStore.datasetsBucket",
        "must differ from objectStore.artifactsBucket",
    ),
    (
        "zero-window",
        _set("training.dataWindowMinutes", 0),
        "training.dataWindowMinutes",
        "whole minutes from 1 to 10080",
    ),
    (
        "window-over-a-week",
        _set("training.dataWindowMinutes", 10081),
        "training.dataWindowMinutes",
        "(7 days)",
    ),
    (
        "window-as-text",
        _set("training.dataWindowMinutes", "1h"),
        "training.dataWindowMinutes",
        "valid integer",
    ),
    (
        "no-training-rows",
        _set("training.minTrainingRows", 0),
        "training.minTrainingRows",
        "at least 1 labelled row",
    ),
    (
        "hold-in-words",
        _set("monitoring.triggerHold", "15 minutes"),
        "monitoring.triggerHold",
        "like '15m', '30s' or '1h'",
    ),
    ("hold-in-days", _set("monitoring.triggerHold", "1d"), "monitoring.triggerHold", "'15m'"),
    ("prod-unprotected", _prod(_set("protectData", False)), "protectData", "must be true in prod"),
    (
        "backups-without-cert-manager",
        _set("postgres.backups", {"retention": "7d"}),
        "certManager",
        "required when postgres.backups is set",
    ),
    (
        "cert-manager-flag-under-backups",
        _set("postgres.backups", {"certManagerInstalled": True}),
        "postgres.backups.certManagerInstalled",
        "replaced by the top-level `certManager`",
    ),
    (
        "cert-manager-namespace-not-installed",
        _set("certManager", {"install": False, "namespace": "certs"}),
        "certManager.namespace",
        "only used when certManager.install is true",
    ),
    (
        "backup-schedule-5-fields",
        _set("postgres.backups", {"schedule": "0 2 * * *"}),
        "postgres.backups.schedule",
        "6-field schedule with seconds first",
    ),
    (
        "backup-retention-hours",
        _set("postgres.backups", {"retention": "12h"}),
        "postgres.backups.retention",
        "'30d'",
    ),
    ("monitoring-storage", _set("monitoring.storageSize", "lots"), "monitoring.storageSize", "1Gi"),
    ("zero-hold", _set("monitoring.triggerHold", "0m"), "monitoring.triggerHold", "'30s'"),
]


@pytest.mark.parametrize(
    ("mutate", "key", "expected"),
    [pytest.param(m, k, e, id=i) for i, m, k, e in BROKEN],
)
def test_broken_config_is_rejected_naming_key_and_expectation(
    mutate: Callable[[dict[str, Any]], None], key: str, expected: str
) -> None:
    document = copy.deepcopy(_dev_document())
    mutate(document)
    error = _problems(document)
    lines = [line for line in str(error).splitlines() if f"- {P}{key}" in line]
    assert lines, f"no problem names {P}{key}:\n{error}"
    assert any(expected in line for line in lines), f"{expected!r} not in:\n{error}"


def test_serving_max_replicas_must_not_be_below_replicas() -> None:
    document = copy.deepcopy(_dev_document())
    _set("serving.replicas", 3)(document)
    _set("serving.maxReplicas", 2)(document)
    assert "at least serving.replicas (3) (got 2)" in str(_problems(document))


def test_every_problem_is_listed_in_one_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_stack_file(CONFIGS / "broken-many.yaml")
    keys = {key for key, _ in info.value.problems}
    assert {
        f"{P}postgres.instances",
        f"{P}mlflow.replicas",
        f"{P}images.training",
        f"{P}training.schedule",
        f"{P}colour",
    } <= keys
    assert str(info.value).startswith(f"invalid stack config in {CONFIGS / 'broken-many.yaml'}")


def test_render_prints_the_config_error_and_exits_2(
    render_stack: Callable[..., RenderRun],
) -> None:
    run = render_stack(CONFIGS / "broken-many.yaml", "prod")
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert f"{P}postgres.instances: at least 3 instances in prod" in run.stderr
    assert f"{P}colour: unknown key" in run.stderr
    # Nothing was created: no render was written.
    assert not (run.out_dir / "resources.json").exists()


def test_pulumi_engine_path_validates_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """load_config (inside `pulumi up`) reads engine config and applies the same model."""
    document = _dev_document()
    # The engine hands the program strings: objects arrive JSON-encoded.
    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in document["config"].items()}
    values[P + "postgres"] = json.dumps({**document["config"][P + "postgres"], "instances": 0})
    monkeypatch.setattr(config_module.runtime_config, "get_config_env", lambda: values)
    monkeypatch.setattr(config_module.pulumi, "get_stack", lambda: "dev")
    with pytest.raises(ConfigError) as info:
        load_config()
    assert info.value.problems == [
        (f"{P}postgres.instances", "input should be greater than or equal to 1 (got 0)")
    ]


def test_pulumi_engine_path_requires_secret_config_to_be_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    document = _dev_document()
    store = {
        **document["config"][P + "objectStore"],
        "engine": "external",
        "endpoint": "https://s3.example.com",
        "accessKeyId": "AKIA",
        "secretAccessKey": "decrypted-value",
        "keys": {
            name: {"accessKeyId": f"AKIA{name}", "secretAccessKey": f"decrypted-{name}"}
            for name in ("mlflow", "training", "serving")
        },
    }
    store.pop("resources")
    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in document["config"].items()}
    values[P + "objectStore"] = json.dumps(store)
    monkeypatch.setattr(config_module.runtime_config, "get_config_env", lambda: values)
    monkeypatch.setattr(config_module.pulumi, "get_stack", lambda: "dev")
    with pytest.raises(ConfigError, match="a secret value"):
        load_config()
    monkeypatch.setattr(
        config_module.runtime_config, "is_config_secret", lambda key: key == P + "objectStore"
    )
    cfg = load_config()
    assert cfg.object_store.secret_access_key == SecureValue("decrypted-value")
    assert cfg.object_store.keys is not None
    assert cfg.object_store.keys.serving is not None
    assert cfg.object_store.keys.serving.secret_access_key == SecureValue("decrypted-serving")


def _key_paths(model: type[Any], prefix: str = "") -> list[str]:
    """Every leaf key of a config model, as `a.b` in the stack file's camelCase."""
    paths = []
    for field_name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or field_name}"
        nested = field.annotation
        if (
            isinstance(nested, type)
            and issubclass(nested, BaseModel)
            and nested
            not in (
                config_module.Resources,
                config_module.Quantities,
            )
        ):
            paths += _key_paths(nested, f"{path}.")
        else:
            paths.append(path)
    return paths


def test_every_config_key_is_documented() -> None:
    text = (REPO_ROOT / "docs" / "config-reference.md").read_text(encoding="utf-8")
    paths = _key_paths(PlatformConfig)
    assert {"objectStore.inferenceLogBucket", "training.dataWindowMinutes"} <= set(paths)
    assert {"training.triggers.maxPsi", "monitoring.triggerHold"} <= set(paths)
    assert [p for p in paths if f"`{p}`" not in text] == []
