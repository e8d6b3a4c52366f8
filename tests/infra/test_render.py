"""The offline render: deterministic, complete objects, secrets never in the output."""

from __future__ import annotations

import filecmp
from pathlib import Path

from infra.render import RenderedStack
from tests.infra.conftest import run_render


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
