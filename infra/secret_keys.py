"""List the remote keys a stack's Secrets are read from (providers `openbao` and `external`).

    uv run --frozen python -m infra.secret_keys --stack prod [--config FILE]

One line per remote key: the key, then the Secrets (`namespace/name`) built from it. With
`external` these are the keys to create in the cloud secret manager before `pulumi up`; with
`openbao` the platform writes them itself. Computed from the same specs as the render, so the
list cannot drift from what the ExternalSecrets read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from infra.assembly import secret_store_args, store_backend
from infra.components.external_secrets import remote_keys
from infra.config import ConfigError, load_stack_file

REPO_ROOT = Path(__file__).resolve().parent.parent


def listing(config: Path) -> list[str]:
    """Return the lines for one stack file (a sentence when the provider reads no store)."""
    cfg = load_stack_file(config)
    backend = store_backend(cfg.secrets)
    if backend is None:
        return [f"secrets.provider is {cfg.secrets.provider!r}: no remote keys are read"]
    specs = [(s.namespace, s.name, s.data) for s in secret_store_args(cfg).secrets]
    keys = remote_keys(specs, backend)
    return [f"{key}\t{', '.join(secrets)}" for key, secrets in keys.items()]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the listing; exit 2 on a config error."""
    parser = argparse.ArgumentParser(prog="python -m infra.secret_keys", description=__doc__)
    parser.add_argument("--stack", required=True, help="dev, stage or prod")
    parser.add_argument("--config", type=Path, help="stack file (default: stacks/Pulumi.<stack>)")
    args = parser.parse_args(argv)
    config = args.config or REPO_ROOT / "stacks" / f"Pulumi.{args.stack}.yaml"
    try:
        lines = listing(config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
