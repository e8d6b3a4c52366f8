"""Compare two offline renders of one stack: objects, Helm releases and other Pulumi resources.

A render is what `python -m infra.render` writes: `manifests/*.yaml` and `resources.json`.
Besides inputs, each resource's Pulumi options (protect, retainOnDelete, dependsOn, ...) are
compared: the engine acts on them (an unprotected Cluster can be deleted), so a review must see
them move even when no manifest field does.
They are read here with yaml/json only, never through infra.render, so the comparison does not
import the Pulumi program it reviews (the base tree's program may differ from this one).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.diff.structure import FieldChange, IsHidden, diff

# Pulumi types that are Helm releases or charts: reported with their chart version.
_HELM_PREFIX = "kubernetes:helm.sh/"
# A resources.json record whose type starts with "kubernetes:" and is not one of these is a
# manifest, already compared as an object.
_NOT_MANIFEST_PREFIXES = (_HELM_PREFIX, "kubernetes:yaml/", "kubernetes:kustomize/")
# Keys whose values are credentials by name (normalized: lower case, letters and digits only).
# Errs on hiding: `existingSecret` (a reference) is hidden too; `secretName` is not.
_CREDENTIAL_KEY = re.compile(
    r"(password|passwd|secret|token|apikey|privatekey|accesskey|accesskeyid|kubeconfig)$"
)
_SECRET_DATA = (".data", ".stringData")


@dataclass(frozen=True, order=True)
class ObjectRef:
    """A Kubernetes object's identity in a report; namespace is "" for cluster-scoped kinds."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        """Return `kind namespace/name` (or `kind name` when cluster-scoped)."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


@dataclass(frozen=True)
class ObjectChange:
    """An object present in both renders with different content or Pulumi options."""

    ref: ObjectRef
    fields: list[FieldChange]
    options: list[FieldChange] = field(default_factory=list)


@dataclass(frozen=True)
class ResourceChange:
    """A Pulumi-side resource (Helm release, provider, password...) added, removed or changed.

    For Helm releases chart/old_version/new_version are set; fields are input changes
    other than the version; options are changes of its Pulumi options.
    """

    type: str
    name: str
    change: str
    chart: str | None = None
    old_version: str | None = None
    new_version: str | None = None
    fields: list[FieldChange] = field(default_factory=list)
    options: list[FieldChange] = field(default_factory=list)


