"""The structural diff and the report, on hand-written documents (no render)."""

from __future__ import annotations

import copy

from infra.diff.compare import ObjectChange, ObjectRef, Render, StackDiff, compare
from infra.diff.report import markdown, to_json
from infra.diff.structure import FieldChange, diff

POD = {
    "metadata": {"labels": {"app.kubernetes.io/name": "serving"}},
    "spec": {
        "containers": [
            {"name": "serving", "env": [{"name": "MODEL_ALIAS", "value": "champion"}]},
            {"name": "sidecar", "args": ["--a", "--b"]},
        ],
        "ports": [{"port": 80}, {"port": 443}],
    },
}


def _pod(**changes: object) -> dict[str, object]:
    pod = copy.deepcopy(POD)
    for path, value in changes.items():
        node = pod
        *parents, last = path.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    return pod


def test_named_list_items_are_keyed_by_name() -> None:
    new = _pod()
    new["spec"]["containers"][0]["env"][0]["value"] = "challenger"
    # Reordering named items is not a change.
    new["spec"]["containers"].reverse()

    assert diff(POD, new) == [
        FieldChange(
            "spec.containers[serving].env[MODEL_ALIAS].value", "changed", "champion", "challenger"
        )
    ]


def test_dotted_keys_are_quoted_and_scalar_lists_compare_whole() -> None:
    new = _pod()
    new["metadata"]["labels"]["app.kubernetes.io/name"] = "other"
    new["spec"]["containers"][1]["args"] = ["--a", "--c"]

    assert [(c.path, c.old, c.new) for c in diff(POD, new)] == [
        ('metadata.labels["app.kubernetes.io/name"]', "serving", "other"),
        ("spec.containers[sidecar].args", ["--a", "--b"], ["--a", "--c"]),
    ]


def test_unnamed_lists_compare_by_index_then_whole() -> None:
    same_length = _pod(spec__ports=[{"port": 80}, {"port": 8443}])
    longer = _pod(spec__ports=[{"port": 80}, {"port": 443}, {"port": 9090}])

    assert diff(POD, same_length) == [FieldChange("spec.ports[1].port", "changed", 443, 8443)]
    assert [c.path for c in diff(POD, longer)] == ["spec.ports"]


def test_added_and_removed_keys() -> None:
    new = _pod()
    del new["metadata"]["labels"]
    new["spec"]["hostNetwork"] = False

    assert diff(POD, new) == [
        FieldChange("metadata.labels", "removed", old={"app.kubernetes.io/name": "serving"}),
        FieldChange("spec.hostNetwork", "added", new=False),
    ]


def _render(*objects: dict[str, object]) -> Render:
    refs = {
        ObjectRef(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o  # type: ignore[index, union-attr]
        for o in objects
    }
    return Render(refs, {})


def test_secret_data_and_credential_keys_are_never_shown() -> None:
    old_secret = {
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "n"},
        "stringData": {"url": "https://hooks.example/OLD"},
    }
    new_secret = {
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "n"},
        "stringData": {"url": "https://hooks.example/NEW", "token": "t0k3n"},
    }
    old_cm = {
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n"},
        "data": {"adminPassword": "hunter2", "mode": "a"},
    }
    new_cm = {
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "n"},
        "data": {"adminPassword": "hunter3", "mode": "b"},
    }

    stack = compare("dev", _render(old_secret, old_cm), _render(new_secret, new_cm))
    text = markdown("main", "0" * 40, [stack]) + to_json("main", "0" * 40, [stack])

    for value in ("OLD", "NEW", "t0k3n", "hunter2", "hunter3"):
        assert value not in text
    assert "- `stringData.url`: changed (secret value not shown)" in text
    assert "- `stringData.token`: added (secret value not shown)" in text
    assert "- `data.mode`: `a` → `b`" in text


def test_report_shows_multiline_text_as_a_diff_and_empty_stacks_as_no_changes() -> None:
    ref = ObjectRef("ConfigMap", "n", "rules")
    change = FieldChange("data.rules", "changed", "a\nb\nc\n", "a\nB\nc\n")
    changed = StackDiff("stage", [], [], [ObjectChange(ref, [change])], [], [])
    unchanged = StackDiff("dev", [], [], [], [], [])

    text = markdown("main", "abc", [unchanged, changed])

    assert "| `dev` | no changes |" in text
    assert "### Stack `dev`: no changes" in text
    assert "### Stack `stage`: 1 object changed (1 field)\n" in text
    block = ["```diff", "--- old", "+++ new", "@@ -1,3 +1,3 @@", " a", "-b", "+B", " c", "```"]
    # Indented under the field's bullet, itself under the object's bullet.
    assert "\n".join(f"    {line}" for line in block) in text


def test_option_changes_show_and_options_one_side_never_recorded_are_not_compared() -> None:
    ref = ObjectRef("Cluster", "n", "db")
    obj = {"kind": "Cluster", "metadata": {"name": "db", "namespace": "n"}}
    old = Render({ref: obj}, {}, {ref: {"protect": True, "dependsOn": ["ns"]}})
    new = Render({ref: obj}, {}, {ref: {"protect": True, "dependsOn": ["ns", "operator"]}})
    # A base rendered before `retainOnDelete` was recorded: no key, so no change claimed.
    newer = Render(
        {ref: obj}, {}, {ref: {"protect": True, "dependsOn": ["ns"], "retainOnDelete": True}}
    )

    stack = compare("prod", old, new)

    assert stack.changed == [
        ObjectChange(ref, [], [FieldChange("dependsOn", "changed", ["ns"], ["ns", "operator"])])
    ]
    assert stack.summary() == "1 object changed (1 Pulumi option)"
    text = markdown("main", "abc", [stack])
    assert '  - Pulumi option `dependsOn`: `["ns"]` → `["ns", "operator"]`' in text
    assert compare("prod", old, newer).empty
