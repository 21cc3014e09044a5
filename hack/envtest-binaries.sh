#!/usr/bin/env bash
# Builds the control-plane binaries that envtest needs (kube-apiserver, etcd,
# kubectl) from Go module sources, because release downloads are not
# reachable everywhere tierwall is built. The binaries land where
# setup-envtest keeps them, so either tool can reuse the other's cache, and a
# second run costs nothing.
#
# Usage: hack/envtest-binaries.sh        # prints the assets directory on stdout
#
# Progress goes to stderr: what is being built, then every
# ENVTEST_PROGRESS_INTERVAL seconds the time spent and the packages compiled
# so far. Runs that need the same assets directory take turns (flock on
# <assets>.lock next to it): a second run, say `make test` started while
# `make demo` builds, waits for the first and reuses its binaries.
#
# Environment:
#   KUBEBUILDER_ASSETS  use this directory instead; if it already holds the
#                       binaries nothing is built
#   K8S_VERSION         Kubernetes version (default: from k8s.io/api in go.mod)
#   ETCD_VERSION        etcd version (default below)
#   ENVTEST_PROGRESS_INTERVAL  seconds between progress lines (default 30)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
etcd_version=${ETCD_VERSION:-v3.6.16}
if [[ -z "${K8S_VERSION:-}" ]]; then
  # k8s.io/api v0.Y.Z ships with Kubernetes v1.Y.Z.
  api_version=$(cd "$root" && go list -m -f '{{.Version}}' k8s.io/api)
  K8S_VERSION="v1.${api_version#v0.}"
fi
k8s_version=$K8S_VERSION
os_arch="$(go env GOOS)-$(go env GOARCH)"
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
assets=${KUBEBUILDER_ASSETS:-$data_home/kubebuilder-envtest/k8s/${k8s_version#v}-$os_arch}

interval=${ENVTEST_PROGRESS_INTERVAL:-30}

log() { printf 'envtest-binaries: %s\n' "$*" >&2; }

have() { [[ -x "$assets/$1" ]]; }

have_all() { have kube-apiserver && have etcd && have kubectl; }

# since START prints the time from START (in seconds since the epoch) to now,
# as 1m05s.
since() {
  local s=$(($(date +%s) - $1))
  printf '%dm%02ds' $((s / 60)) $((s % 60))
}

# progress WHAT [COUNT_FILE] -- CMD...: runs CMD, and while it runs logs
# "WHAT: <elapsed>" every $interval seconds, with the number of lines in
# COUNT_FILE (the packages `go build -v` has compiled) when given.
ticker=
progress() {
  local what=$1 count_file=${2:-} start rc=0
  shift 2
  start=$(date +%s)
  (
    while sleep "$interval"; do
      if [[ -n "$count_file" ]]; then
        log "$what: $(since "$start"), $(wc -l <"$count_file" 2>/dev/null || echo 0) packages compiled"
      else
        log "$what: $(since "$start")"
      fi
    done
  ) &
  ticker=$!
  "$@" || rc=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  ticker=
  if ((rc == 0)); then log "$what: done in $(since "$start")"; fi
  return "$rc"
}

# go_build_v OUT DIR ARGS...: go build -v ARGS in DIR, its stderr (the
# packages it compiles, and any errors) to OUT.
go_build_v() {
  local out=$1 dir=$2
  shift 2
  go -C "$dir" build -v "$@" 2>"$out"
}

# go_build DIR WHAT ARGS...: go build -v ARGS in DIR with progress; the
# package list goes to a file that progress counts, and on failure only the
# compiler's messages (the lines that are not bare package paths) are shown.
go_build() {
  local dir=$1 what=$2 out
  shift 2
  out=$(mktemp "$work/build.XXXXXX")
  if ! progress "$what" "$out" go_build_v "$out" "$dir" "$@"; then
    grep -Ev '^[[:alnum:]._~/-]+$' "$out" >&2 || true
    log "$what: failed"
    return 1
  fi
}

if have_all; then
  echo "$assets"
  exit 0
fi

work=$(mktemp -d)
trap '[[ -z "$ticker" ]] || kill "$ticker" 2>/dev/null; rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod

# Take turns with other runs building the same assets: the lock is a file
# next to the assets directory (setup-envtest ignores names that are not
# <version>-<os>-<arch>). flock(1) is util-linux; without it, build unlocked.
parent=$(dirname "$assets")
mkdir -p "$parent"
lock="$parent/$(basename "$assets").lock"
if command -v flock >/dev/null; then
  exec 9>"$lock"
  if ! flock -n 9; then
    log "another run is building $assets; waiting for it (lock: $lock)"
    progress "waiting for the other run" "" flock 9
  fi
  if have_all; then
    log "reusing the binaries the other run built in $assets"
    echo "$assets"
    exit 0
  fi
else
  log "flock not found: not guarding $assets against a concurrent build"
fi
mkdir -p "$assets"

build_kubernetes() {
  local mod="$work/kubernetes"
  mkdir -p "$mod"
  log "building kube-apiserver and kubectl $k8s_version from module sources (several minutes the first time)"
  # The kubernetes module maps its staging modules (k8s.io/api, ...) to local
  # directories; point each at the published module of the same release.
  local gomod
  gomod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$k8s_version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  {
    echo "module tierwall.dev/envtest-kubernetes"
    echo
    echo "go 1.26.0"
    echo
    echo "godebug default=go1.26"
    echo
    echo "require k8s.io/kubernetes $k8s_version"
    echo
    sed -n 's#^[[:space:]]*\(k8s.io/[^[:space:]]*\) => ./staging/.*#\1#p' "$gomod" |
      while read -r m; do echo "replace $m => $m v0.${k8s_version#v1.}"; done
  } >"$mod/go.mod"
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
  ldflags+=" -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$k8s_version")"
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  progress "downloading the sources of kube-apiserver and kubectl $k8s_version" "" \
    go -C "$mod" get "k8s.io/kubernetes/cmd/kube-apiserver@$k8s_version" "k8s.io/kubernetes/cmd/kubectl@$k8s_version" >&2
  go_build "$mod" "compiling kube-apiserver and kubectl $k8s_version" \
    -trimpath -ldflags "$ldflags" -o "$work/bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
  local mod="$work/etcd"
  mkdir -p "$mod"
  log "building etcd $etcd_version from module sources"
  cat >"$mod/go.mod" <<MOD
module tierwall.dev/envtest-etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 $etcd_version

replace (
	go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 $etcd_version
	go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 $etcd_version
	go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 $etcd_version
	go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 $etcd_version
)
MOD
  progress "downloading the sources of etcd $etcd_version" "" \
    go -C "$mod" get "go.etcd.io/etcd/server/v3@$etcd_version" >&2
  go_build "$mod" "compiling etcd $etcd_version" -trimpath -ldflags "-s -w" -o "$work/bin/etcd" go.etcd.io/etcd/server/v3
}

have etcd || build_etcd
have kube-apiserver && have kubectl || build_kubernetes
# Move into place only after a complete build, so an interrupted run never
# leaves a half-written binary that a later run would trust.
for b in etcd kube-apiserver kubectl; do
  if [[ -x "$work/bin/$b" ]]; then mv -f "$work/bin/$b" "$assets/$b"; fi
done
log "binaries ready in $assets"
echo "$assets"
