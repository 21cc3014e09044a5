#!/usr/bin/env bash
# Builds the control-plane binaries that envtest needs (kube-apiserver, etcd,
# kubectl) from Go module sources, because release downloads are not
# reachable everywhere tierwall is built. The binaries land where
# setup-envtest keeps them, so either tool can reuse the other's cache, and a
# second run costs nothing.
#
# Usage: hack/envtest-binaries.sh        # prints the assets directory on stdout
#
# Environment:
#   KUBEBUILDER_ASSETS  use this directory instead; if it already holds the
#                       binaries nothing is built
#   K8S_VERSION         Kubernetes version (default: from k8s.io/api in go.mod)
#   ETCD_VERSION        etcd version (default below)
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

log() { printf 'envtest-binaries: %s\n' "$*" >&2; }

have() { [[ -x "$assets/$1" ]]; }

if have kube-apiserver && have etcd && have kubectl; then
  echo "$assets"
  exit 0
fi
mkdir -p "$assets"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod

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
  (cd "$mod" &&
    go get "k8s.io/kubernetes/cmd/kube-apiserver@$k8s_version" "k8s.io/kubernetes/cmd/kubectl@$k8s_version" >&2 &&
    go build -trimpath -ldflags "$ldflags" -o "$work/bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl)
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
  (cd "$mod" &&
    go get "go.etcd.io/etcd/server/v3@$etcd_version" >&2 &&
    go build -trimpath -ldflags "-s -w" -o "$work/bin/etcd" go.etcd.io/etcd/server/v3)
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
