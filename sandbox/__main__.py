"""`python -m sandbox up|down|drift|status|events|timeline`: the dev stack's loop on 127.0.0.1.

The state folder is .sandbox at the repository root, or SANDBOX_DIR. See docs/sandbox.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sandbox.state import StateDir, StateError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("up", help="render the dev stack and start its loop (make sandbox)")
    commands.add_parser("down", help="stop every sandbox process (make sandbox-down)")
    drift = commands.add_parser("drift", help="switch the traffic to drifted data")
    drift.add_argument("value", nargs="?", type=float, default=1.0, help="0..1 (default 1)")
    commands.add_parser("status", help="what runs, traffic counters, last events")
    commands.add_parser("events", help="every event as JSON lines")
    timeline = commands.add_parser("timeline", help="PNG of the loop over time")
    timeline.add_argument("--out", type=Path, default=None, help="PNG path (default: state)")
    timeline.add_argument("--minutes", type=float, default=None, help="how far back (default all)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors print one message and exit 1."""
    args = _parser().parse_args(argv)
    state = StateDir.from_env()
    try:
        if args.command == "events":
            for event in state.events():
                print(json.dumps(event, sort_keys=True))
            return 0
        if args.command == "timeline":
            from sandbox.timeline import write_timeline

            out = write_timeline(state, args.out, args.minutes)
            print(f"timeline written to {out}")
            return 0
        if args.command == "drift":
            state.set_drift(args.value)
            state.add_event("drift", value=args.value)
            print(f"traffic drift set to {args.value:g} (the traffic process reads it each second)")
            return 0
        from sandbox.stack import Sandbox, SandboxError

        sandbox = Sandbox(state)
        try:
            if args.command == "up":
                sandbox.up()
            elif args.command == "down":
                sandbox.down()
            else:
                print("\n".join(sandbox.status()))
        except SandboxError as exc:
            print(f"sandbox: {exc}", file=sys.stderr)
            return 1
    except (StateError, ValueError, RuntimeError) as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
