#!/usr/bin/env bash
# Builds the OpenTelemetry Go auto agent natively, from the module source of the version .env pins
# (OTEL_GO_AUTO_VERSION, also the sidecars' image tag),
# into build/otel-go-instrumentation. The module zip ships the bpf2go Go bindings but not the eBPF
# objects they embed, so the objects are generated here with Debian's clang (which produces objects
# identical to upstream's), then the agent is compiled. Needs: clang, llvm, libbpf-dev, jq.
set -euo pipefail
cd "$(dirname "$0")/.."
source .env # the pinned versions (KEY=value lines, which bash reads as they are)
version=${OTEL_GO_AUTO_VERSION:?.env pins no OTEL_GO_AUTO_VERSION}
out=$PWD/build/otel-go-instrumentation
src=$PWD/build/auto-src

if [[ -x $out && -f $out.version && $(cat "$out.version") == "$version" ]]; then
  echo "otel-go-instrumentation $version is built: $out"
  exit 0
fi

# The checksum database cannot be reached for this module through the module proxy here; the module
# is still verified against the go.sum it ships. GOWORK=off: this is not part of the project's workspace.
export GOSUMDB=off GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0

dir=$(go mod download -json "go.opentelemetry.io/auto@$version" | jq -r .Dir)
rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
cd "$src"
# The zip lacks ./sdk, which go.mod replaces with the local directory: use the published module instead.
go mod edit -dropreplace=go.opentelemetry.io/auto/sdk
go mod tidy
export BPF2GO_CFLAGS="-I$src/internal/include/libbpf -I$src/internal/include" BPF2GO_MAKEBASE=$src
go generate ./internal/pkg/instrumentation/...
go build -trimpath -o "$out" ./cli/
echo "$version" > "$out.version"
echo "built $out ($version)"
