#!/usr/bin/env bash
# `make e2e-kind`: the end-to-end checks on a kind cluster (needs Docker and kind; not part of CI).
# Builds both images, loads them into a fresh kind cluster, installs the chart, applies the e2e
# resources, then runs check.ts: traffic with the openai SDK through a port-forward while routes
# change, apply -> every replica serving, zero failed requests, Programmed=True.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLUSTER="${KIND_CLUSTER:-sluice-e2e}"
NS=sluice-system
APP_NS=sluice-e2e
VERSION="${VERSION:-e2e}"
REGISTRY="${IMAGE_REGISTRY:-ghcr.io/sluice-dev}"
HELM="${HELM:-$ROOT/.tools/bin/helm}"
KUBECTL="${KUBECTL:-kubectl}"
PF_PID=""

for tool in docker kind "$KUBECTL" "$HELM"; do
  command -v "$tool" >/dev/null || { echo "e2e-kind: '$tool' not found" >&2; exit 2; }
done
cleanup() {
  [[ -n "$PF_PID" ]] && kill "$PF_PID" 2>/dev/null || true
  [[ "${KEEP_CLUSTER:-0}" == 1 ]] || kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
}
trap cleanup EXIT

make -C "$ROOT" images VERSION="$VERSION" IMAGE_REGISTRY="$REGISTRY"
kind create cluster --name "$CLUSTER" --config "$ROOT/test/e2e-kind/kind-config.yaml" --wait 120s
kind load docker-image --name "$CLUSTER" "$REGISTRY/sluice-dataplane:$VERSION" "$REGISTRY/sluice-operator:$VERSION"
"$KUBECTL" create namespace "$APP_NS"
# No --wait: dataplane pods stay in ContainerCreating until the operator has rendered a config,
# which needs the resources applied below. Wait for the operator first, the dataplane after.
"$HELM" install sluice "$ROOT/charts/sluice" --namespace "$NS" --create-namespace --timeout 5m \
  --set operator.image.tag="$VERSION" --set dataplane.image.tag="$VERSION" \
  --set dataplane.replicas=2 --set dataplane.autoscaling.enabled=false
"$KUBECTL" -n "$NS" rollout status deploy/sluice-operator --timeout=180s
"$KUBECTL" apply -n "$APP_NS" --server-side -f "$ROOT/test/e2e-kind/manifests.yaml"
"$KUBECTL" -n "$NS" rollout status deploy/sluice-dataplane --timeout=180s
"$KUBECTL" -n "$NS" port-forward svc/sluice-dataplane 18080:80 >/dev/null 2>&1 &
PF_PID=$!
sleep 2
cd "$ROOT"
E2E_NAMESPACE="$APP_NS" E2E_BASE_URL="http://127.0.0.1:18080/v1" KUBECTL="$KUBECTL" \
  node_modules/.bin/node test/e2e-kind/check.ts
