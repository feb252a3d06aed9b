#!/usr/bin/env bash
# examples/app-postgres to healthy (`up -d --wait`), under scompose and, where dockerd runs and
# Docker Compose is installed, under Docker Compose with the very same images (saved from
# scompose's store and loaded into Docker): cold (images present, no container, no volume)
# and warm (the database's volume already initialised). Prints the medians and the ratios.
# Needs root and the debootstrap cache of scripts/make-debian-image.sh (made if missing).
#
#   sudo scripts/bench-app-postgres.sh [RUNS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/bench-lib.sh"
runs="${1:-5}"
bin="${SCOMPOSE_BIN:-$root/.build/release/scompose}"
if [ ! -x "$bin" ] || [ ! -x "$(dirname "$bin")/scompose-shim" ]; then
  (cd "$root" && swift build -c release --static-swift-stdlib --product scompose >/dev/null &&
    swift build -c release --static-swift-stdlib --product scompose-shim >/dev/null)
fi
work="$(mktemp -d)"
export SCOMPOSE_ROOT="$work/state"
project="apbench$$"
example="$root/examples/app-postgres"
have_docker=0
if command -v docker-compose >/dev/null 2>&1 && docker info >/dev/null 2>&1; then have_docker=1; fi
# Docker runs the images scompose built, under the same names, without building. Engines
# before 25 refuse `healthcheck.start_interval`: there it is left out (their first probe then
# comes after `interval`; scompose probes early in any case).
engine="$(docker version --format '{{.Server.Version}}' 2>/dev/null || echo 0)"
reset_start=""
if [ "${engine%%.*}" -lt 25 ] 2>/dev/null; then reset_start="    healthcheck: {start_interval: !reset null}"; fi
cat > "$work/docker.yaml" <<YAML
services:
  db:
    build: !reset null
    image: $project-db:latest
    pull_policy: never
$reset_start
  web:
    build: !reset null
    image: $project-web:latest
    pull_policy: never
$reset_start
YAML
ours=(-f "$example/compose.yaml" -p "$project")
theirs=(-f "$example/compose.yaml" -f "$work/docker.yaml" -p "$project")
cleanup() {
  "$bin" "${ours[@]}" down -v -t 1 >/dev/null 2>&1 || true
  if [ "$have_docker" = 1 ]; then
    docker-compose "${theirs[@]}" down -v -t 1 >/dev/null 2>&1 || true
    docker rmi "$project-db:latest" "$project-web:latest" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

SCOMPOSE_BIN="$bin" "$root/scripts/make-debian-image.sh" debian:bookworm >/dev/null
echo "building the example's images (apt-get from the Debian mirror)…" >&2
"$bin" "${ours[@]}" build -q
if [ "$have_docker" = 1 ]; then
  "$bin" image save "$project-db:latest" "$project-web:latest" | docker load >/dev/null
fi
export WEB_PORT=18281

printf '%-44s %12s %14s %8s\n' "app-postgres to healthy (up -d --wait)" "scompose" "docker compose" "ratio"
sc_cold=$(timed "$bin" "${ours[@]}" down -v -t 1 -- "$bin" "${ours[@]}" up -d --wait)
sc_warm=$(timed "$bin" "${ours[@]}" down -t 1 -- "$bin" "${ours[@]}" up -d --wait)
"$bin" "${ours[@]}" down -v -t 1 >/dev/null 2>&1
if [ "$have_docker" = 1 ]; then
  dk_cold=$(timed docker-compose "${theirs[@]}" down -v -t 1 -- docker-compose "${theirs[@]}" up -d --wait)
  dk_warm=$(timed docker-compose "${theirs[@]}" down -t 1 -- docker-compose "${theirs[@]}" up -d --wait)
  printf '%-44s %9s ms %11s ms %8s\n' "cold (no container, no volume)" "$sc_cold" "$dk_cold" "$(ratio "$dk_cold" "$sc_cold")"
  printf '%-44s %9s ms %11s ms %8s\n' "warm (volume initialised)" "$sc_warm" "$dk_warm" "$(ratio "$dk_warm" "$sc_warm")"
  [ -z "$reset_start" ] || echo "(Docker Engine $engine: without start_interval, which it does not know)"
else
  printf '%-44s %9s ms %14s %8s\n' "cold (no container, no volume)" "$sc_cold" "-" "-"
  printf '%-44s %9s ms %14s %8s\n' "warm (volume initialised)" "$sc_warm" "-" "-"
fi
