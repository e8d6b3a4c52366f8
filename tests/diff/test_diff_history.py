"""`make diff` on real git history: one change committed, its report shows that change only."""

from __future__ import annotations

import json
import re
from typing import Any

from infra import versions
from tests.diff.gitrepo import REPO_ROOT, Repo, git

SERVING = {"kind": "Deployment", "namespace": "mlops-serving", "name": "serving"}
PLATFORM_NAMESPACES = ("platform", "training", "serving", "monitoring")


def _json_report(repo: Repo, *args: str) -> dict[str, Any]:
    proc = repo.run_diff("--format", "json", *args)
    assert proc.returncode == 0, proc.stderr
    return {s["stack"]: s for s in json.loads(proc.stdout)["stacks"]}


def _object(stack: dict[str, Any], ref: dict[str, str]) -> dict[str, Any]:
    [found] = [c for c in stack["changed"] if {k: c[k] for k in ref} == ref]
    return found


def test_changed_replicas_show_exactly_that_field_on_that_deployment(repo: Repo) -> None:
    old: list[int] = []

    def more_replicas(keys: dict[str, Any]) -> None:
        old.append(keys["serving"]["replicas"])
        keys["serving"]["replicas"] += 1

    repo.edit_stack("stage", more_replicas)
    repo.commit("stage: one more serving replica")

    stacks = _json_report(repo, "--base", "HEAD~1")

    stage = stacks["stage"]
    serving = _object(stage, SERVING)
    assert serving["fields"] == [
        {"path": "spec.replicas", "change": "changed", "old": old[0], "new": old[0] + 1}
    ]
    # The autoscaler's floor is serving.replicas too; nothing else may move.
    others = {(c["kind"], c["name"]) for c in stage["changed"]} - {("Deployment", "serving")}
    assert others <= {("HorizontalPodAutoscaler", "serving")}
    assert stage["added"] == stage["removed"] == stage["resources"] == []
    # Untouched: prod, and dev, whose images build with the commit as GIT_COMMIT (both sides
    # render without git, so the commit is the same fallback on both).
    for untouched in ("dev", "prod"):
        assert stacks[untouched]["summary"] == "no changes"
        assert stacks[untouched]["changed"] == stacks[untouched]["resources"] == []


def test_changed_chart_version_shows_in_the_release(repo: Repo) -> None:
    chart = versions.KUBE_PROMETHEUS_CHART
    major, rest = chart.version.split(".", 1)
    bumped = f"{int(major) + 1}.{rest}"
    repo.replace("infra/versions.py", f'"{chart.version}"', f'"{bumped}"')
    repo.commit("bump kube-prometheus-stack")

    proc = repo.run_diff("--base", "HEAD~1", "--stack", "stage")

    assert proc.returncode == 0, proc.stderr
    report = proc.stdout
    assert "**Helm releases**" in report
    release_line = re.search(rf"^- .*chart `{chart.chart}` .*$", report, re.MULTILINE)
    assert release_line is not None, report
    assert f"`{chart.version}` → `{bumped}`" in release_line.group(0)
    # The release, and the chart's CRDs the program applies from the same chart tag.
    summary = "| `stage` | 1 Helm release changed; 10 other Pulumi resources changed |"
    assert summary in report
    assert f"kube-prometheus-stack-{bumped}" in report
    assert "**Changed objects**" not in report


