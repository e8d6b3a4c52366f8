"""The loop's wiring: serving logs to the inference-log bucket, retrain reads it on a schedule.

Every stack provisions the bucket, hands serving its address and keys by reference, lets serving
reach the object store and nothing else new, and gives the CronJob its data window; the dev
stack checks every minute and alerts after a minute.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlops_contract import env, inference_log
from serving.settings import Settings

from infra import config as config_module
from infra import versions
from infra.components import (
    mlflow,
    monitoring_specs,
    network,
    objectstore_specs,
    postgres,
    serving,
)
from infra.config import load_stack_file
from infra.render import RenderedStack
from tests.infra.rendering import REPO_ROOT, STACKS, RenderRun

CONFIGS = Path(__file__).parent / "configs"
P = "mlops-platform:"


def _get(rendered: RenderedStack, kind: str, name: str, namespace: str) -> dict[str, Any]:
    (obj,) = [
        o
        for o in rendered.manifests
        if o["kind"] == kind
        and o["metadata"]["name"] == name
        and o["metadata"].get("namespace") == namespace
    ]
    return obj


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    template = (
        spec["jobTemplate"]["spec"]["template"] if "jobTemplate" in spec else spec["template"]
    )
    (container,) = template["spec"]["containers"]
    return dict(container)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def _serving(rendered: RenderedStack) -> dict[str, Any]:
    return _container(_get(rendered, "Deployment", "serving", "mlops-serving"))


def _retrain(rendered: RenderedStack) -> dict[str, Any]:
    return _container(_get(rendered, "CronJob", "retrain", "mlops-training"))


def _buckets(rendered: RenderedStack) -> list[str]:
    (job,) = [
        o for o in rendered.manifests if o["kind"] == "Job" and "buckets" in o["metadata"]["name"]
    ]
    return str(_env(_container(job))["BUCKETS"]).split()


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_provisions_the_inference_log_bucket(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    rendered = rendered_stacks[stack]
    assert inference_log.DEFAULT_BUCKET in _buckets(rendered)
    cfg = load_stack_file(REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml")
    # The bucket Job creates exactly the store's buckets plus the database backups' bucket.
    backups = [] if cfg.postgres.backups is None else [cfg.postgres.backups.bucket]
    assert sorted(_buckets(rendered)) == sorted(
        [*objectstore_specs.buckets(cfg.object_store).values(), *backups]
    )
    assert objectstore_specs.buckets(cfg.object_store)["inferenceLog"] == "inference-log"


@pytest.mark.parametrize("stack", STACKS)
def test_serving_writes_the_log_where_training_reads_it(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    rendered = rendered_stacks[stack]
    served, retrain = _env(_serving(rendered)), _env(_retrain(rendered))
    # The same bucket, S3 endpoint and region for the writer (serving) and the reader (retrain).
    assert served[env.INFERENCE_LOG_BUCKET] == retrain[env.INFERENCE_LOG_BUCKET]
    assert served[env.INFERENCE_LOG_BUCKET] == inference_log.DEFAULT_BUCKET
    assert served[env.INFERENCE_LOG_ENDPOINT_URL] == retrain[env.S3_ENDPOINT_URL]
    assert served[env.AWS_DEFAULT_REGION] == retrain[env.AWS_DEFAULT_REGION] == "us-east-1"
    # The keys by reference only: never a literal, and the Secret holds exactly the SDK's names.
    assert env.AWS_ACCESS_KEY_ID not in served
    assert env.AWS_SECRET_ACCESS_KEY not in served
    assert _serving(rendered)["envFrom"] == [{"secretRef": {"name": "s3-serving-credentials"}}]
    secret = _get(rendered, "Secret", "s3-serving-credentials", "mlops-serving")
    assert set(secret["stringData"]) == {env.AWS_ACCESS_KEY_ID, env.AWS_SECRET_ACCESS_KEY}


@pytest.mark.parametrize("stack", STACKS)
def test_every_serving_variable_is_a_setting_serving_reads(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    container = _serving(rendered_stacks[stack])
    names = {e["name"] for e in container["env"]} - {"HOME"}
    secret = _get(rendered_stacks[stack], "Secret", "s3-serving-credentials", "mlops-serving")
    names |= set(secret["stringData"])
    assert names - {field.upper() for field in Settings.model_fields} == set()
    assert {
        env.INFERENCE_LOG_BUCKET,
        env.INFERENCE_LOG_ENDPOINT_URL,
        env.AWS_ACCESS_KEY_ID,
        env.AWS_SECRET_ACCESS_KEY,
        env.AWS_DEFAULT_REGION,
    } <= names


def test_only_the_serving_service_account_reads_serving_s3_credentials(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    rendered = rendered_stacks["dev"]
    role = _get(rendered, "Role", "read-s3-serving-credentials", "mlops-serving")
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["s3-serving-credentials"],
            "verbs": ["get"],
        }
    ]
    binding = _get(rendered, "RoleBinding", "read-s3-serving-credentials", "mlops-serving")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "serving", "namespace": "mlops-serving"}
    ]
    pod = _get(rendered, "Deployment", "serving", "mlops-serving")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "serving"


def _rules(rendered: RenderedStack, name: str, namespace: str, direction: str) -> Any:
    return _get(rendered, "NetworkPolicy", name, namespace)["spec"][direction]


@pytest.mark.parametrize("stack", STACKS)
def test_serving_may_reach_mlflow_and_the_object_store_only(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    rendered = rendered_stacks[stack]
    cfg = load_stack_file(REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml")
    store = objectstore_specs.endpoints(cfg.object_store, "mlops-platform").api
    egress = _rules(rendered, "serving-egress", "mlops-serving", "egress")
    targets = [(rule["to"][0]["podSelector"]["matchLabels"], rule["ports"]) for rule in egress]
    assert targets == [
        (mlflow.endpoint("x").pods, [{"port": mlflow.endpoint("x").ports[0], "protocol": "TCP"}]),
        (store.pods, [{"port": store.ports[0], "protocol": "TCP"}]),
    ]
    # Every other serving-namespace policy only admits traffic or resolves names.
    egress_policies = {
        o["metadata"]["name"]
        for o in rendered.manifests
        if o["kind"] == "NetworkPolicy"
        and o["metadata"]["namespace"] == "mlops-serving"
        and o["spec"].get("egress")
    }
    assert egress_policies == {"serving-egress", "allow-dns"}


@pytest.mark.parametrize("stack", STACKS)
def test_the_object_store_admits_serving_pods_on_its_s3_port_only(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    rendered = rendered_stacks[stack]
    ingress = _rules(rendered, "object-store-ingress", "mlops-platform", "ingress")
    serving_peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mlops-serving"}},
        "podSelector": {"matchLabels": serving.pods()},
    }
    admitted = [rule for rule in ingress if serving_peer in rule["from"]]
    (s3_rule,) = admitted
    service_ports = [
        p["port"]
        for o in rendered.manifests
        if o["kind"] == "Service" and o["metadata"]["namespace"] == "mlops-platform"
        for p in o["spec"]["ports"]
        if p["name"] == "s3"
    ]
    assert [p["port"] for p in s3_rule["ports"]] == service_ports


def test_external_s3_serving_egress_leaves_the_cluster_on_the_endpoints_port() -> None:
    cfg = load_stack_file(CONFIGS / "external-s3.yaml")
    args = network.NetworkPoliciesArgs(
        training="t",
        serving=serving.endpoint("s"),
        mlflow=mlflow.endpoint("p"),
        postgres=postgres.endpoints(cfg.postgres, "p"),
        object_store=objectstore_specs.endpoints(cfg.object_store, "p"),
        monitoring=monitoring_specs.endpoints("m"),
    )
    (policy,) = [p for p in network.all_policies(args) if p["metadata"]["name"] == "serving-egress"]
    assert policy["spec"]["egress"][1] == {
        "to": [network.OUTSIDE],
        "ports": [{"port": 443, "protocol": "TCP"}],
    }


def test_dev_checks_often_and_alerts_fast(rendered_stacks: dict[str, RenderedStack]) -> None:
    dev = rendered_stacks["dev"]
    assert _get(dev, "CronJob", "retrain", "mlops-training")["spec"]["schedule"] == "* * * * *"
    assert _env(_serving(dev))[env.MODEL_POLL_INTERVAL_SECONDS] == "2"
    for stack in ("stage", "prod"):
        cron = _get(rendered_stacks[stack], "CronJob", "retrain", "mlops-training")
        assert cron["spec"]["schedule"] != "* * * * *"
        # A retrain never overlaps the next check.
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"


@pytest.mark.parametrize(("stack", "interval"), [("dev", "5s"), ("stage", "30s"), ("prod", "30s")])
def test_every_monitor_and_the_rules_follow_the_stack_scrape_interval(
    rendered_stacks: dict[str, RenderedStack], stack: str, interval: str
) -> None:
    rendered = rendered_stacks[stack]
    monitors = [o for o in rendered.manifests if o["kind"] in ("ServiceMonitor", "PodMonitor")]
    endpoints = [
        e
        for o in monitors
        for e in o["spec"].get("endpoints", []) + o["spec"].get("podMetricsEndpoints", [])
    ]
    assert endpoints
    assert {e["interval"] for e in endpoints} == {interval}
    # The kube-prometheus-stack release (cert-manager's values also have a `prometheus` key).
    (release,) = [r for r in rendered.resources if r["type"].endswith("helm.sh/v3:Release")
                  and r["inputs"]["chart"] == versions.KUBE_PROMETHEUS_CHART.chart]  # fmt: skip
    spec = release["inputs"]["values"]["prometheus"]["prometheusSpec"]
    assert (spec["scrapeInterval"], spec["evaluationInterval"]) == (interval, interval)


@pytest.mark.parametrize(("stack", "window"), [("dev", "3"), ("stage", "60"), ("prod", "60")])
def test_retrain_gets_the_stack_data_window_and_minimum_rows(
    rendered_stacks: dict[str, RenderedStack], stack: str, window: str
) -> None:
    retrain = _env(_retrain(rendered_stacks[stack]))
    assert (retrain[env.RETRAIN_WINDOW_MINUTES], retrain[env.RETRAIN_MIN_ROWS]) == (window, "200")


def _custom_dev(tmp_path: Path) -> Path:
    document = yaml.safe_load((REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text("utf-8"))
    config = document["config"]
    config[P + "objectStore"]["inferenceLogBucket"] = "loop-log"
    config[P + "training"].update(dataWindowMinutes=30, minTrainingRows=50)
    config[P + "training"]["triggers"]["maxPsi"] = 0.3
    config[P + "monitoring"]["triggerHold"] = "30s"
    path = tmp_path / "Pulumi.custom.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_each_loop_key_is_set_once_and_reaches_every_consumer(
    render_stack: Any, tmp_path: Path
) -> None:
    run: RenderRun = render_stack(_custom_dev(tmp_path))
    rendered = run.load()
    assert "loop-log" in _buckets(rendered)
    assert inference_log.DEFAULT_BUCKET not in _buckets(rendered)
    served, retrain = _env(_serving(rendered)), _env(_retrain(rendered))
    assert served[env.INFERENCE_LOG_BUCKET] == retrain[env.INFERENCE_LOG_BUCKET] == "loop-log"
    assert (retrain[env.RETRAIN_WINDOW_MINUTES], retrain[env.RETRAIN_MIN_ROWS]) == ("30", "50")
    assert retrain[env.RETRAIN_MAX_PSI] == "0.3"
    (rule,) = [o for o in rendered.manifests if o["kind"] == "PrometheusRule"]
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert alerts["FeatureDriftHigh"]["for"] == alerts["OnlineAccuracyDrop"]["for"] == "30s"
    assert "> 0.3" in alerts["FeatureDriftHigh"]["expr"]
    (quality,) = [
        json.loads(o["data"]["model-quality.json"])
        for o in rendered.manifests
        if o["kind"] == "ConfigMap" and "model-quality.json" in o.get("data", {})
    ]
    (psi,) = [p for p in quality["panels"] if p["title"] == "Per-feature drift (PSI)"]
    steps = psi["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert {"color": "red", "value": 0.3} in steps


def test_the_config_defaults_of_the_loop_keys() -> None:
    cfg = load_stack_file(CONFIGS / "seaweedfs.yaml")
    assert cfg.object_store.inference_log_bucket == inference_log.DEFAULT_BUCKET
    assert (cfg.training.data_window_minutes, cfg.training.min_training_rows) == (60, 200)
    assert cfg.monitoring.trigger_hold == "15m"
    assert config_module.MAX_DATA_WINDOW_MINUTES == 7 * 24 * 60
