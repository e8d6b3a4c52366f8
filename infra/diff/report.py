"""Write stack diffs as a Markdown report for reviewers or as JSON for machines."""

from __future__ import annotations

import dataclasses
import difflib
import json
from typing import Any

from infra.diff.compare import ObjectRef, ResourceChange, StackDiff
from infra.diff.renders import BUILD_COMMIT_NOTE
from infra.diff.structure import FieldChange

# A value longer than this is cut in the Markdown report (the JSON report keeps it whole).
MAX_INLINE = 160


def _code(text: str) -> str:
    """Return text as inline code, with a fence longer than any backtick run inside it."""
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _inline(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if len(text) > MAX_INLINE:
        text = text[: MAX_INLINE - 1] + "…"
    return _code(text)


def _multiline(old: Any, new: Any) -> bool:
    return isinstance(old, str) and isinstance(new, str) and ("\n" in old or "\n" in new)


# Before the path of a Pulumi option change: it is no manifest field, the engine acts on it.
OPTION_LABEL = "Pulumi option "


def field_lines(f: FieldChange, label: str = "") -> list[str]:
    """Return the Markdown bullet (and diff block, for multi-line text) of one field change."""
    path = label + _code(f.path)
    if f.hidden:
        return [f"- {path}: {f.change} (secret value not shown)"]
    if f.change == "added":
        return [f"- {path}: added {_inline(f.new)}"]
    if f.change == "removed":
        return [f"- {path}: removed (was {_inline(f.old)})"]
    if _multiline(f.old, f.new):
        lines = difflib.unified_diff(
            f.old.splitlines(), f.new.splitlines(), "old", "new", lineterm="", n=2
        )
        return [f"- {path}:", "", "  ```diff", *(f"  {line}" for line in lines), "  ```", ""]
    return [f"- {path}: {_inline(f.old)} → {_inline(f.new)}"]


def _ref(ref: ObjectRef) -> str:
    where = f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
    return f"**{ref.kind}** {_code(where)}"


def _resource_line(r: ResourceChange) -> str:
    head = f"{_code(r.type)} {_code(r.name)}"
    if r.chart is None:
        return f"- {head}: {r.change}"
    if r.change == "added":
        return f"- {head}: added, chart {_code(r.chart)} {_code(str(r.new_version))}"
    if r.change == "removed":
        return f"- {head}: removed (was chart {_code(r.chart)} {_code(str(r.old_version))})"
    if r.old_version != r.new_version:
        version = f"{_code(str(r.old_version))} → {_code(str(r.new_version))}"
    else:
        version = f"{_code(str(r.new_version))} (unchanged)"
    return f"- {head}: chart {_code(r.chart)} {version}"


def _stack_section(d: StackDiff) -> list[str]:
    lines = [f"### Stack `{d.stack}`: {d.summary()}", ""]
    if d.empty:
        return lines
    if d.changed:
        lines += ["**Changed objects**", ""]
        for c in d.changed:
            lines.append(f"- {_ref(c.ref)}")
            lines += _indented(c.fields, c.options)
        lines.append("")
    for title, refs in (("Added objects", d.added), ("Removed objects", d.removed)):
        if refs:
            lines += [f"**{title}**", "", *(f"- {_ref(r)}" for r in refs), ""]
    for title, changes in (("Helm releases", d.releases), ("Other Pulumi resources", d.resources)):
        if changes:
            lines += [f"**{title}**", ""]
            for r in changes:
                lines.append(_resource_line(r))
                lines += _indented(r.fields, r.options)
            lines.append("")
    return lines


def _indented(fields: list[FieldChange], options: list[FieldChange]) -> list[str]:
    """Return the nested bullets of an object's field changes, then its option changes."""
    lines = [line for f in fields for line in field_lines(f)]
    lines += [line for f in options for line in field_lines(f, OPTION_LABEL)]
    return [f"  {line}" if line else "" for line in lines]


def markdown(base_label: str, base_commit: str, diffs: list[StackDiff]) -> str:
    """Return the whole report: a summary table, then one section per stack."""
    lines = [
        f"## Infrastructure diff: {_code(base_label)} ({base_commit[:12]}) → working tree",
        "",
        BUILD_COMMIT_NOTE,
        "",
        "| stack | summary |",
        "| --- | --- |",
        *(f"| `{d.stack}` | {d.summary()} |" for d in diffs),
        "",
    ]
    for d in diffs:
        lines += _stack_section(d)
    return "\n".join(lines).rstrip() + "\n"


def _field_json(f: FieldChange) -> dict[str, Any]:
    out: dict[str, Any] = {"path": f.path, "change": f.change}
    if f.hidden:
        out["hidden"] = True
    else:
        if f.change != "added":
            out["old"] = f.old
        if f.change != "removed":
            out["new"] = f.new
    return out


def to_json(base_label: str, base_commit: str, diffs: list[StackDiff]) -> str:
    """Return the report as JSON: base, then per stack its summary and every change."""
    stacks = []
    for d in diffs:
        resources = []
        for r in [*d.releases, *d.resources]:
            item = {
                k: v for k, v in dataclasses.asdict(r).items() if k not in ("fields", "options")
            }
            resources.append(
                {
                    **item,
                    "fields": [_field_json(f) for f in r.fields],
                    "options": [_field_json(f) for f in r.options],
                }
            )
        stacks.append(
            {
                "stack": d.stack,
                "summary": d.summary(),
                "added": [dataclasses.asdict(r) for r in d.added],
                "removed": [dataclasses.asdict(r) for r in d.removed],
                "changed": [
                    {
                        **dataclasses.asdict(c.ref),
                        "fields": [_field_json(f) for f in c.fields],
                        "options": [_field_json(f) for f in c.options],
                    }
                    for c in d.changed
                ],
                "resources": resources,
            }
        )
    document = {
        "base": {"ref": base_label, "commit": base_commit},
        "notes": [BUILD_COMMIT_NOTE],
        "stacks": stacks,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
