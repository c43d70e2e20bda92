#!/usr/bin/env bash
# Installs the tools that Sluice's tests need on a fresh machine:
#
#   .tools/bin/etcd, kube-apiserver, kube-controller-manager, kubectl
#       built from test/tools/go.mod (k8s.io/kubernetes + etcd server), the
#       binaries the envtest harness (test/envtest/controlplane.ts) runs;
#   .tools/bin/helm
#       built from test/tools/helm/go.mod (helm v3);
#   .tools/bin/otelcol
#       an OpenTelemetry Collector (OTLP receiver and OTLP/HTTP exporter only)
#       built from test/tools/otelcol, for the tracing tests;
#   redis-server, lua5.4 and prometheus (prometheus + promtool, for the alert
#   and dashboard tests in test/chart/)
#       from Debian's packages, when they are not on PATH already;
#   bench (only when asked for; npm run bench asks): wrk, redis-server, python3
#       with venv, from Debian's packages, for bench/run.ts.
#
# Idempotent: each binary is rebuilt only when its stamp in
# .tools/bin/.versions does not match the pinned version (module version plus a
# hash of the go.sum it is built from). If KUBEBUILDER_ASSETS names a folder
# that holds etcd and kube-apiserver, the binaries found there are linked into
# .tools/bin instead of being built.
#
# Usage: scripts/install-tools.sh [k8s] [helm] [otelcol] [system] [bench]   (default: all but bench)
# Env:   TOOLS_BIN   where to put binaries (default: <repo>/.tools/bin)
#        KUBEBUILDER_ASSETS   prebuilt etcd/kube-apiserver/... to use instead
#
# A cold build (empty Go module and build caches) took 6m42s on an idle
# 2-core machine (5m45s control plane, 57s helm), nearer 10 minutes when the
# machine is busy. With a warm Go build cache (a fresh clone on a machine that
# built before) it takes ~20 s; with everything current, under a second.
# See docs/testing-controlplane.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${TOOLS_BIN:-$ROOT/.tools/bin}"
STAMPS="$BIN/.versions"
K8S_MOD="$ROOT/test/tools"
HELM_MOD="$ROOT/test/tools/helm"
OTELCOL_MOD="$ROOT/test/tools/otelcol"

log() { printf '[install-tools %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[install-tools] error: %s\n' "$*" >&2; exit 1; }

want_k8s=0 want_helm=0 want_otelcol=0 want_system=0 want_bench=0
if [[ $# -eq 0 ]]; then want_k8s=1 want_helm=1 want_otelcol=1 want_system=1; fi
for arg in "$@"; do
  case "$arg" in
    k8s) want_k8s=1 ;;
    helm) want_helm=1 ;;
    otelcol) want_otelcol=1 ;;
    system) want_system=1 ;;
    bench) want_bench=1 ;;
    -h|--help) sed -n '2,32p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown component '$arg' (expected: k8s, helm, otelcol, system, bench)" ;;
  esac
done

mkdir -p "$BIN"
touch "$STAMPS"
BUILD_DIRS=()
cleanup() { local d; for d in "${BUILD_DIRS[@]}"; do rm -rf "$d"; done; }
trap cleanup EXIT

# --- helpers ---------------------------------------------------------------

# Version of a module required in a go.mod ("" when absent).
mod_version() {
  awk -v m="$2" '
    $1 == "require" { $0 = substr($0, index($0, $2)) }
    $1 == m && $2 ~ /^v/ { print $2; exit }' "$1"
}

sum_hash() { sha256sum "$1" | cut -c1-16; }

stamp_of() { awk -v n="$1" '$1 == n { $1 = ""; sub(/^ /, ""); print; exit }' "$STAMPS"; }

set_stamp() {
  local name="$1" key="$2" tmp
  tmp="$(mktemp "$BIN/.versions.XXXXXX")"
  awk -v n="$name" '$1 != n' "$STAMPS" >"$tmp"
  printf '%s %s\n' "$name" "$key" >>"$tmp"
  chmod 644 "$tmp"
  mv "$tmp" "$STAMPS"
}

# True when BIN/name exists, runs, and its stamp equals key.
up_to_date() {
  local name="$1" key="$2"
  [[ -x "$BIN/$name" ]] && [[ "$(stamp_of "$name")" == "$key" ]]
}

need_go() {
  command -v go >/dev/null 2>&1 || die "Go is not on PATH; Go >= 1.26 is needed to build the test tools"
  local v
  v="$(go env GOVERSION)"
  log "using $v ($(command -v go)), GOMODCACHE=$(go env GOMODCACHE)"
}

