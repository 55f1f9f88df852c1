#!/usr/bin/env bash
# Builds the programs of make k8s-up's single-node cluster natively, from the module sources of the
# versions .env pins, into build/k8s/bin: Kubernetes (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy, kubectl), etcd, the CNI plugins, CoreDNS, the pause program and
# crictl (which make k8s-down uses to stop every pod through the CRI, and which is there to explore).
# Each is built once per version: a warm run only checks the stamps. Needs: gcc, libc6-dev, jq.
# containerd and runc come from Debian's packages (make k8s-up checks them), as on most nodes.
set -euo pipefail
cd "$(dirname "$0")/../.."
source .env # the pinned versions (KEY=value lines, which bash reads as they are)
: "${KUBERNETES_VERSION:?.env pins no KUBERNETES_VERSION}" "${ETCD_VERSION:?.env pins no ETCD_VERSION}"
: "${CNI_PLUGINS_VERSION:?.env pins no CNI_PLUGINS_VERSION}" "${COREDNS_VERSION:?.env pins no COREDNS_VERSION}"
: "${PAUSE_VERSION:?.env pins no PAUSE_VERSION}" "${CRI_TOOLS_VERSION:?.env pins no CRI_TOOLS_VERSION}"
bin=$PWD/build/k8s/bin
src=$PWD/build/k8s/src
mkdir -p "$bin" "$src"

# The checksum database cannot be reached for some of these modules through the module proxy here;
# each module is still verified against the go.sum it ships. GOWORK=off: none is part of the workspace.
export GOSUMDB=off GOWORK=off GOFLAGS="-buildvcs=false -mod=mod" CGO_ENABLED=0

# built NAME VERSION: whether NAME was built at VERSION (its stamp file says so).
built() { [[ -f $bin/$1.version && $(cat "$bin/$1.version") == "$2" ]]; }
stamp() { echo "$2" > "$bin/$1.version"; echo "built $1 ($2)"; }

# copy MODULE@VERSION DIR: the module's source, writable, for a build that must edit its go.mod.
copy() {
  local dir
  dir=$(go mod download -json "$1" | jq -r .Dir)
  rm -rf "$2" && cp -r "$dir" "$2" && chmod -R u+w "$2"
}

# Kubernetes: its go.mod replaces its 31 staging modules (k8s.io/api, client-go, ...) with directories
# that the module zip leaves out, and so does its vendor/modules.txt. Each replace is pointed at the
# published module of the same release (v1.35.4 -> v0.35.4), and the incomplete vendor/ goes.
if ! built kubernetes "$KUBERNETES_VERSION"; then
  copy "k8s.io/kubernetes@$KUBERNETES_VERSION" "$src/kubernetes"
  (
    cd "$src/kubernetes"
    rm -rf vendor go.work go.work.sum
    staging=v0.${KUBERNETES_VERSION#v1.}
    for m in $(sed -n '/^replace (/,/^)/p' go.mod | awk '/=>/ {print $1}'); do
      go mod edit -replace "$m=$m@$staging"
    done
    # What `kubectl version` and the API's /version report, as a release build stamps it.
    v=k8s.io/component-base/version
    minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
    ldflags="-X $v.gitVersion=$KUBERNETES_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
    go build -trimpath -ldflags "$ldflags" -o "$bin/" ./cmd/kube-apiserver ./cmd/kube-controller-manager \
      ./cmd/kube-scheduler ./cmd/kubelet ./cmd/kube-proxy ./cmd/kubectl
  )
  stamp kubernetes "$KUBERNETES_VERSION"
fi

# etcd: its server module replaces its sibling modules with ../api and the like; the published ones
# of the same release are used instead.
if ! built etcd "$ETCD_VERSION"; then
  copy "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "$src/etcd"
  (
    cd "$src/etcd"
    for m in go.etcd.io/etcd/api/v3 go.etcd.io/etcd/client/pkg/v3 go.etcd.io/etcd/client/v3 go.etcd.io/etcd/pkg/v3; do
      go mod edit -replace "$m=$m@$ETCD_VERSION"
    done
    go build -trimpath -o "$bin/etcd" .
  )
  stamp etcd "$ETCD_VERSION"
fi

# The CNI plugins the node's network config names: bridge, host-local (addresses), loopback, portmap.
if ! built cni-plugins "$CNI_PLUGINS_VERSION"; then
  mkdir -p "$bin/cni"
  for p in main/bridge main/loopback ipam/host-local meta/portmap; do
    GOBIN=$bin/cni go install -trimpath "github.com/containernetworking/plugins/plugins/$p@$CNI_PLUGINS_VERSION"
  done
  stamp cni-plugins "$CNI_PLUGINS_VERSION"
fi

if ! built coredns "$COREDNS_VERSION"; then
  GOBIN=$bin go install -trimpath "github.com/coredns/coredns@$COREDNS_VERSION"
  stamp coredns "$COREDNS_VERSION"
fi

if ! built crictl "$CRI_TOOLS_VERSION"; then
  GOBIN=$bin go install -trimpath "sigs.k8s.io/cri-tools/cmd/crictl@$CRI_TOOLS_VERSION"
  stamp crictl "$CRI_TOOLS_VERSION"
fi

# The pause program every pod's sandbox runs: Kubernetes' own C source, from its module, linked static
# as its image has it.
if ! built pause "$PAUSE_VERSION"; then
  dir=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | jq -r .Dir)
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION" -o "$bin/pause" "$dir/build/pause/linux/pause.c"
  stamp pause "$PAUSE_VERSION"
fi
