"""Command line of `make diff`: render the base and the working tree, print the report."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from infra.diff import __doc__ as package_doc
from infra.diff.compare import Render, StackDiff, compare
from infra.diff.renders import DiffError, RenderJob, export_tree, git, render_all, resolve_base
from infra.diff.report import markdown, to_json

EXIT_ERROR = 2


def _stacks(trees: Sequence[Path]) -> list[str]:
    """Return every stack with a stack file in any of the trees (dev, stage, prod, forks' own)."""
    names = {p.name[len("Pulumi.") : -len(".yaml")] for t in trees for p in _stack_files(t)}
    order = {"dev": 0, "stage": 1, "prod": 2}
    return sorted(names, key=lambda s: (order.get(s, len(order)), s))


def _stack_files(tree: Path) -> list[Path]:
    return sorted((tree / "stacks").glob("Pulumi.*.yaml"))


def build_diffs(
    repo: Path, base_commit: str, stacks: Sequence[str] | None, parallel: int
) -> list[StackDiff]:
    """Render each stack at base_commit and in the working tree repo; compare them."""
    with tempfile.TemporaryDirectory(prefix="mlops-diff-") as tmp:
        base_tree = Path(tmp) / "base"
        export_tree(repo, base_commit, base_tree)
        names = list(stacks) if stacks else _stacks([base_tree, repo])
        pairs = [
            (
                RenderJob(base_tree, s, Path(tmp) / "out" / "base" / s),
                RenderJob(repo, s, Path(tmp) / "out" / "head" / s),
            )
            for s in names
        ]
        render_all([job for pair in pairs for job in pair], parallel)
        return [
            compare(
                base_job.stack,
                Render.empty() if base_job.absent else Render.load(base_job.out_dir),
                Render.empty() if head_job.absent else Render.load(head_job.out_dir),
            )
            for base_job, head_job in pairs
        ]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the report; exit 0 whether or not anything changed, 2 when no diff can be made."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.diff",
        description=package_doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--base", help="git ref to compare with (default: merge base with main)")
    parser.add_argument(
        "--stack",
        action="append",
        dest="stacks",
        help="a stack to compare; repeat for more (default: every stacks/Pulumi.<stack>.yaml)",
    )
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    parser.add_argument(
        "--repo", type=Path, default=Path.cwd(), help="repository root (default: .)"
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="renders at a time (default: CPU count, at most 4)",
    )
    args = parser.parse_args(argv)
    try:
        repo = Path(git(args.repo, "rev-parse", "--show-toplevel"))
        label, commit = resolve_base(repo, args.base)
        diffs = build_diffs(repo, commit, args.stacks, args.parallel)
    except DiffError as exc:
        print(f"make diff: {exc}", file=sys.stderr)
        return EXIT_ERROR
    write = to_json if args.format == "json" else markdown
    sys.stdout.write(write(label, commit, diffs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
