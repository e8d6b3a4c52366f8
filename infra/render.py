"""Offline render: run the real program under recording mocks and write what it would create.

    uv run --frozen python -m infra.render --stack dev --out rendered/dev

writes `<out>/manifests/<namespace>.yaml` (`_cluster.yaml` for cluster-scoped objects), one
complete Kubernetes object per YAML document, and `<out>/resources.json`, every registered
Pulumi resource with its type, name, parent, provider, depends_on, options (protect,
retainOnDelete, deleteBeforeReplace, ignoreChanges, replaceOnChanges, deletedWith) and inputs.
Output is
deterministic and secret values never appear: generated passwords and secure config values
are `<secret:NAME>`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from mlops_contract.kube import CLUSTER_SCOPED_KINDS
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

from infra.assembly import build_platform
from infra.config import PROJECT, ConfigError, PlatformConfig, config_warnings, load_stack_file

# Pulumi's wire marker for secret values (pulumi.runtime.rpc._special_sig_key and
# _special_secret_sig); copied because those names are private.
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105  # a marker, not a secret
REPO_ROOT = Path(__file__).resolve().parent.parent
CLUSTER_FILE = "_cluster"

# Types that are Pulumi-side only: they are recorded in resources.json but are not manifests.
_NOT_MANIFEST_PREFIXES = (
    "pulumi:",
    "mlops:",
    "random:",
    "kubernetes:helm.sh/",
    "kubernetes:yaml/",
    "kubernetes:kustomize/",
)


class RenderError(RuntimeError):
    """The program registered something that cannot be deployed as written."""


def secret_placeholder(name: str) -> str:
    """Return the placeholder that stands in for a generated secret's value."""
    return f"<secret:{name}>"


def _normalize(value: Any) -> Any:
    """Make recorded values JSON-stable: mocks turn integers into floats, undo that."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            # A secret that survived deserialization: keep its value (placeholders by then).
            return _normalize(value.get("value"))
        return {str(k): _normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalize(v) for v in value]
    return value


def _urn_name(urn: str) -> str | None:
    if not urn or "::pulumi:pulumi:Stack::" in urn:
        return None
    return urn.split("::")[-1]


class RecordingMocks(Mocks):
    """Mocks that echo inputs back as state and keep every registration."""

    def __init__(self) -> None:
        """Start with nothing recorded."""
        self.inputs: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        """Record the inputs; RandomPassword gets a placeholder result, never a value."""
        key = (args.typ, args.name)
        with self._lock:
            if key in self.inputs:
                raise RenderError(f"duplicate resource {args.typ} {args.name!r}")
            self.inputs[key] = _normalize(dict(args.inputs))
        state = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = secret_placeholder(args.name)
            state["bcryptHash"] = secret_placeholder(f"{args.name}-bcrypt")
        return f"{args.name}-id", state

    def call(
        self,
        args: MockCallArgs,  # noqa: ARG002  # the signature is fixed by Mocks
    ) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        """No invokes are expected; answer empty."""
        return {}, None


def resource_options(request: Any) -> dict[str, Any]:
    """Return the options of a RegisterResourceRequest a review must see, with their defaults.

    Mocks see only inputs; the engine acts on these (a protected resource cannot be deleted,
    a retained one is left in the cluster when Pulumi deletes it). `protect` arrives already
    inherited from the parent, as the engine applies it.
    """
    return {
        "protect": bool(request.protect) if request.HasField("protect") else False,
        "retainOnDelete": (
            bool(request.retainOnDelete) if request.HasField("retainOnDelete") else False
        ),
        "deleteBeforeReplace": bool(request.deleteBeforeReplace),
        "ignoreChanges": sorted(request.ignoreChanges),
        "replaceOnChanges": sorted(request.replaceOnChanges),
        "deletedWith": _urn_name(request.deletedWith),
    }


class RecordingMonitor(MockMonitor):
    """A mock monitor that also remembers each resource's parent, provider and options."""

    def __init__(self, mocks: RecordingMocks) -> None:
        """Wrap mocks."""
        super().__init__(mocks)
        self.links: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        self.depends_on: dict[tuple[str, str], list[str]] = {}
        self.options: dict[tuple[str, str], dict[str, Any]] = {}
        self._links_lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802  # gRPC method name
        """Record parent, provider and options, then register as the base monitor does."""
        provider = request.provider.split("::")[-2] if request.provider else None
        deps = sorted({n for urn in request.dependencies if (n := _urn_name(urn)) is not None})
        with self._links_lock:
            self.links[(request.type, request.name)] = (_urn_name(request.parent), provider)
            self.depends_on[(request.type, request.name)] = deps
            self.options[(request.type, request.name)] = resource_options(request)
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


def _api_version_kind(type_token: str, inputs: dict[str, Any]) -> tuple[str, str]:
    _, api, kind = type_token.split(":", 2)
    api_version = inputs.get("apiVersion") or (api[len("core/") :] if api == "core/v1" else api)
    return str(api_version), str(inputs.get("kind") or kind)


