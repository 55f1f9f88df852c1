#!/usr/bin/env bash
# Makes the Docker CLI plugins the compose run needs available in build/docker/cli-plugins, for
# DOCKER_CONFIG=build/docker: compose (v2 or later: the compose file uses depends_on.restart) and buildx
# (compose builds with BuildKit through it; without it compose falls back to the classic builder, which
# cannot run services/Dockerfile's cache mounts). The machine's own plugins are used when it has them;
# otherwise the pinned versions are built from their module source through the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The newest releases whose every dependency the module proxy serves and whose go.mod fits our Go.
compose_version=v5.5.1
buildx_version=v0.37.2
plugins=$PWD/build/docker/cli-plugins
tools=$PWD/build/tools
mkdir -p "$plugins" "$tools"
export GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0

# The path and version of one of the machine's own plugins, if the Docker CLI knows it (an empty
# DOCKER_CONFIG, so that only the machine's plugin directories are searched, not build/docker).
system_plugin() {
  DOCKER_CONFIG=/nonexistent docker info --format '{{range .ClientInfo.Plugins}}{{.Name}} {{.Path}} {{.Version}}{{"\n"}}{{end}}' 2>/dev/null \
    | awk -v n="$1" '$1 == n {print $2, $3; exit}'
}

read -r path version <<< "$(system_plugin compose)" || true
if [[ -n ${path:-} && ${version:-} =~ ^v?([2-9]|[1-9][0-9])\. && ! ${version:-} =~ ^v?2\.([0-9]|1[0-9])\. ]]; then
  ln -sf "$path" "$plugins/docker-compose"
  echo "docker compose: the machine's $version"
else
  if [[ $("$tools/docker-compose" version --short 2>/dev/null) != "${compose_version#v}" ]]; then
    # Its go.mod has exclude directives, which "go install pkg@version" refuses: built in a copy.
    src=$PWD/build/compose-src
    dir=$(go mod download -json "github.com/docker/compose/v5@$compose_version" | jq -r .Dir)
    rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
    (cd "$src" && go build -trimpath -ldflags "-X github.com/docker/compose/v5/internal.Version=$compose_version" \
      -o "$tools/docker-compose" ./cmd)
    rm -rf "$src"
  fi
  ln -sf "$tools/docker-compose" "$plugins/docker-compose"
  echo "docker compose: $compose_version, built from its module source"
fi

read -r path version <<< "$(system_plugin buildx)" || true
if [[ -n ${path:-} ]]; then
  ln -sf "$path" "$plugins/docker-buildx"
  echo "docker buildx: the machine's $version"
else
  if [[ $("$tools/docker-buildx" version 2>/dev/null | awk '{print $2}') != "$buildx_version" ]]; then
    GOBIN=$tools go install -trimpath \
      -ldflags "-X github.com/docker/buildx/version.Version=$buildx_version -X github.com/docker/buildx/version.Package=github.com/docker/buildx" \
      "github.com/docker/buildx/cmd/buildx@$buildx_version"
    mv "$tools/buildx" "$tools/docker-buildx"
  fi
  ln -sf "$tools/docker-buildx" "$plugins/docker-buildx"
  echo "docker buildx: $buildx_version, built from its module source"
fi
DOCKER_CONFIG=$PWD/build/docker docker compose version
DOCKER_CONFIG=$PWD/build/docker docker buildx version
