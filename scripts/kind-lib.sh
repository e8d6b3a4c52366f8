# Shared by kind-up.sh and kind-down.sh (sourced, not run).
# shellcheck shell=bash

# The registry image: multi-arch (amd64, arm64), pinned. Override with KIND_REGISTRY_IMAGE.
REGISTRY_IMAGE="${KIND_REGISTRY_IMAGE:-registry:2.8.3}"
REGISTRY_NAME="${KIND_REGISTRY_NAME:-kind-registry}"
export REGISTRY_IMAGE REGISTRY_NAME
UV="${UV:-uv}"

require() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "error: $1 is not on PATH (install it: https://kind.sigs.k8s.io/docs/user/quick-start/)" >&2
    exit 1
  fi
}

# Sets CLUSTER and REGISTRY_PORT from stacks/Pulumi.dev.yaml through the program's own config
# loader, so the cluster is what `pulumi up --stack dev` will talk to.
read_dev_stack() {
  local facts
  facts="$("$UV" run --frozen python - <<'PY'
from pathlib import Path

from infra.config import load_stack_file

cfg = load_stack_file(Path("stacks/Pulumi.dev.yaml"))
context, registry = cfg.kube_context, cfg.images.registry or ""
host, _, port = registry.partition(":")
if not context.startswith("kind-") or host != "localhost" or not port.isdigit():
    raise SystemExit(
        f"stacks/Pulumi.dev.yaml: kubeContext {context!r} and images.registry {registry!r} "
        "must look like 'kind-<name>' and 'localhost:<port>' for a kind cluster"
    )
print(context.removeprefix("kind-"), port)
PY
)"
  read -r CLUSTER REGISTRY_PORT <<<"$facts"
  export CLUSTER REGISTRY_PORT
}
