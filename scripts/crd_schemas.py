"""Convert the CRDs of the pinned Helm charts into closed JSON Schemas stored in the repository.

    uv run --frozen python -m scripts.crd_schemas --mirrors DIR

DIR holds git clones of the chart repositories at `DIR/<owner>/<name>` (or
`DIR/<owner>+<name>/repo`). For each chart in infra/versions.py that ships CRDs, the script reads
the CRD files at the chart's release tag with git and writes, per served CRD version,
infra/upstream/chart-schemas/<chart>/<group>_<version>_<Kind>.json plus source.json naming the
chart, version, tag and commit they came from. A chart bump re-run shows up as a schema diff.
A chart that ships a values.schema.json gets it copied next to them (Helm checks values against
it at install; tests check ours offline).

The conversion follows the Kubernetes structural-schema rules, so the JSON Schema rejects what
the API server would drop or refuse:
- an object without `x-kubernetes-preserve-unknown-fields` gets `additionalProperties: false`
  unless it declares `additionalProperties` (a map), so a misspelled field is an error (the API
  server would silently prune it);
- `x-kubernetes-int-or-string` becomes integer-or-string, `nullable` adds null;
- descriptions are dropped (they are documentation, and they would bury real changes in diffs),
  except that a field described as deprecated gets the annotation `deprecated: true`;
- the top-level `metadata` stays open: tests check it against the built-in ObjectMeta.
CEL rules (`x-kubernetes-validations`) are kept as written; JSON Schema validators ignore them.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra import versions
from scripts.upstream_git import find_clone, git

REPO_ROOT = Path(__file__).resolve().parent.parent
# How the CRDs mark a field that will go (`Deprecated: ...`, `Deprecated, use ...`): kept as the
# JSON Schema annotation `deprecated: true`, so tests can refuse deprecated fields.
_DEPRECATED = re.compile(r"(^|\n|\. )Deprecated\b|\bdeprecated\b in favou?r", re.IGNORECASE)
OUT = REPO_ROOT / "infra" / "upstream" / "chart-schemas"


class _CrdLoader(yaml.SafeLoader):
    """SafeLoader that reads a plain `=` as the string "=" (YAML 1.1 gives it a `value` tag).

    prometheus-operator's CRDs list `=` among relabeling/matcher operators.
    """


_CrdLoader.add_constructor(
    "tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node)
)


@dataclass(frozen=True)
class CrdSource:
    """Where one chart keeps its CRDs: repository, release tag, CRD files and chart folder."""

    repository: str
    tag: str
    paths: tuple[str, ...]
    chart_dir: str


def sources() -> dict[str, CrdSource]:
    """The CRD files of each pinned chart, at the pinned release tag."""
    kps = versions.KUBE_PROMETHEUS_CHART
    cnpg = versions.CNPG_CHART
    barman = versions.BARMAN_CLOUD_CHART
    bao = versions.OPENBAO_CHART
    eso = versions.EXTERNAL_SECRETS_CHART
    # ESO's chart packs config/crds/bases at release time; only the kinds the platform creates
    # are converted (its ~25 generator CRDs would be dead weight in the repository).
    eso_crds = tuple(
        f"config/crds/bases/external-secrets.io_{plural}.yaml"
        for plural in ("clustersecretstores", "externalsecrets", "pushsecrets")
    )
    certs = versions.CERT_MANAGER_CHART
    cert_crds = "deploy/charts/cert-manager/templates/crd-"
    return {
        kps.chart: CrdSource(
            repository="prometheus-community/helm-charts",
            tag=f"kube-prometheus-stack-{kps.version}",
            paths=("charts/kube-prometheus-stack/charts/crds/crds/",),
            chart_dir="charts/kube-prometheus-stack",
        ),
        cnpg.chart: CrdSource(
            repository="cloudnative-pg/charts",
            tag=f"cloudnative-pg-v{cnpg.version}",
            paths=("charts/cloudnative-pg/templates/crds/crds.yaml",),
            chart_dir="charts/cloudnative-pg",
        ),
        barman.chart: CrdSource(
            repository="cloudnative-pg/charts",
            tag=f"plugin-barman-cloud-v{barman.version}",
            paths=("charts/plugin-barman-cloud/templates/crds/crds.yaml",),
            chart_dir="charts/plugin-barman-cloud",
        ),
        # No CRDs: only its values.schema.json (the platform's values are checked against it).
        bao.chart: CrdSource(
            repository="openbao/openbao-helm",
            tag=f"openbao-{bao.version}",
            paths=(),
            chart_dir="charts/openbao",
        ),
        eso.chart: CrdSource(
            repository="external-secrets/external-secrets",
            tag=f"helm-chart-{eso.version}",
            paths=eso_crds,
            chart_dir="deploy/charts/external-secrets",
        ),
        # The chart is released with cert-manager itself: the tag is the chart version.
        certs.chart: CrdSource(
            repository="cert-manager/cert-manager",
            tag=certs.version,
            paths=tuple(
                f"{cert_crds}{name}.yaml"
                for name in (
                    "acme.cert-manager.io_challenges",
                    "acme.cert-manager.io_orders",
                    "cert-manager.io_certificaterequests",
                    "cert-manager.io_certificates",
                    "cert-manager.io_clusterissuers",
                    "cert-manager.io_issuers",
                )
            ),
            chart_dir="deploy/charts/cert-manager",
        ),
    }


def _crd_documents(repo: Path, source: CrdSource) -> list[dict[str, Any]]:
    files: list[str] = []
    for path in source.paths:
        if path.endswith("/"):
            listing = git(repo, "ls-tree", "--name-only", f"{source.tag}:{path}")
            files += [path + name for name in listing.split() if name.endswith(".yaml")]
        else:
            files.append(path)
    documents = []
    for file in sorted(files):
        text = git(repo, "show", f"{source.tag}:{file}")
        # Chart templates wrap the CRDs in `{{- if .Values.crds.create }}` (cert-manager's also
        # template labels and annotations, indented): drop template lines.
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("{{"))
        documents += [
            doc
            for doc in yaml.load_all(text, Loader=_CrdLoader)  # a SafeLoader
            if doc and doc.get("kind") == "CustomResourceDefinition"
        ]
    return documents


def _convert_children(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("description", "nullable", "x-kubernetes-int-or-string"):
            continue
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = to_json_schema(value)
        else:
            out[key] = value
    return out


def to_json_schema(node: Any) -> Any:
    """Convert one openAPIV3Schema node (recursively) to a closed JSON Schema node."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = _convert_children(node)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}, *out.get("anyOf", [])]
    is_object = node.get("type") == "object" or "properties" in node
    if (
        is_object
        and not node.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in node
    ):
        out["additionalProperties"] = False
    if _DEPRECATED.search(str(node.get("description", ""))):
        out["deprecated"] = True
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def resource_schema(crd: dict[str, Any], version: dict[str, Any], comment: str) -> dict[str, Any]:
    """The JSON Schema of one served version of crd: apiVersion and kind fixed, metadata open."""
    spec = crd["spec"]
    schema = to_json_schema(version["schema"]["openAPIV3Schema"])
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"const": f"{spec['group']}/{version['name']}"}
    props["kind"] = {"const": spec["names"]["kind"]}
    props["metadata"] = {"type": "object"}
    schema["required"] = sorted({"apiVersion", "kind", *schema.get("required", [])})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": comment,
        **schema,
    }


