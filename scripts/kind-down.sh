#!/usr/bin/env bash
# make kind-down: delete the dev kind cluster and its local registry (everything in them goes).
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/kind-lib.sh
source scripts/kind-lib.sh

require docker
require kind
read_dev_stack

if kind get clusters | grep -qx "$CLUSTER"; then
  kind delete cluster --name "$CLUSTER"
else
  echo "no kind cluster $CLUSTER"
fi
if docker inspect "$REGISTRY_NAME" >/dev/null 2>&1; then
  docker rm -f "$REGISTRY_NAME"
else
  echo "no registry container $REGISTRY_NAME"
fi