@dataclass(frozen=True)
class StackDiff:
    """Everything that differs in one stack between the base render and the new one."""

    stack: str
    added: list[ObjectRef]
    removed: list[ObjectRef]
    changed: list[ObjectChange]
    releases: list[ResourceChange]
    resources: list[ResourceChange]

    @property
    def empty(self) -> bool:
        """True when the two renders are the same."""
        return not (self.added or self.removed or self.changed or self.releases or self.resources)

    def summary(self) -> str:
        """Return one line of counts, zeros left out, e.g. "1 object changed (1 field)"."""
        if self.empty:
            return "no changes"
        objects = [
            f"{_count(len(self.changed), 'object')} changed ({self._what_changed()})"
            if self.changed
            else "",
            f"{_count(len(self.added), 'object')} added" if self.added else "",
            f"{_count(len(self.removed), 'object')} removed" if self.removed else "",
        ]
        parts = [
            ", ".join(p for p in objects if p),
            f"{_count(len(self.releases), 'Helm release')} changed" if self.releases else "",
            f"{_count(len(self.resources), 'other Pulumi resource')} changed"
            if self.resources
            else "",
        ]
        return "; ".join(p for p in parts if p)

    def _what_changed(self) -> str:
        n_fields = sum(len(c.fields) for c in self.changed)
        n_options = sum(len(c.options) for c in self.changed)
        counts = [_count(n_fields, "field") if n_fields or not n_options else ""]
        counts.append(_count(n_options, "Pulumi option") if n_options else "")
        return ", ".join(c for c in counts if c)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class Render:
    """One render loaded from disk; an empty render stands for a stack a tree does not have."""

    objects: dict[ObjectRef, dict[str, Any]]
    resources: dict[tuple[str, str], dict[str, Any]]
    # The Pulumi options of each object's resource (see options_of).
    object_options: dict[ObjectRef, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Render:
        """Return a render with nothing in it."""
        return cls({}, {})

    @classmethod
    def load(cls, out_dir: Path) -> Render:
        """Load `<out_dir>/manifests/*.yaml` and `<out_dir>/resources.json`."""
        objects: dict[ObjectRef, dict[str, Any]] = {}
        for path in sorted((out_dir / "manifests").glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if doc:
                    meta = doc.get("metadata") or {}
                    ref = ObjectRef(doc["kind"], meta.get("namespace") or "", meta["name"])
                    objects[ref] = doc
        records = json.loads((out_dir / "resources.json").read_text(encoding="utf-8"))
        resources = {(r["type"], r["name"]): r for r in records if not _is_manifest(r["type"])}
        object_options = {
            _manifest_ref(r): options_of(r) for r in records if _is_manifest(r["type"])
        }
        return cls(objects, resources, object_options)


def _is_manifest(type_token: str) -> bool:
    return type_token.startswith("kubernetes:") and not type_token.startswith(
        _NOT_MANIFEST_PREFIXES
    )


def _manifest_ref(record: dict[str, Any]) -> ObjectRef:
    """Return the ref of the object a manifest record renders to (kind as the render sets it)."""
    inputs = record["inputs"]
    meta = inputs.get("metadata") or {}
    kind = inputs.get("kind") or record["type"].split(":", 2)[2]
    return ObjectRef(str(kind), meta.get("namespace") or "", str(meta.get("name")))


def options_of(record: dict[str, Any]) -> dict[str, Any]:
    """Return a resources.json record's Pulumi options, with its `depends_on` as `dependsOn`."""
    options = dict(record.get("options") or {})
    if "depends_on" in record:
        options["dependsOn"] = record["depends_on"]
    return options


def diff_options(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[FieldChange]:
    """Return the changes of Pulumi options, on the options both renders record.

    A base rendered before an option was recorded lacks that key: it is not compared, rather
    than shown as added on every resource.
    """
    if old is None or new is None:
        return []
    common = [k for k in old if k in new]
    return diff({k: old[k] for k in common}, {k: new[k] for k in common})


def is_credential_path(segments: tuple[str, ...]) -> bool:
    """True when a path ends in a credential-named key (`.adminPassword`, `[API_TOKEN].value`)."""
    keys = [s.strip('.[]"') for s in segments]
    if keys and keys[-1] == "value" and len(keys) > 1:
        keys = keys[:-1]
    return bool(keys) and bool(_CREDENTIAL_KEY.search(re.sub(r"[^a-z0-9]", "", keys[-1].lower())))


def _object_hidden(kind: str) -> IsHidden:
    def hidden(segments: tuple[str, ...]) -> bool:
        in_secret_data = kind == "Secret" and bool(segments) and segments[0] in _SECRET_DATA
        return in_secret_data or is_credential_path(segments)

    return hidden


def compare(stack: str, base: Render, head: Render) -> StackDiff:
    """Return what differs between the base render and the head render of one stack."""
    changed = []
    for ref in sorted(base.objects.keys() & head.objects.keys()):
        fields = diff(base.objects[ref], head.objects[ref], _object_hidden(ref.kind))
        options = diff_options(base.object_options.get(ref), head.object_options.get(ref))
        if fields or options:
            changed.append(ObjectChange(ref, fields, options))
    releases: list[ResourceChange] = []
    resources: list[ResourceChange] = []
    for key in sorted(base.resources.keys() | head.resources.keys()):
        change = _compare_resource(key, base.resources.get(key), head.resources.get(key))
        if change is not None:
            (releases if key[0].startswith(_HELM_PREFIX) else resources).append(change)
    return StackDiff(
        stack=stack,
        added=sorted(head.objects.keys() - base.objects.keys()),
        removed=sorted(base.objects.keys() - head.objects.keys()),
        changed=changed,
        releases=releases,
        resources=resources,
    )


def _compare_resource(
    key: tuple[str, str], old: dict[str, Any] | None, new: dict[str, Any] | None
) -> ResourceChange | None:
    typ, name = key
    old_in = (old or {}).get("inputs") or {}
    new_in = (new or {}).get("inputs") or {}
    helm = typ.startswith(_HELM_PREFIX)
    chart = str(new_in.get("chart") or old_in.get("chart")) if helm else None
    old_version = old_in.get("version") if helm and old is not None else None
    new_version = new_in.get("version") if helm and new is not None else None
    if old is None or new is None:
        change = "added" if old is None else "removed"
        return ResourceChange(typ, name, change, chart, old_version, new_version)
    rest = [
        f for f in diff(old_in, new_in, is_credential_path) if not (helm and f.path == "version")
    ]
    options = diff_options(options_of(old), options_of(new))
    if not rest and not options and old_version == new_version:
        return None
    return ResourceChange(typ, name, "changed", chart, old_version, new_version, rest, options)
