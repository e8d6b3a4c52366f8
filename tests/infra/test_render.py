"""The offline render: deterministic, complete objects, secrets never in the output."""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra import versions
from infra.render import RenderedStack
from tests.infra.rendering import REPO_ROOT, RenderRun, run_render

CONFIGS = Path(__file__).parent / "configs"


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_two_renders_are_byte_identical(tmp_path: Path) -> None:
    first = run_render("dev", tmp_path / "a")
    second = run_render("dev", tmp_path / "b")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert not filecmp.dircmp(tmp_path / "a", tmp_path / "b").diff_files
    assert (tmp_path / "a" / "resources.json").stat().st_size > 0


def test_every_manifest_is_a_complete_named_object(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    for stack, rendered in rendered_stacks.items():
        assert rendered.manifests, stack
        for obj in rendered.manifests:
            assert obj["apiVersion"], obj
            assert obj["kind"], obj
            assert obj["metadata"]["name"], obj
            if obj["kind"] != "Namespace":
                assert obj["metadata"].get("namespace"), obj


def test_manifest_files_are_per_namespace(rendered_stacks: dict[str, RenderedStack]) -> None:
    rendered = rendered_stacks["dev"]
    files = {p.name for p in (rendered.out_dir / "manifests").glob("*.yaml")}
    assert "_cluster.yaml" in files
    assert {"mlops-platform.yaml", "mlops-training.yaml", "mlops-serving.yaml"} <= files


def test_every_resource_has_type_name_parent_inputs(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    for rendered in rendered_stacks.values():
        names = {r["name"] for r in rendered.resources}
        for rec in rendered.resources:
            assert {"type", "name", "parent", "inputs"} <= set(rec), rec
            assert rec["parent"] is None or rec["parent"] in names, rec
        types = {r["type"] for r in rendered.resources}
        assert "pulumi:providers:kubernetes" in types
        assert "mlops:index:Namespaces" in types


def test_kubernetes_provider_uses_the_stacks_context(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    contexts = {}
    for stack, rendered in rendered_stacks.items():
        (provider,) = [r for r in rendered.resources if r["type"] == "pulumi:providers:kubernetes"]
        contexts[stack] = provider["inputs"]["context"]
    assert contexts == {"dev": "kind-mlops", "stage": "mlops-stage", "prod": "mlops-prod"}


PLACEHOLDER = "<secret:"


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_secret_placeholders_appear_only_in_secret_data(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    for stack, rendered in rendered_stacks.items():
        seen_in_secrets = 0
        for obj in rendered.manifests:
            if obj["kind"] == "Secret":
                rest = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
                assert not [s for s in _strings(rest) if PLACEHOLDER in s], (stack, obj)
                seen_in_secrets += sum(PLACEHOLDER in s for s in _strings(obj.get("stringData")))
            else:
                leaks = [s for s in _strings(obj) if PLACEHOLDER in s]
                assert not leaks, (stack, obj["kind"], obj["metadata"]["name"], leaks)
        # The check is not vacuous: generated credentials are really in the Secrets.
        assert seen_in_secrets >= 5, stack


def test_generated_passwords_are_random_passwords_recorded_without_values(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    records = rendered_stacks["prod"].resources
    passwords = [r for r in records if r["type"] == "random:index/randomPassword:RandomPassword"]
    assert {r["name"] for r in passwords} >= {
        "secrets-postgres-app",
        "secrets-s3-admin-access-key",
        "secrets-s3-admin-secret-key",
        "secrets-s3-postgres-backups-secret-key",
        "secrets-mlflow-flask",
        "secrets-grafana-admin",
    }
    for record in passwords:
        assert record["inputs"]["length"] >= 20
        assert record["parent"] == "secrets"
        assert not [s for s in _strings(record["inputs"]) if PLACEHOLDER in s]
    assert not [r for r in records if r["type"] == "random:index/randomString:RandomString"]


def test_secure_config_values_never_reach_the_output(
    render_stack: Callable[..., RenderRun],
) -> None:
    run = render_stack(CONFIGS / "external-s3.yaml", "stage")
    rendered = run.load()
    text = "".join(p.read_text() for p in sorted(run.out_dir.rglob("*")) if p.is_file())
    assert "throwaway-ciphertext" not in text
    s3 = {
        (obj["metadata"]["namespace"], obj["metadata"]["name"]): obj["stringData"]
        for obj in rendered.manifests
        if obj["kind"] == "Secret" and obj["metadata"]["name"].startswith("s3-")
    }
    # The admin key reaches only the bucket Job's Secret; each consumer gets its own key.
    assert s3 == {
        ("mlops-platform", "s3-admin-credentials"): {
            "AWS_ACCESS_KEY_ID": "AKIAEXAMPLETHROWAWAY",
            "AWS_SECRET_ACCESS_KEY": "<secret:objectStore.secretAccessKey>",
        },
        **{
            (ns, f"s3-{name}-credentials"): {
                "AWS_ACCESS_KEY_ID": f"AKIA{name.upper()}THROWAWAY",
                "AWS_SECRET_ACCESS_KEY": f"<secret:objectStore.keys.{name}.secretAccessKey>",
            }
            for ns, name in (
                ("mlops-platform", "mlflow"),
                ("mlops-training", "training"),
                ("mlops-serving", "serving"),
            )
        },
    }
    # An external S3: no in-cluster server, and the clients talk to the configured endpoint.
    kinds = {(o["kind"], o["metadata"]["name"]) for o in rendered.manifests}
    assert ("Deployment", "minio") not in kinds
    assert ("Deployment", "seaweedfs") not in kinds
    (mlflow,) = [
        o
        for o in rendered.manifests
        if (o["kind"], o["metadata"]["name"]) == ("Deployment", "mlflow")
    ]
    env = {e["name"]: e for e in mlflow["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MLFLOW_S3_ENDPOINT_URL"]["value"] == "https://s3.eu-west-1.amazonaws.com"


def test_seaweedfs_engine_mounts_its_identity_file_from_a_secret(
    render_stack: Callable[..., RenderRun],
) -> None:
    rendered = render_stack(CONFIGS / "seaweedfs.yaml").load()
    by_key = {(o["kind"], o["metadata"]["name"]): o for o in rendered.manifests}
    deployment = by_key[("Deployment", "seaweedfs")]
    pod = deployment["spec"]["template"]["spec"]
    (config_volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert config_volume["secret"]["secretName"] == "seaweedfs-s3-config"
    assert "-s3.config=/etc/seaweedfs/s3.json" in pod["containers"][0]["args"]
    secret = by_key[("Secret", "seaweedfs-s3-config")]
    assert "<secret:secrets-s3-admin-secret-key>" in secret["stringData"]["s3.json"]


def test_cnpg_chart_is_a_pinned_helm_release_with_values(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    for stack, rendered in rendered_stacks.items():
        releases = [r for r in rendered.resources if r["type"].startswith("kubernetes:helm.sh/")]
        # The backup plugin's chart, and cert-manager for it, only where the stack file asks
        # for backups (stage, prod).
        expected = {c.chart for c in versions.ALL_CHARTS}
        # OpenBao and its operator only with `secrets.provider: openbao` (tests/infra/
        # test_secret_providers.py); the stack files keep Kubernetes Secrets.
        expected -= {versions.OPENBAO_CHART.chart, versions.EXTERNAL_SECRETS_CHART.chart}
        if stack == "dev":
            expected -= {versions.BARMAN_CLOUD_CHART.chart, versions.CERT_MANAGER_CHART.chart}
        assert {r["inputs"]["chart"] for r in releases} == expected, (
            "every pinned chart is installed, and only those"
        )
        (release,) = [r for r in releases if r["inputs"]["chart"] == versions.CNPG_CHART.chart]
        inputs = release["inputs"]
        assert release["type"] == "kubernetes:helm.sh/v3:Release"
        assert inputs["version"] == versions.CNPG_CHART.version
        assert inputs["repositoryOpts"]["repo"] == versions.CNPG_CHART.repo
        assert inputs["namespace"] == "cnpg-system"
        assert inputs["values"]["crds"] == {"create": True}
        assert inputs["values"]["resources"]["limits"]["memory"]


def test_every_kubernetes_resource_uses_the_stack_provider(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    for rendered in rendered_stacks.values():
        kube = [r for r in rendered.resources if r["type"].startswith("kubernetes:")]
        assert kube
        assert {r["provider"] for r in kube} == {"k8s"}


def test_every_resource_belongs_to_a_component(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    records = rendered_stacks["dev"].resources
    components = {r["name"]: r["type"] for r in records if r["type"].startswith("mlops:index:")}
    assert set(components.values()) == {
        "mlops:index:Namespaces",
        "mlops:index:SecretStore",
        "mlops:index:Postgres",
        "mlops:index:ObjectStore",
        "mlops:index:MlflowServer",
        "mlops:index:ModelServing",
        "mlops:index:MlflowAuthSetup",
        "mlops:index:TrainingJob",
        "mlops:index:NetworkPolicies",
        "mlops:index:Monitoring",
        "mlops:index:Images",
    }
    for record in records:
        if record["type"].startswith(("mlops:", "pulumi:providers:")):
            assert record["parent"] is None, record["name"]
        else:
            assert record["parent"] in components, record["name"]
            assert record["name"].startswith(f"{record['parent']}-"), record["name"]


def _get(rendered: RenderedStack, kind: str, name: str) -> dict[str, Any]:
    (obj,) = [o for o in rendered.manifests if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def test_prod_is_ha_and_dev_is_single(rendered_stacks: dict[str, RenderedStack]) -> None:
    dev, prod = rendered_stacks["dev"], rendered_stacks["prod"]
    assert _get(dev, "Cluster", "mlflow-db")["spec"]["instances"] == 1
    prod_cluster = _get(prod, "Cluster", "mlflow-db")["spec"]
    assert prod_cluster["instances"] == 3
    assert prod_cluster["affinity"]["podAntiAffinityType"] == "required"
    assert prod_cluster["postgresql"]["synchronous"] == {
        "method": "any",
        "number": 1,
        "dataDurability": "required",
    }
    assert "affinity" not in _get(dev, "Cluster", "mlflow-db")["spec"]
    assert _get(prod, "Deployment", "serving")["spec"]["replicas"] == 3
    assert _get(prod, "HorizontalPodAutoscaler", "serving")["spec"]["maxReplicas"] == 10
    assert _get(prod, "PodDisruptionBudget", "serving")["spec"]["maxUnavailable"] == 1
    assert _get(prod, "PodDisruptionBudget", "mlflow")["spec"]["maxUnavailable"] == 1
    dev_pdbs = [o for o in dev.manifests if o["kind"] == "PodDisruptionBudget"]
    assert dev_pdbs == []
    assert _get(dev, "Deployment", "serving")["spec"]["replicas"] == 1


def test_mlflow_server_wiring(rendered_stacks: dict[str, RenderedStack]) -> None:
    deployment = _get(rendered_stacks["dev"], "Deployment", "mlflow")
    pod = deployment["spec"]["template"]["spec"]
    server, exporter = pod["containers"]
    (upgrade,) = pod["initContainers"]
    assert server["image"] == upgrade["image"] == exporter["image"] == versions.MLFLOW_IMAGE
    # The metrics sidecar reads the directory the server's --expose-prometheus writes.
    metrics_dir = server["args"][server["args"].index("--expose-prometheus") + 1]
    assert exporter["command"][-2] == metrics_dir
    assert exporter["ports"] == [{"name": "metrics", "containerPort": 9102, "protocol": "TCP"}]
    assert exporter["volumeMounts"] == [
        m for m in server["volumeMounts"] if metrics_dir.startswith(m["mountPath"])
    ]
    assert upgrade["command"] == ["mlflow", "db", "upgrade", "$(MLFLOW_BACKEND_STORE_URI)"]
    args = server["args"]
    assert args[args.index("--backend-store-uri") + 1] == "$(MLFLOW_BACKEND_STORE_URI)"
    assert args[args.index("--artifacts-destination") + 1] == "s3://mlflow-artifacts"
    assert "--serve-artifacts" in args
    assert args[args.index("--workers") + 1] == "1"
    hosts = args[args.index("--allowed-hosts") + 1].split(",")
    assert {"mlflow", "mlflow:5000", "mlflow.mlops-platform.svc.cluster.local:5000"} <= set(hosts)
    env = {e["name"]: e for e in server["env"]}
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"]["value"] == "false"
    assert env["MLFLOW_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"] == {
        "name": "mlflow-db-app",
        "key": "uri",
    }
    secret = _get(rendered_stacks["dev"], "Secret", "mlflow-db-app")
    assert secret["type"] == "kubernetes.io/basic-auth"
    assert secret["stringData"]["uri"].startswith("postgresql+psycopg2://mlflow:<secret:")
    cluster = _get(rendered_stacks["dev"], "Cluster", "mlflow-db")
    assert cluster["spec"]["bootstrap"]["initdb"]["secret"]["name"] == "mlflow-db-app"


def test_secret_readers_are_only_the_consuming_service_accounts(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    rendered = rendered_stacks["dev"]
    role = _get(rendered, "Role", "read-mlflow-db-app")
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["mlflow-db-app"],
            "verbs": ["get"],
        }
    ]
    binding = _get(rendered, "RoleBinding", "read-mlflow-db-app")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "mlflow", "namespace": "mlops-platform"}
    ]


ENTRYPOINT_SCRIPT = """
import json, os, runpy, sys
import pulumi, yaml
document = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
# What the engine hands a program: every value a string, objects JSON-encoded.
values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in document["config"].items()}
os.environ["PULUMI_CONFIG"] = json.dumps(values)
from infra.render import RecordingMocks, RecordingMonitor
mocks = RecordingMocks()
monitor = RecordingMonitor(mocks)
pulumi.runtime.set_mocks(mocks, project="mlops-platform", stack="dev", monitor=monitor)
pulumi.runtime.test(lambda: runpy.run_path("infra/__main__.py", run_name="__main__"))()
print(json.dumps(sorted(f"{t} {n}" for t, n in mocks.inputs)))
"""


def test_pulumi_entrypoint_builds_the_same_resources_from_engine_config(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    """infra/__main__.py (what `pulumi up` runs) reads engine config and builds the platform."""
    proc = subprocess.run(
        [sys.executable, "-c", ENTRYPOINT_SCRIPT, "stacks/Pulumi.dev.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    built = json.loads(proc.stdout.splitlines()[-1])
    rendered = sorted(f"{r['type']} {r['name']}" for r in rendered_stacks["dev"].resources)
    assert built == rendered
