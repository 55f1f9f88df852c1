#!/usr/bin/env bash
# Builds Prometheus natively at the version .env pins for the compose image (prom/prometheus:vX.Y.Z is the Go
# module github.com/prometheus/prometheus v0.XYY.Z), into build/prometheus. Used by the compose run's
# stand-in image where the image cannot be pulled. The module has exclude and replace directives, so
# it is built in a copy of its source. Built without the web UI's assets (the API is complete) and
# without the service discoveries the project's prometheus.yml does not use: static and file targets,
# and DNS (the samplers of the two-tier form, one target per replica).
set -euo pipefail
cd "$(dirname "$0")/../.."
source .env # the pinned versions (KEY=value lines, which bash reads as they are)
tag=${PROMETHEUS_VERSION:?.env pins no PROMETHEUS_VERSION}
[[ $tag =~ ^v3\.([0-9]+)\.([0-9]+)$ ]] || { echo ".env pins PROMETHEUS_VERSION=$tag; want v3.N.N" >&2; exit 1; }
module_version=$(printf 'v0.3%02d.%s' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}")
out=$PWD/build/prometheus
src=$PWD/build/prometheus-src

tags=remove_all_sd,enable_dns_sd
if [[ -x $out && $(cat "$out.version" 2>/dev/null) == "$tag" && $(cat "$out.tags" 2>/dev/null) == "$tags" ]]; then
  echo "prometheus $tag is built: $out"
  exit 0
fi

export GOSUMDB=off GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0
dir=$(go mod download -json "github.com/prometheus/prometheus@$module_version" | jq -r .Dir)
rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
cd "$src"
go build -trimpath -tags "$tags" \
  -ldflags "-X github.com/prometheus/common/version.Version=${tag#v} -X github.com/prometheus/common/version.Branch=module" \
  -o "$out" ./cmd/prometheus
echo "$tag" > "$out.version"
echo "$tags" > "$out.tags"
echo "built $out ($tag from module version $module_version)"