def test_a_secret_value_change_shows_only_that_it_changed(repo: Repo) -> None:
    old_key, new_key = "AKIAOLDVALUE0000", "AKIANEWVALUE1111"

    def external_s3(access_key: str) -> Any:
        def change(keys: dict[str, Any]) -> None:
            keys["objectStore"] = {
                "engine": "external",
                "endpoint": "https://s3.eu-west-1.amazonaws.com",
                "accessKeyId": access_key,
                "secretAccessKey": {"secure": "v1:ciphertext"},
                "keys": {
                    name: {
                        "accessKeyId": f"AKIA{name.upper()}",
                        "secretAccessKey": {"secure": "v1:c"},
                    }
                    for name in ("mlflow", "training", "serving", "postgresBackups")
                },
            }

        return change

    # main: stage on an external S3; feature: the access key rotated. No --base: the default
    # is the merge base with main.
    repo.edit_stack("stage", external_s3(old_key))
    repo.commit("stage: external S3")
    git(repo.root, "branch", "-q", "-f", "main", "HEAD")
    repo.edit_stack("stage", external_s3(new_key))
    repo.commit("stage: rotate the S3 access key")

    markdown = repo.run_diff("--stack", "stage")
    as_json = repo.run_diff("--stack", "stage", "--format", "json")

    for proc in (markdown, as_json):
        assert proc.returncode == 0, proc.stderr
        assert old_key not in proc.stdout
        assert new_key not in proc.stdout
    stage = json.loads(as_json.stdout)["stacks"][0]
    # The rotated key is the bucket Job's admin key: no consumer's Secret changes.
    assert {(c["kind"], c["namespace"], c["name"]) for c in stage["changed"]} == {
        ("Secret", "mlops-platform", "s3-admin-credentials")
    }
    for secret in stage["changed"]:
        assert secret["fields"] == [
            {"path": "stringData.AWS_ACCESS_KEY_ID", "change": "changed", "hidden": True}
        ]
    assert "- `stringData.AWS_ACCESS_KEY_ID`: changed (secret value not shown)" in markdown.stdout
    assert "merge-base(HEAD, main)" in markdown.stdout


def test_unprotecting_data_shows_protect_and_retain_on_each_protected_object(repo: Repo) -> None:
    def unprotect(keys: dict[str, Any]) -> None:
        keys["protectData"] = False

    repo.edit_stack("stage", unprotect)
    repo.commit("stage: unprotect the data")

    stage = _json_report(repo, "--base", "HEAD~1", "--stack", "stage")["stage"]
    markdown = repo.run_diff("--base", "HEAD~1", "--stack", "stage")

    # No manifest field moves: only the options the engine acts on, on every protected object.
    unprotected = [
        {"path": "protect", "change": "changed", "old": True, "new": False},
        {"path": "retainOnDelete", "change": "changed", "old": True, "new": False},
    ]
    assert {(c["kind"], c["name"]) for c in stage["changed"]} == {
        ("Cluster", "mlflow-db"),
        ("PersistentVolumeClaim", "seaweedfs"),
        *(
            ("Namespace", ns)
            for ns in ("cnpg-system", "cert-manager", *(f"mlops-{n}" for n in PLATFORM_NAMESPACES))
        ),
    }
    for obj in stage["changed"]:
        assert (obj["fields"], obj["options"]) == ([], unprotected), obj
    assert stage["summary"] == "8 objects changed (16 Pulumi options)"
    cluster = markdown.stdout.split("- **Cluster** `mlops-platform/mlflow-db`\n", 1)[1]
    assert cluster.startswith(
        "  - Pulumi option `protect`: `true` → `false`\n"
        "  - Pulumi option `retainOnDelete`: `true` → `false`\n"
    )


def _readme_sample() -> str:
    """The first sample report in README.md, without its first line (the base and commit)."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    sample = readme.split("````markdown\n", 1)[1].split("````", 1)[0]
    return sample.split("\n", 1)[1]


def test_the_readme_sample_report_is_what_that_change_prints(repo: Repo) -> None:
    def as_in_the_readme(keys: dict[str, Any]) -> None:
        keys["serving"]["replicas"] = 3
        keys["modelAlias"] = "production"

    repo.edit_stack("stage", as_in_the_readme)
    repo.commit("stage: the README's sample change")

    proc = repo.run_diff("--base", "HEAD~1")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n", 1)[1] == _readme_sample(), (
        "README.md's first sample report is stale: run the change it names and paste the report"
    )


def test_an_unknown_base_fails_naming_it(repo: Repo) -> None:
    proc = repo.run_diff("--base", "no-such-ref")

    assert proc.returncode == 2
    assert "no-such-ref" in proc.stderr
    assert proc.stdout == ""
