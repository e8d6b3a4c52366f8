#!/usr/bin/env bash
# make kind-up: the dev stack's cluster on this machine. A kind cluster named after the dev
# stack's kubeContext (`kind-<name>`) and a local registry at the dev stack's images.registry
# (localhost:<port>), wired the way kind documents it (containerd certs.d + the
# local-registry-hosting ConfigMap). Works on amd64 and arm64 hosts: kind and the registry image
# are multi-arch and nothing here names a platform. Idempotent: an existing cluster or registry
# is kept. Needs docker and kind on PATH.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/kind-lib.sh
source scripts/kind-lib.sh

require docker
require kind
require kubectl
read_dev_stack

if [ "$(docker inspect -f '{{.State.Running}}' "$REGISTRY_NAME" 2>/dev/null || true)" != "true" ]; then
  if docker inspect "$REGISTRY_NAME" >/dev/null 2>&1; then
    docker start "$REGISTRY_NAME"
  else
    echo "starting registry $REGISTRY_NAME on 127.0.0.1:$REGISTRY_PORT ($REGISTRY_IMAGE)"
    docker run -d --restart=always -p "127.0.0.1:$REGISTRY_PORT:5000" --network bridge \
      --name "$REGISTRY_NAME" "$REGISTRY_IMAGE"
  fi
fi

if kind get clusters | grep -qx "$CLUSTER"; then
  echo "kind cluster $CLUSTER exists"
else
  echo "creating kind cluster $CLUSTER (context kind-$CLUSTER)"
  kind create cluster --name "$CLUSTER" --config - <<CONFIG
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
containerdConfigPatches:
  - |-
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d"
CONFIG
fi

# Each node resolves localhost:<port> (what the images' names say) to the registry container.
for node in $(kind get nodes --name "$CLUSTER"); do
  dir="/etc/containerd/certs.d/localhost:$REGISTRY_PORT"
  docker exec "$node" mkdir -p "$dir"
  printf '[host."http://%s:5000"]\n' "$REGISTRY_NAME" | docker exec -i "$node" cp /dev/stdin "$dir/hosts.toml"
done

if [ "$(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' "$REGISTRY_NAME")" = "null" ]; then
  docker network connect kind "$REGISTRY_NAME"
fi

# Tells tools where the local registry is (KEP-1755).
kubectl --context "kind-$CLUSTER" apply -f - <<MANIFEST
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "localhost:$REGISTRY_PORT"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
MANIFEST

echo "ready: kube context kind-$CLUSTER, registry localhost:$REGISTRY_PORT"
echo "next: install cert-manager only if you enable postgres.backups; then pulumi up --stack dev"