def to_manifest(type_token: str, name: str, inputs: dict[str, Any]) -> dict[str, Any] | None:
    """Return the Kubernetes object a recorded resource stands for, or None if it is not one."""
    if type_token.startswith(_NOT_MANIFEST_PREFIXES) or not type_token.startswith("kubernetes:"):
        return None
    api_version, kind = _api_version_kind(type_token, inputs)
    obj = {k: v for k, v in inputs.items() if k not in ("apiVersion", "kind")}
    obj = {"apiVersion": api_version, "kind": kind, **obj}
    metadata = obj.get("metadata") or {}
    if not metadata.get("name"):
        raise RenderError(f"{kind} {name!r} has no explicit metadata.name")
    if kind not in CLUSTER_SCOPED_KINDS and not metadata.get("namespace"):
        raise RenderError(f"namespaced {kind} {metadata['name']!r} has no metadata.namespace")
    return obj


def manifest_sort_key(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    """Sort key: (apiVersion, kind, namespace, name)."""
    meta = obj.get("metadata", {})
    return (obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])


@dataclass(frozen=True)
class RenderedStack:
    """A rendered stack as loaded back from disk."""

    stack: str
    out_dir: Path
    manifests: list[dict[str, Any]]
    resources: list[dict[str, Any]]


def run_program(cfg: PlatformConfig, stack: str) -> list[dict[str, Any]]:
    """Run build_platform(cfg) under recording mocks; return the sorted resource records.

    set_mocks is process-global: call this once per process (tests use a subprocess).
    """
    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]  # pulumi ships it untyped
    def program() -> pulumi.Output[Any]:
        outputs = build_platform(cfg)
        return pulumi.Output.from_input(outputs.namespaces)

    program()
    records = []
    for (typ, name), inputs in mocks.inputs.items():
        parent, provider = monitor.links.get((typ, name), (None, None))
        records.append(
            {
                "type": typ,
                "name": name,
                "parent": parent,
                "provider": provider,
                "depends_on": monitor.depends_on.get((typ, name), []),
                "options": monitor.options[(typ, name)],
                "inputs": inputs,
            }
        )
    records.sort(key=lambda r: (r["type"], r["name"]))
    _check_providers(records)
    return records


def _check_providers(records: list[dict[str, Any]]) -> None:
    # Default providers are disabled in every stack; a Kubernetes resource without an explicit
    # provider would fail `pulumi up`, so fail the render the same way.
    for rec in records:
        custom = not rec["type"].startswith(("mlops:", "pulumi:providers:"))
        if rec["type"].startswith("kubernetes:") and custom and rec["provider"] is None:
            raise RenderError(f"{rec['type']} {rec['name']!r} has no explicit provider")


def write_render(records: list[dict[str, Any]], out_dir: Path) -> None:
    """Write manifests/<namespace>.yaml and resources.json under out_dir."""
    manifests = [
        m for r in records if (m := to_manifest(r["type"], r["name"], r["inputs"])) is not None
    ]
    manifests.sort(key=manifest_sort_key)
    by_file: dict[str, list[dict[str, Any]]] = {}
    for m in manifests:
        by_file.setdefault(m["metadata"].get("namespace") or CLUSTER_FILE, []).append(m)
    manifest_dir = out_dir / "manifests"
    if manifest_dir.exists():
        shutil.rmtree(manifest_dir)
    manifest_dir.mkdir(parents=True)
    for file_name, docs in sorted(by_file.items()):
        text = yaml.safe_dump_all(docs, sort_keys=True, default_flow_style=False, width=100)
        (manifest_dir / f"{file_name}.yaml").write_text(text, encoding="utf-8")
    text = json.dumps(records, indent=2, sort_keys=True) + "\n"
    (out_dir / "resources.json").write_text(text, encoding="utf-8")


def load_rendered(out_dir: Path, stack: str) -> RenderedStack:
    """Load a render written by write_render."""
    manifests: list[dict[str, Any]] = []
    for path in sorted((out_dir / "manifests").glob("*.yaml")):
        manifests += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    manifests.sort(key=manifest_sort_key)
    resources = json.loads((out_dir / "resources.json").read_text(encoding="utf-8"))
    return RenderedStack(stack=stack, out_dir=out_dir, manifests=manifests, resources=resources)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; exit 2 on a config error, 1 on a render error."""
    parser = argparse.ArgumentParser(prog="python -m infra.render", description=__doc__)
    parser.add_argument("--stack", required=True, help="stack name: dev, stage or prod")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument(
        "--config", type=Path, help="stack file (default: stacks/Pulumi.<stack>.yaml)"
    )
    args = parser.parse_args(argv)
    config_path = args.config or REPO_ROOT / "stacks" / f"Pulumi.{args.stack}.yaml"
    try:
        cfg = load_stack_file(config_path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    # `pulumi up` logs these through pulumi.log.warn (infra.config.load_config).
    for warning in config_warnings(cfg):
        print(f"warning: {warning}", file=sys.stderr)
    try:
        records = run_program(cfg, args.stack)
    except (RenderError, ValueError) as exc:
        print(f"render failed: {exc}", file=sys.stderr)
        sys.stderr.flush()
        # The Pulumi runtime leaves its event loop half-closed after a failed program; a normal
        # interpreter exit then prints an unrelated asyncio traceback. Exit without teardown.
        os._exit(1)
    args.out.mkdir(parents=True, exist_ok=True)
    write_render(records, args.out)
    print(f"rendered stack {args.stack!r}: {len(records)} resources -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
