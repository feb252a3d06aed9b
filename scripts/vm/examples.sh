#!/usr/bin/env bash
# The three examples on the VM of scripts/vm-test.sh, as a user there would run them:
# `up -d --wait`, the page answers on the VM's own 127.0.0.1, `down -v` leaves no container,
# scope or volume. The VM has no network, so the example images (built from debian:bookworm
# with apt) are built on the host first and loaded in the VM:
#
#   scripts/vm/examples.sh prepare DIR   (host: builds the images, saves them to DIR/examples.tar)
#   scripts/vm/examples.sh run DIR       (guest: loads them and runs each example)
#
# SCOMPOSE_BIN names the scompose to use (default: the debug build of this checkout).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${SCOMPOSE_BIN:-$repo/.build/debug/scompose}"
mode="${1:?usage: examples.sh prepare|run DIR}"
dir="${2:?usage: examples.sh prepare|run DIR}"
images=(app-postgres-db app-postgres-web web-redis-redis web-redis-web)

case "$mode" in
prepare)
  # A state root of its own, so nothing of the host's store is touched.
  state="$(mktemp -d)"
  trap 'rm -rf "$state"' EXIT
  export SCOMPOSE_ROOT="$state/root" SCOMPOSE_RUN="$state/run"
  SCOMPOSE_BIN="$bin" "$repo/scripts/make-debian-image.sh" >/dev/null
  for example in app-postgres web-redis; do
    "$bin" -f "$repo/examples/$example/compose.yaml" build -q >/dev/null
  done
  mkdir -p "$dir"
  "$bin" image save -o "$dir/examples.tar" "${images[@]}"
  echo "examples: images saved in $dir/examples.tar"
  ;;
run)
  export SCOMPOSE_ROOT=/tmp/examples-root SCOMPOSE_RUN=/tmp/examples-run
  start=$(date +%s)
  SCOMPOSE_BIN="$bin" "$repo/scripts/make-busybox-image.sh" busybox:latest >/dev/null
  "$bin" image load -i "$dir/examples.tar" >/dev/null
  echo "examples: busybox image made and the examples' images loaded in $(( $(date +%s) - start )) s"
  passed=0 failed=0
  # example, port, what the page must say
  for spec in "quickstart 18080 Hello from scompose" "app-postgres 18081 stored in PostgreSQL" \
    "web-redis 18082 Hello from web-redis: visit 1"; do
    read -r example port want <<<"$spec"
    cd "$repo/examples/$example"
    start=$(date +%s)
    ok=1
    if ! "$bin" up -d --wait --no-build >/tmp/up.log 2>&1; then
      echo "examples: $example: up -d --wait failed:"; tail -20 /tmp/up.log
      ok=0
    else
      page=""
      for _ in $(seq 1 50); do
        page="$(busybox wget -q -O - "http://127.0.0.1:$port/" 2>/dev/null || true)"
        [ -n "$page" ] && break
        sleep 0.2
      done
      if [[ "$page" == *"$want"* ]]; then
        echo "examples: $example answers on 127.0.0.1:$port, $(( $(date +%s) - start )) s after up: $want"
      else
        echo "examples: $example: 127.0.0.1:$port said: ${page:-(nothing)}"
        ok=0
      fi
      "$bin" ps
    fi
    start=$(date +%s)
    "$bin" down -v -t 2 >/dev/null 2>&1 || { echo "examples: $example: down -v failed"; ok=0; }
    # systemd forgets a scope a moment after its last process.
    left=1
    for _ in $(seq 1 50); do
      if [ -z "$("$bin" ps -a -q)" ] && [ -z "$("$bin" volume ls -q)" ] \
        && ! compgen -G '/sys/fs/cgroup/scompose.slice/scompose-*' >/dev/null; then
        left=0
        break
      fi
      sleep 0.1
    done
    [ "$left" = 0 ] || { echo "examples: $example: down -v left containers, volumes or scopes"; ok=0; }
    echo "examples: $example: down -v took $(( $(date +%s) - start )) s"
    if [ "$ok" = 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  done
  echo "examples: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  ;;
*)
  echo "usage: examples.sh prepare|run DIR" >&2
  exit 2
  ;;
esac
