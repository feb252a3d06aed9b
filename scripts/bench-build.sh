#!/usr/bin/env bash
# Builds the same project with `scompose build` and, where dockerd runs, `docker build` (the
# classic builder, DOCKER_BUILDKIT=0), and prints the times side by side: a cold build, an
# unchanged rebuild and a rebuild after a one-file change of the app's code. The project has
# the usual shape: dependency manifest copied and "installed" first, then the app's code.
# Run as root.
#
#   scripts/bench-build.sh [RUNS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/bench-lib.sh"
runs="${1:-5}"
bin="${SCOMPOSE_BIN:-}"
if [ -z "$bin" ]; then
  (cd "$root" && swift build -c release --static-swift-stdlib --product scompose >/dev/null &&
    swift build -c release --static-swift-stdlib --product scompose-shim >/dev/null)
  bin="$(cd "$root" && swift build -c release --show-bin-path)/scompose"
fi
work="$(mktemp -d)"
export SCOMPOSE_ROOT="$work/state"
cleanup() {
  if [ -n "${have_docker:-}" ]; then docker rmi -f scbench-app:latest scbench-base:latest >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
SCOMPOSE_BIN="$bin" "$root/scripts/make-busybox-image.sh" scbench-base:latest >/dev/null

app="$work/app"
mkdir -p "$app/src"
cat > "$app/Dockerfile" <<'DOCKERFILE'
FROM scbench-base:latest
WORKDIR /app
COPY requirements.txt .
RUN mkdir -p /deps && for i in $(seq 1 40); do dd if=/dev/urandom of=/deps/lib$i.so bs=64k count=8 2>/dev/null; done
COPY . .
RUN find /app -type f | wc -l > /app/manifest.txt
CMD ["cat", "/app/manifest.txt"]
DOCKERFILE
printf 'flask==3.0\npsycopg==3.1\n' > "$app/requirements.txt"
for i in $(seq 1 300); do head -c 4096 /dev/urandom | base64 > "$app/src/module$i.py"; done
echo 'print("v0")' > "$app/src/main.py"
printf 'name: scbench\nservices:\n  app:\n    build: .\n    image: scbench-app:latest\n' > "$app/compose.yaml"

have_docker=""
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  have_docker=1
  "$bin" image save scbench-base:latest | docker load >/dev/null
fi

cd "$app"
sc_cold=$(timed -- bash -c "rm -rf '$SCOMPOSE_ROOT/buildcache' && '$bin' build -q")
sc_same=$(timed -- "$bin" build -q)
sc_change=$(timed "$root/scripts/bench-touch.sh" "$app/src/main.py" -- "$bin" build -q)
printf '%-34s %10s %10s %8s\n' "" scompose docker ratio
if [ -n "$have_docker" ]; then
  export DOCKER_BUILDKIT=0
  dk_cold=$(timed -- docker build -q --no-cache -t scbench-app:latest .)
  dk_same=$(timed -- docker build -q -t scbench-app:latest .)
  dk_change=$(timed "$root/scripts/bench-touch.sh" "$app/src/main.py" -- docker build -q -t scbench-app:latest .)
  printf '%-34s %8s ms %7s ms %8s\n' "cold build (no cache)" "$sc_cold" "$dk_cold" "$(ratio "$dk_cold" "$sc_cold")"
  printf '%-34s %8s ms %7s ms %8s\n' "unchanged rebuild" "$sc_same" "$dk_same" "$(ratio "$dk_same" "$sc_same")"
  printf '%-34s %8s ms %7s ms %8s\n' "rebuild after a one-file change" "$sc_change" "$dk_change" "$(ratio "$dk_change" "$sc_change")"
else
  printf '%-34s %8s ms\n' "cold build (no cache)" "$sc_cold" "unchanged rebuild" "$sc_same" "rebuild after a one-file change" "$sc_change"
  echo "(dockerd is not running: scompose's figures alone)"
fi
