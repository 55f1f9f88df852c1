#!/usr/bin/env bash
# Builds, under the exact name:tag docker-compose.yml uses, the images the compose run needs and this
# machine cannot pull: the Collector, Loki, Prometheus, the Go auto agent, Beyla where a binary is
# given (BEYLA_BIN), and the golang base of services/Dockerfile; plus the Tempo stand-in of
# e2e/stack/compose.tempo-standin.yml. Each follows its official
# image in entrypoint, default command, user and the directories it creates with their owner and mode
# (one Dockerfile each, beside this script). The binaries come from the native builds: make collector,
# make tempo-standin, make agent, make loki, make prometheus; make k8s-build for the cluster's pause and
# CoreDNS images.
#
# An image whose inputs have not changed is kept (label lab.inputs); a pulled official image of the same
# name (no such label) is never replaced.
set -euo pipefail
cd "$(dirname "$0")/../../.."
here=e2e/stack/images
work=build/images
mkdir -p "$work"

# The tags, read where the project pins them: .env, which docker compose reads too.
source .env # the pinned versions (KEY=value lines, which bash reads as they are)
collector_image=otel/opentelemetry-collector-contrib:${COLLECTOR_VERSION:?.env pins no COLLECTOR_VERSION}
loki_image=grafana/loki:${LOKI_VERSION:?.env pins no LOKI_VERSION}
prometheus_image=prom/prometheus:${PROMETHEUS_VERSION:?.env pins no PROMETHEUS_VERSION}
agent_image=ghcr.io/open-telemetry/opentelemetry-go-instrumentation/autoinstrumentation-go:${OTEL_GO_AUTO_VERSION:?.env pins no OTEL_GO_AUTO_VERSION}
go_version=${GO_VERSION:?.env pins no GO_VERSION}
golang_image=golang:${go_version}-bookworm
standin_image=zero-code-lab/tempo-standin:local

# Every built binary must be the version its image tag names.
expect_version() { # file, want, what
  local got
  got=$(cat "$1.version" 2>/dev/null || true)
  [[ $got == "$2" ]] || { echo "$3 was built at '$got' but the image is $2: rebuild it" >&2; exit 1; }
}
expect_version build/loki "${loki_image#*:}" "build/loki (make loki)"
expect_version build/prometheus "${prometheus_image#*:}" "build/prometheus (make prometheus)"
expect_version build/otel-go-instrumentation "${agent_image#*:}" "build/otel-go-instrumentation (make agent)"
collector_version=$(build/otelcol/otelcol-zerocode --version | awk '{print $NF}')
[[ $collector_version == "${collector_image#*:}" ]] || {
  echo "build/otelcol is version $collector_version but compose runs $collector_image (make collector)" >&2; exit 1; }

# build NAME TAG: builds $here/NAME.Dockerfile with the context $work/NAME unless an image of that tag
# was already built from the same inputs.
build() {
  local name=$1 tag=$2 ctx=$work/$1 inputs have
  cp "$here/$name.Dockerfile" "$ctx/Dockerfile"
  inputs=$(cd "$ctx" && { find . -printf '%p %m %U %G\n' | sort; find . -type f -print0 | sort -z | xargs -0 sha256sum; } \
    | sha256sum | cut -c1-16)
  have=$(docker image inspect -f '{{index .Config.Labels "lab.inputs"}}' "$tag" 2>/dev/null || true)
  if [[ $have == "$inputs" ]]; then
    echo "$tag is up to date"
    return
  fi
  if docker image inspect "$tag" >/dev/null 2>&1 && [[ -z $have ]]; then
    echo "$tag exists and was not built here (pulled?): kept as it is"
    return
  fi
  # The classic builder: these Dockerfiles need nothing more, and it needs no buildx. Its output (and
  # its deprecation notice) is shown only when it fails.
  if ! out=$(DOCKER_BUILDKIT=0 docker build -q --label "lab.inputs=$inputs" -t "$tag" "$ctx" 2>&1); then
    echo "$out" >&2
    exit 1
  fi
  echo "built $tag"
}

fresh() { rm -rf "$work/$1" && mkdir -p "$work/$1"; }
# dir_tar CONTEXT NAME PATH UID:GID MODE: a tar holding the empty directory PATH with that owner and mode,
# which the Dockerfile ADDs at / (ADD unpacks a local tar keeping both; COPY of a directory keeps no mode).
dir_tar() {
  local tmp
  tmp=$(mktemp -d)
  mkdir -p "$tmp/root/${3#/}" && chmod "$5" "$tmp/root/${3#/}"
  tar --numeric-owner --owner="${4%:*}" --group="${4#*:}" --mtime=@0 -C "$tmp/root" -cf "$1/$2.tar" "${3#/}"
  rm -rf "$tmp"
}
passwd() { # dir, then lines name:uid:gid
  local dir=$1; shift
  : > "$dir/passwd"; : > "$dir/group"
  for entry in "$@"; do
    IFS=: read -r name uid gid <<< "$entry"
    echo "$name:x:$uid:$gid:$name:/nonexistent:/sbin/nologin" >> "$dir/passwd"
    echo "$name:x:$gid:" >> "$dir/group"
  done
}

fresh collector
cp build/otelcol/otelcol-zerocode "$work/collector/otelcol-contrib"
cp collector/config.yaml "$work/collector/config.yaml"
cp /etc/ssl/certs/ca-certificates.crt "$work/collector/"
build collector "$collector_image"

