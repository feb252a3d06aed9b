#!/usr/bin/env bash
# Orchestration benchmark: `up -d` of 50 busybox services when nothing is to be done, and
# `up -d --wait` of a chain of 10 services each waiting for the one before to be healthy
# (`depends_on: service_healthy`, healthcheck `true`, interval 1s), from nothing. When dockerd
# answers and Docker Compose is installed, the same projects run under both in this one run
# and the ratios are printed. Needs root; runs under a temporary SCOMPOSE_ROOT.
#
#   sudo scripts/bench-orchestration.sh [RUNS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
runs="${1:-5}"
bin="${SCOMPOSE_BIN:-$root/.build/release/scompose}"
if [ ! -x "$bin" ] || [ ! -x "$(dirname "$bin")/scompose-shim" ]; then
  (cd "$root" && swift build -c release --static-swift-stdlib >/dev/null)
fi
work="$(mktemp -d)"
project="orch$$"
export SCOMPOSE_ROOT="$work/state"
have_docker=0
if command -v docker-compose >/dev/null 2>&1 && docker info >/dev/null 2>&1; then have_docker=1; fi
cleanup() {
  for p in noop chain; do
    [ -f "$work/$p/compose.yaml" ] || continue
    "$bin" -f "$work/$p/compose.yaml" down -t 0 >/dev/null 2>&1 || true
    if [ "$have_docker" = 1 ]; then docker-compose -f "$work/$p/compose.yaml" down -t 0 >/dev/null 2>&1 || true; fi
  done
  if [ "$have_docker" = 1 ]; then docker rmi "$project-busybox:latest" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh sleep true; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"$bin" image import "$work/rootfs.tar" "$project-busybox:latest" >/dev/null
if [ "$have_docker" = 1 ]; then docker import "$work/rootfs.tar" "$project-busybox:latest" >/dev/null; fi

mkdir -p "$work/noop" "$work/chain"
{
  echo "name: $project-noop"
  echo "services:"
  for i in $(seq 1 50); do
    printf '  s%d:\n    image: %s-busybox:latest\n    command: ["sleep", "3600"]\n' "$i" "$project"
  done
} > "$work/noop/compose.yaml"
{
  echo "name: $project-chain"
  echo "services:"
  for i in $(seq 1 10); do
    printf '  s%d:\n    image: %s-busybox:latest\n    command: ["sleep", "3600"]\n' "$i" "$project"
    printf '    healthcheck: {test: ["CMD", "true"], interval: 1s}\n'
    if [ "$i" -gt 1 ]; then printf '    depends_on: {s%d: {condition: service_healthy}}\n' $((i - 1)); fi
  done
} > "$work/chain/compose.yaml"

. "$here/bench-lib.sh"  # timed, ratio

declare -A ours theirs
f="$work/noop/compose.yaml"
"$bin" -f "$f" up -d >/dev/null 2>&1
ours[noop]=$(runs=$((runs * 3)) timed -- "$bin" -f "$f" up -d)
"$bin" -f "$f" down -t 0 >/dev/null 2>&1
if [ "$have_docker" = 1 ]; then
  docker-compose -f "$f" up -d >/dev/null 2>&1
  theirs[noop]=$(runs=$((runs * 3)) timed -- docker-compose -f "$f" up -d)
  docker-compose -f "$f" down -t 0 >/dev/null 2>&1
fi
f="$work/chain/compose.yaml"
ours[chain]=$(timed "$bin" -f "$f" down -t 0 -- "$bin" -f "$f" up -d --wait)
"$bin" -f "$f" down -t 0 >/dev/null 2>&1
if [ "$have_docker" = 1 ]; then
  theirs[chain]=$(timed docker-compose -f "$f" down -t 0 -- docker-compose -f "$f" up -d --wait)
fi

printf '%-58s %12s %14s %8s\n' "measure" "scompose" "docker compose" "ratio"
row() {
  local label="$1" key="$2"
  if [ "$have_docker" = 1 ]; then
    printf '%-58s %9s ms %11s ms %8s\n' "$label" "${ours[$key]}" "${theirs[$key]}" "$(ratio "${theirs[$key]}" "${ours[$key]}")"
  else
    printf '%-58s %9s ms %14s %8s\n' "$label" "${ours[$key]}" "-" "-"
  fi
}
row "up -d, 50 services, nothing to do (median)" noop
row "up -d --wait, 10-service service_healthy chain (median)" chain
