#!/bin/sh
# Builds Microblog's production image from Dockerfile_prod.
#
#   ./build.sh [docker build options...]
#
# Tags $IMAGE:$VERSION-prod and $IMAGE:prod (default microblog:1.0.0-prod
# and microblog:prod). Needs Go and Docker; pulls nothing from a registry.
set -eu

cd "$(dirname "$0")"
image=${IMAGE:-microblog}
version=${VERSION:-1.0.0}

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT INT TERM

# 1. A static binary for Linux on the engine's architecture, and the empty
#    directory that becomes /data. Only these two go into the context.
arch=$(docker version --format '{{.Server.Arch}}')
CGO_ENABLED=0 GOOS=linux GOARCH="$arch" \
  go build -trimpath -ldflags "-s -w" -o "$ctx/microblog" ./cmd/microblog
mkdir "$ctx/data"

# 2. The image, from that context.
docker build -f Dockerfile_prod -t "$image:$version-prod" -t "$image:prod" "$@" "$ctx"