fresh loki
cp build/loki "$work/loki/loki"
cp observability/loki/loki.yaml "$work/loki/loki.yaml"
passwd "$work/loki" root:0:0 loki:10001:10001
dir_tar "$work/loki" loki-dir /loki 10001:10001 0755
build loki "$loki_image"

fresh prometheus
cp build/prometheus "$work/prometheus/prometheus"
cp observability/prometheus/prometheus.yml "$work/prometheus/prometheus.yml"
cp "$(command -v busybox)" "$work/prometheus/busybox"
mkdir "$work/prometheus/bin"
for applet in sh wget cat ls ps; do ln -s busybox "$work/prometheus/bin/$applet"; done
passwd "$work/prometheus" root:0:0 nobody:65534:65534
dir_tar "$work/prometheus" prometheus-dir /prometheus 65534:65534 0755
build prometheus "$prometheus_image"

fresh autoagent
cp build/otel-go-instrumentation "$work/autoagent/otel-go-instrumentation"
cp /etc/ssl/certs/ca-certificates.crt "$work/autoagent/"
passwd "$work/autoagent" root:0:0 nonroot:65532:65532
dir_tar "$work/autoagent" tmp-dir /tmp 0:0 1777
build autoagent "$agent_image"

fresh tempo-standin
cp build/tempo-standin/otelcol-tempo-standin "$work/tempo-standin/"
cp e2e/stack/tempo-standin/config.yaml "$work/tempo-standin/config.yaml"
dir_tar "$work/tempo-standin" tempo-dir /var/tempo 10001:10001 0700
build tempo-standin "$standin_image"

# Beyla only where the user gives a binary: the project cannot build it. Its first log line says which
# build it is, and the compose run reports it.
beyla_bin=${BEYLA_BIN:-build/beyla}
if [[ -x $beyla_bin ]]; then
  beyla_image=grafana/beyla:${BEYLA_VERSION:?.env pins no BEYLA_VERSION}
  fresh beyla
  cp "$beyla_bin" "$work/beyla/beyla"
  cp /etc/ssl/certs/ca-certificates.crt "$work/beyla/"
  build beyla "$beyla_image"
else
  echo "no Beyla binary ($beyla_bin): the compose run leaves the beyla lane out"
fi

# The images of make k8s-up's own cluster, where e2e/cluster/build.sh has built its programs: every
# pod's sandbox (pause) and CoreDNS.
if [[ -x build/k8s/bin/pause && -x build/k8s/bin/coredns ]]; then
  expect_version build/k8s/bin/pause "${PAUSE_VERSION:?.env pins no PAUSE_VERSION}" "build/k8s/bin/pause (make k8s-build)"
  expect_version build/k8s/bin/coredns "${COREDNS_VERSION:?.env pins no COREDNS_VERSION}" "build/k8s/bin/coredns (make k8s-build)"
  fresh pause
  cp build/k8s/bin/pause "$work/pause/pause"
  build pause "registry.k8s.io/pause:$PAUSE_VERSION"

  fresh coredns
  cp /etc/ssl/certs/ca-certificates.crt "$work/coredns/"
  passwd "$work/coredns" root:0:0 nonroot:65532:65532
  tmp=$(mktemp -d)
  cp build/k8s/bin/coredns "$tmp/coredns"
  setcap cap_net_bind_service=+ep "$tmp/coredns"
  tar --xattrs --xattrs-include=security.capability --numeric-owner --owner=0 --group=0 --mtime=@0 \
    -C "$tmp" -cf "$work/coredns/coredns.tar" coredns
  rm -rf "$tmp"
  build coredns "registry.k8s.io/coredns/coredns:$COREDNS_VERSION"
else
  echo "no build/k8s/bin (make k8s-build): the cluster's pause and CoreDNS images are not built"
fi

# The golang base: Debian bookworm made by debootstrap from the archive this machine's apt uses, with
# the Go of this machine (it must be the version services/Dockerfile names) where the official image
# has it, and the official image's environment. Its CA certificates are this machine's, so that the
# build stage trusts what this machine trusts (a network here may interpose a CA of its own).
if docker image inspect "$golang_image" >/dev/null 2>&1; then
  echo "$golang_image is present"
else
  [[ $(go env GOVERSION) == "go$go_version" ]] || { echo ".env pins Go $go_version (GO_VERSION); this machine has $(go env GOVERSION)" >&2; exit 1; }
  mirror=$(awk '$1 == "URIs:" {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [[ -n $mirror ]] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list)
  rootfs=$work/golang-rootfs
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=ca-certificates,netbase bookworm "$rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log"; exit 1; }
  # The archive's apt lists and caches are not part of the official image either.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  cp -a "$(go env GOROOT)" "$rootfs/usr/local/go"
  mkdir -p "$rootfs/go/src" "$rootfs/go/bin" && chmod -R 1777 "$rootfs/go"
  tar -C "$rootfs" --numeric-owner -c . | docker import \
    -c "ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    -c "ENV GOLANG_VERSION=$go_version" -c "ENV GOTOOLCHAIN=local" -c "ENV GOPATH=/go" \
    -c "WORKDIR /go" -c 'CMD ["bash"]' - "$golang_image" >/dev/null
  rm -rf "$rootfs"
  echo "built $golang_image"
fi
