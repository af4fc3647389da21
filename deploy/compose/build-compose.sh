#!/usr/bin/env bash
# Builds docker compose v2 (the docker CLI plugin) from the Go module proxy
# into $K8S_CACHE/compose-$COMPOSE_VERSION/docker-compose, once. Not with
# `go install ...@version`: compose's go.mod has exclude directives, which
# go install refuses, so the module's source is copied and built in place.
set -euo pipefail

: "${COMPOSE_VERSION:=v2.40.3}"
: "${K8S_CACHE:=/var/cache/ngwaf-helloworld}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}" CGO_ENABLED=0

dest=$K8S_CACHE/compose-$COMPOSE_VERSION
if [ -x "$dest/docker-compose" ]; then exit 0; fi
printf 'build-compose: building docker compose %s (cold: a few minutes)\n' "$COMPOSE_VERSION" >&2
src=$(go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -f "$src/go.mod" ] || { echo "build-compose: no source for compose $COMPOSE_VERSION" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/." "$work/src"
chmod -R u+w "$work/src"
(cd "$work/src" && GOFLAGS=-mod=mod nice -n 10 go build -trimpath \
	-ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
	-o "$work/docker-compose" ./cmd)
mkdir -p "$dest"
mv "$work/docker-compose" "$dest/docker-compose.tmp"
mv "$dest/docker-compose.tmp" "$dest/docker-compose"