def write_chart(mirrors: Path, chart: str, source: CrdSource, out: Path) -> list[Path]:
    """Write the schemas of one chart into out/<chart>/ (replacing what was there)."""
    repo = find_clone(mirrors, source.repository)
    commit = git(repo, "rev-list", "-n", "1", source.tag).strip()
    folder = out / chart
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    # The version as pinned: tag `<chart>-v0.29.0` is 0.29.0; a chart released with its project
    # is tagged with its version alone (cert-manager `v1.21.1`).
    _, dash, last = source.tag.rpartition("-")
    version = last.removeprefix("v") if dash else source.tag
    written = []
    for crd in _crd_documents(repo, source):
        for served in crd["spec"]["versions"]:
            if not served.get("served", True):
                continue
            kind = crd["spec"]["names"]["kind"]
            comment = f"{kind} from CRD {crd['metadata']['name']}, Helm chart {chart} {version}"
            schema = resource_schema(crd, served, comment)
            path = folder / f"{crd['spec']['group']}_{served['name']}_{kind}.json"
            path.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            written.append(path)
    shipped = git(repo, "ls-tree", "--name-only", f"{source.tag}:{source.chart_dir}").split()
    if "values.schema.json" in shipped:
        values = git(repo, "show", f"{source.tag}:{source.chart_dir}/values.schema.json")
        (folder / "values.schema.json").write_text(values, encoding="utf-8")
        written.append(folder / "values.schema.json")
    meta = {
        "chart": chart,
        "version": version,
        "repository": source.repository,
        "tag": source.tag,
        "commit": commit,
        "paths": list(source.paths),
    }
    text = json.dumps(meta, indent=1, sort_keys=True) + "\n"
    (folder / "source.json").write_text(text, encoding="utf-8")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Write the schemas of every pinned chart that ships CRDs."""
    parser = argparse.ArgumentParser(prog="python -m scripts.crd_schemas", description=__doc__)
    parser.add_argument("--mirrors", required=True, type=Path, help="folder of upstream clones")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder")
    parser.add_argument(
        "--only", action="append", default=[], help="convert only this chart (repeatable)"
    )
    args = parser.parse_args(argv)
    for chart, source in sources().items():
        if args.only and chart not in args.only:
            continue
        written = write_chart(args.mirrors, chart, source, args.out)
        print(f"{chart} ({source.tag}): {len(written)} schemas -> {args.out / chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
