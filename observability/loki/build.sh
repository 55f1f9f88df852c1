#!/usr/bin/env bash
# Builds Loki natively, from the module source of the version .env pins (LOKI_VERSION, the compose image's tag), into
# build/loki. `go install` refuses the module because of its replace directives, so the source is
# copied from the module cache and built in place; its replace points ./pkg/push at a directory the
# module zip does not contain, so that module is put there first. Needs: jq.
set -euo pipefail
cd "$(dirname "$0")/../.."
source .env # the pinned versions (KEY=value lines, which bash reads as they are)
version=${LOKI_VERSION:?.env pins no LOKI_VERSION}
push_version=v0.0.0-20250630054201-94c0ba7b0952   # what Loki's go.mod requires for pkg/push
out=$PWD/build/loki
src=$PWD/build/loki-src

if [[ -x $out && -f $out.version && $(cat "$out.version") == "$version" ]]; then
  echo "loki $version is built: $out"
  exit 0
fi

export GOSUMDB=off GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0
dir=$(go mod download -json "github.com/grafana/loki/v3@v$version" | jq -r .Dir)
push=$(go mod download -json "github.com/grafana/loki/pkg/push@$push_version" | jq -r .Dir)
rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
rm -rf "$src/pkg/push" && cp -r "$push" "$src/pkg/push" && chmod -R u+w "$src/pkg/push"
cd "$src"
go mod download
go build -trimpath -o "$out" ./cmd/loki
echo "$version" > "$out.version"
echo "built $out ($version)"
