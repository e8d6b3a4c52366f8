"""One fact changed in one place shows up everywhere it matters in the render.

Each test changes a single value at its owner (the contract's serving port, or one key of a stack
file), renders the whole program, and checks every object that depends on it, against the
committed dev stack's render where the old value appears.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlops_contract import serving as serving_contract

from infra.render import RenderedStack, load_rendered
from tests.infra.rendering import REPO_ROOT, RenderRun

P = "mlops-platform:"
NEW_PORT = 9123


def _find(rendered: RenderedStack, kind: str, name: str) -> dict[str, Any]:
    (found,) = [
        o for o in rendered.manifests if o["kind"] == kind and o["metadata"]["name"] == name
    ]
    return found


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    template = (
        spec["jobTemplate"]["spec"]["template"] if "jobTemplate" in spec else spec["template"]
    )
    container: dict[str, Any] = template["spec"]["containers"][0]
    return container


def _env(workload: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in _container(workload)["env"] if "value" in e}


def _rule_ports(policy: dict[str, Any], direction: str, namespace: str | None = None) -> set[int]:
    """Ports of a NetworkPolicy's rules (egress rules only those to `namespace` when given)."""
    ports = set()
    for rule in policy["spec"][direction]:
        peers = rule.get("to", [])
        names = {
            p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
            for p in peers
        }
        if namespace is None or namespace in names:
            ports |= {p["port"] for p in rule.get("ports", [])}
    return ports


def _serving_port_uses(rendered: RenderedStack) -> dict[str, object]:
    """Every place the serving port appears, by what it is."""
    deployment = _find(rendered, "Deployment", "serving")
    container = _container(deployment)
    service = _find(rendered, "Service", "serving")
    monitor = _find(rendered, "ServiceMonitor", "serving")
    (scraped,) = monitor["spec"]["endpoints"]
    (service_port,) = [p for p in service["spec"]["ports"] if p["name"] == scraped["port"]]
    (container_port,) = [p for p in container["ports"] if p["name"] == service_port["targetPort"]]
    args = container["args"]
    serving_ns = service["metadata"]["namespace"]
    return {
        "uvicorn --port": int(args[args.index("--port") + 1]),
        "containerPort": container["ports"][0]["containerPort"],
        "Service port": service_port["port"],
        "ServiceMonitor scrapes": container_port["containerPort"],
        "serving-ingress": _rule_ports(
            _find(rendered, "NetworkPolicy", "serving-ingress"), "ingress"
        ),
        "prometheus-scrape": _rule_ports(
            _find(rendered, "NetworkPolicy", "prometheus-scrape"), "egress", serving_ns
        ),
    }


def _render_with_serving_port(out_dir: Path, port: int) -> RenderedStack:
    """Render dev in a fresh interpreter whose contract says the server listens on `port`."""
    program = (
        "import sys\n"
        "import mlops_contract.serving as contract\n"
        f"contract.PORT = {port}\n"
        "from infra.render import main\n"
        f"sys.exit(main(['--stack', 'dev', '--out', {str(out_dir)!r}]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return load_rendered(out_dir, "dev")


def test_the_serving_port_is_read_from_the_contract_everywhere(
    rendered_stacks: dict[str, RenderedStack], tmp_path: Path
) -> None:
    old = serving_contract.PORT
    before = _serving_port_uses(rendered_stacks["dev"])
    assert before == {
        key: ({old} if key in ("serving-ingress", "prometheus-scrape") else old) for key in before
    }
    after = _serving_port_uses(_render_with_serving_port(tmp_path, NEW_PORT))
    assert after == {
        key: ({NEW_PORT} if key in ("serving-ingress", "prometheus-scrape") else NEW_PORT)
        for key in before
    }


def _dev_with(**keys: Any) -> Callable[[Path], Path]:
    def write(directory: Path) -> Path:
        text = (REPO_ROOT / "stacks" / "Pulumi.dev.yaml").read_text(encoding="utf-8")
        document = copy.deepcopy(yaml.safe_load(text))
        for key, value in keys.items():
            node = document["config"]
            top, *rest = key.split(".")
            if not rest:
                node[P + top] = value
                continue
            node = node[P + top]
            for part in rest[:-1]:
                node = node.setdefault(part, {})
            node[rest[-1]] = value
        path = directory / "Pulumi.dev.yaml"
        path.write_text(yaml.safe_dump(document), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="module")
def changed_render(tmp_path_factory: pytest.TempPathFactory) -> RenderedStack:
    """dev with a different alias and different trigger thresholds, one key each."""
    from tests.infra.rendering import run_render

    directory = tmp_path_factory.mktemp("one-fact")
    config = _dev_with(
        modelAlias="production",
        **{
            "training.triggers.maxPsi": 0.35,
            "training.triggers.maxAccuracyDrop": 0.1,
            "training.triggers.minLabelled": 40,
            "training.triggers.policy": ["drift"],
        },
    )(directory)
    run: RenderRun = run_render("dev", directory / "render", config)
    return run.load()


def _alert(rendered: RenderedStack, name: str) -> str:
    (rule,) = [o for o in rendered.manifests if o["kind"] == "PrometheusRule"]
    (alert,) = [r for g in rule["spec"]["groups"] for r in g["rules"] if r.get("alert") == name]
    expr: str = alert["expr"]
    return expr


def test_model_alias_reaches_serving_and_training(
    rendered_stacks: dict[str, RenderedStack], changed_render: RenderedStack
) -> None:
    for rendered, alias in ((rendered_stacks["dev"], "champion"), (changed_render, "production")):
        assert _env(_find(rendered, "Deployment", "serving"))["MODEL_ALIAS"] == alias
        assert _env(_find(rendered, "CronJob", "retrain"))["MODEL_ALIAS"] == alias


def test_trigger_thresholds_reach_the_cronjob_and_the_alert_rules(
    rendered_stacks: dict[str, RenderedStack], changed_render: RenderedStack
) -> None:
    before = _env(_find(rendered_stacks["dev"], "CronJob", "retrain"))
    assert (before["RETRAIN_MAX_PSI"], before["RETRAIN_POLICY"]) == ("0.2", "drift,accuracy")
    assert _alert(rendered_stacks["dev"], "FeatureDriftHigh").endswith("> 0.2")

    env = _env(_find(changed_render, "CronJob", "retrain"))
    assert env["RETRAIN_MAX_PSI"] == "0.35"
    assert env["RETRAIN_MAX_ACCURACY_DROP"] == "0.1"
    assert env["RETRAIN_MIN_LABELLED"] == "40"
    assert env["RETRAIN_POLICY"] == "drift"
    assert _alert(changed_render, "FeatureDriftHigh").endswith("> 0.35")
    drop = _alert(changed_render, "OnlineAccuracyDrop")
    assert "> 0.1\n" in drop
    assert drop.endswith(">= 40")