# go build with the flags every tool uses. Static binaries, no VCS stamping.
gobuild() {
  local dir="$1"; shift
  (
    cd "$dir"
    CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly -buildvcs=false" \
      go build -trimpath "$@"
  )
}

elapsed() { local s=$(($(date +%s) - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# --- Kubernetes control plane ---------------------------------------------

install_k8s() {
  local kver ever sumh kkey ekey assets="" name
  kver="$(mod_version "$K8S_MOD/go.mod" k8s.io/kubernetes)"
  ever="$(mod_version "$K8S_MOD/go.mod" go.etcd.io/etcd/server/v3)"
  [[ -n "$kver" && -n "$ever" ]] || die "cannot read pinned versions from $K8S_MOD/go.mod"
  sumh="$(sum_hash "$K8S_MOD/go.sum")"
  kkey="kubernetes@$kver sum:$sumh"
  ekey="etcd@$ever sum:$sumh"

  if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
    if [[ -x "$KUBEBUILDER_ASSETS/etcd" && -x "$KUBEBUILDER_ASSETS/kube-apiserver" ]]; then
      assets="$(cd "$KUBEBUILDER_ASSETS" && pwd)"
      log "KUBEBUILDER_ASSETS=$assets holds etcd and kube-apiserver: linking what it has"
    else
      log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks etcd or kube-apiserver: ignoring it"
    fi
  fi

  local -a kube_pkgs=()
  local build_etcd=0
  for name in etcd kube-apiserver kube-controller-manager kubectl; do
    if [[ -n "$assets" && -x "$assets/$name" ]]; then
      ln -sfn "$assets/$name" "$BIN/$name"
      set_stamp "$name" "external:$assets"
      log "$name: linked from $assets"
      continue
    fi
    local key="$kkey"
    [[ "$name" == etcd ]] && key="$ekey"
    if up_to_date "$name" "$key"; then
      log "$name: up to date ($key)"
      continue
    fi
    if [[ "$name" == etcd ]]; then build_etcd=1; else kube_pkgs+=("k8s.io/kubernetes/cmd/$name"); fi
  done

  if [[ $build_etcd -eq 0 && ${#kube_pkgs[@]} -eq 0 ]]; then return 0; fi
  need_go
  local out t0 minor
  out="$(mktemp -d "$BIN/.build.XXXXXX")"
  BUILD_DIRS+=("$out")

  t0=$(date +%s)
  log "downloading modules for $K8S_MOD (k8s.io/kubernetes $kver, etcd $ever)"
  (cd "$K8S_MOD" && go mod download)
  log "modules ready after $(elapsed "$t0")"

  if [[ $build_etcd -eq 1 ]]; then
    local t1
    t1=$(date +%s)
    log "building etcd $ever"
    gobuild "$K8S_MOD" -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
    mv -f "$out/etcd" "$BIN/etcd"
    set_stamp etcd "$ekey"
    log "etcd built in $(elapsed "$t1")"
  fi

  if [[ ${#kube_pkgs[@]} -gt 0 ]]; then
    local t2 ld="-s -w" k
    t2=$(date +%s)
    minor="${kver#v1.}"; minor="${minor%%.*}"
    # Same version stamping as kubernetes' hack/lib/version.sh, so that
    # `kubectl version` and the apiserver's /version report the real release.
    for k in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
      ld+=" -X $k.gitVersion=$kver -X $k.gitMajor=1 -X $k.gitMinor=$minor -X $k.gitTreeState=clean"
    done
    log "building ${kube_pkgs[*]##*/} ($kver) - the slow part, several minutes on 2 cores"
    gobuild "$K8S_MOD" -ldflags "$ld" -o "$out/" "${kube_pkgs[@]}"
    for k in "${kube_pkgs[@]}"; do
      name="${k##*/}"
      mv -f "$out/$name" "$BIN/$name"
      set_stamp "$name" "$kkey"
    done
    log "${kube_pkgs[*]##*/} built in $(elapsed "$t2")"
  fi
  log "control plane binaries done in $(elapsed "$t0")"
}

# --- helm --------------------------------------------------------------------

install_helm() {
  local hver kcli sumh key
  hver="$(mod_version "$HELM_MOD/go.mod" helm.sh/helm/v3)"
  [[ -n "$hver" ]] || die "cannot read the helm version from $HELM_MOD/go.mod"
  sumh="$(sum_hash "$HELM_MOD/go.sum")"
  key="helm@$hver sum:$sumh"
  if up_to_date helm "$key"; then
    log "helm: up to date ($key)"
    return 0
  fi
  need_go
  local t0 out kmaj kmin ld
  t0=$(date +%s)
  out="$(mktemp -d "$BIN/.build.XXXXXX")"
  BUILD_DIRS+=("$out")
  log "downloading modules for $HELM_MOD (helm $hver)"
  (cd "$HELM_MOD" && go mod download)
  # helm's Makefile derives the Kubernetes version it reports from client-go.
  kcli="$(cd "$HELM_MOD" && go list -m -f '{{.Version}}' k8s.io/client-go)"
  kmaj=1; kmin="${kcli#v0.}"; kmin="${kmin%%.*}"
  ld="-s -w -X helm.sh/helm/v3/internal/version.version=$hver -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  ld+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$kmaj -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$kmin"
  ld+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$kmaj -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kmin"
  log "building helm $hver"
  gobuild "$HELM_MOD" -ldflags "$ld" -o "$out/helm" helm.sh/helm/v3/cmd/helm
  mv -f "$out/helm" "$BIN/helm"
  set_stamp helm "$key"
  log "helm built in $(elapsed "$t0")"
}

# The collector's module version (otelcol) and its go.sum pin the build, like helm's.
install_otelcol() {
  local ver sumh key t0 out
  ver="$(mod_version "$OTELCOL_MOD/go.mod" go.opentelemetry.io/collector/otelcol)"
  [[ -n "$ver" ]] || die "cannot read the collector version from $OTELCOL_MOD/go.mod"
  sumh="$(sum_hash "$OTELCOL_MOD/go.sum")"
  key="otelcol@$ver sum:$sumh"
  if up_to_date otelcol "$key"; then
    log "otelcol: up to date ($key)"
    return 0
  fi
  need_go
  t0=$(date +%s)
  out="$(mktemp -d "$BIN/.build.XXXXXX")"
  BUILD_DIRS+=("$out")
  log "downloading modules for $OTELCOL_MOD (collector $ver)"
  (cd "$OTELCOL_MOD" && go mod download)
  log "building otelcol $ver"
  gobuild "$OTELCOL_MOD" -ldflags "-s -w" -o "$out/otelcol" .
  mv -f "$out/otelcol" "$BIN/otelcol"
  set_stamp otelcol "$key"
  log "otelcol built in $(elapsed "$t0")"
}

# --- Debian packages -------------------------------------------------------

# apt-get installs the packages named; a no-op for an empty list.
apt_install() {
  [[ $# -eq 0 ]] && return 0
  command -v apt-get >/dev/null 2>&1 || die "need $* but apt-get is not available; install them by hand"
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install $*"
    sudo="sudo"
  fi
  log "apt-get install $*"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  log "installed: $*"
}

install_system() {
  local -a pkgs=()
  command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server)
  command -v lua5.4 >/dev/null 2>&1 || pkgs+=(lua5.4)
  # Debian's prometheus package ships both prometheus and promtool
  { command -v prometheus && command -v promtool; } >/dev/null 2>&1 || pkgs+=(prometheus)
  if [[ ${#pkgs[@]} -eq 0 ]]; then
    log "redis-server, lua5.4 and prometheus: present"
    return 0
  fi
  apt_install "${pkgs[@]}"
}

# What bench/run.ts runs besides Node: wrk (closed-loop load), redis-server (sluice-full's limits),
# taskset (pinning; util-linux), python3 with venv and ensurepip (the LiteLLM proxy's venv).
install_bench() {
  local -a pkgs=()
  command -v wrk >/dev/null 2>&1 || pkgs+=(wrk)
  command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server)
  command -v taskset >/dev/null 2>&1 || pkgs+=(util-linux)
  command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || pkgs+=(python3-venv)
  if [[ ${#pkgs[@]} -eq 0 ]]; then
    log "wrk, redis-server, taskset, python3 with venv: present"
    return 0
  fi
  apt_install "${pkgs[@]}"
}

T0=$(date +%s)
if [[ $want_system -eq 1 ]]; then install_system; fi
if [[ $want_bench -eq 1 ]]; then install_bench; fi
if [[ $want_k8s -eq 1 ]]; then install_k8s; fi
if [[ $want_helm -eq 1 ]]; then install_helm; fi
if [[ $want_otelcol -eq 1 ]]; then install_otelcol; fi
log "all done in $(elapsed "$T0"); binaries in $BIN"
if [[ $want_k8s -eq 1 || $want_helm -eq 1 || $want_otelcol -eq 1 ]]; then
  for f in etcd kube-apiserver kube-controller-manager kubectl helm otelcol; do
    if [[ -e "$BIN/$f" ]]; then printf '    %-24s %s\n' "$f" "$(stamp_of "$f")"; fi
  done
fi
