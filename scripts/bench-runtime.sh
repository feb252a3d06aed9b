#!/usr/bin/env bash
# Runtime benchmark: `up -d` of 1, 10 and 50 busybox services (no containers before), `ps`
# with 50 running, `down`, `run --rm true`, `logs` of 200,000 lines, and the resident memory
# (PSS) of each per-container supervisor. When
# dockerd answers and Docker Compose is installed, the same project runs under both in this
# one run and the ratios are printed; when podman is installed, conmon's PSS is shown too.
# Needs root. Everything runs under a temporary SCOMPOSE_ROOT and a unique project name.
#
#   sudo scripts/bench-runtime.sh [RUNS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
runs="${1:-3}"
bin="${SCOMPOSE_BIN:-$root/.build/release/scompose}"
if [ ! -x "$bin" ] || [ ! -x "$(dirname "$bin")/scompose-shim" ]; then
  (cd "$root" && swift build -c release --static-swift-stdlib >/dev/null)
fi
work="$(mktemp -d)"
project="bench$$"
export SCOMPOSE_ROOT="$work/state"
have_docker=0
if command -v docker-compose >/dev/null 2>&1 && docker info >/dev/null 2>&1; then have_docker=1; fi
cleanup() {
  for n in 1 10 50 logs; do
    [ -f "$work/p$n/compose.yaml" ] || continue
    "$bin" -f "$work/p$n/compose.yaml" down -t 0 >/dev/null 2>&1 || true
    if [ "$have_docker" = 1 ]; then docker-compose -f "$work/p$n/compose.yaml" down -t 0 >/dev/null 2>&1 || true; fi
  done
  if [ "$have_docker" = 1 ]; then docker rmi "$project-busybox:latest" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A busybox image from Debian's busybox-static, for both engines.
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh sleep true seq; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"$bin" image import "$work/rootfs.tar" "$project-busybox:latest" >/dev/null
if [ "$have_docker" = 1 ]; then docker import "$work/rootfs.tar" "$project-busybox:latest" >/dev/null; fi

mkdir -p "$work/plogs"
printf 'name: %s-logs\nservices:\n  talker:\n    image: %s-busybox:latest\n    command: ["sh", "-c", "seq 1 200000; sleep 3600"]\n' \
  "$project" "$project" > "$work/plogs/compose.yaml"
for n in 1 10 50; do
  mkdir -p "$work/p$n"
  {
    echo "name: $project-$n"
    echo "services:"
    for i in $(seq 1 "$n"); do
      printf '  s%d:\n    image: %s-busybox:latest\n    command: ["sleep", "3600"]\n' "$i" "$project"
    done
  } > "$work/p$n/compose.yaml"
done

. "$here/bench-lib.sh"  # timed, ratio

# Average PSS in KiB of the processes whose executable is $1 (by /proc/<pid>/exe, read only).
pss_of() {
  python3 - "$1" <<'EOF'
import os, sys
name, values = sys.argv[1], []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if os.path.basename(os.readlink(f"/proc/{pid}/exe")) != name:
            continue
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                values.append(int(line.split()[1]))
    except OSError:
        pass
print("%d %d" % (sum(values) // max(1, len(values)), len(values)))
EOF
}


declare -A ours theirs
for n in 1 10 50; do
  f="$work/p$n/compose.yaml"
  ours[up$n]=$(timed "$bin" -f "$f" down -t 0 -- "$bin" -f "$f" up -d)
  if [ "$have_docker" = 1 ]; then
    theirs[up$n]=$(timed docker-compose -f "$f" down -t 0 -- docker-compose -f "$f" up -d)
  fi
done
f="$work/p1/compose.yaml"
ours[run]=$(timed -- "$bin" -f "$f" run --rm -T s1 true)
if [ "$have_docker" = 1 ]; then theirs[run]=$(timed -- docker-compose -f "$f" run --rm -T s1 true); fi
# logs of 200,000 lines, once all are written.
f="$work/plogs/compose.yaml"
"$bin" -f "$f" up -d >/dev/null 2>"$work/logs-up.err" || { cat "$work/logs-up.err" >&2; exit 1; }
until [ "$("$bin" -f "$f" logs --no-log-prefix 2>/dev/null | wc -l)" -ge 200000 ]; do sleep 0.5; done
ours[logs]=$(timed -- "$bin" -f "$f" logs --no-color)
"$bin" -f "$f" down -t 0 >/dev/null 2>&1
if [ "$have_docker" = 1 ]; then
  docker-compose -f "$f" up -d >/dev/null 2>&1
  until [ "$(docker-compose -f "$f" logs --no-log-prefix 2>/dev/null | wc -l)" -ge 200000 ]; do sleep 0.5; done
  theirs[logs]=$(timed -- docker-compose -f "$f" logs --no-color)
  docker-compose -f "$f" down -t 0 >/dev/null 2>&1
fi
f="$work/p50/compose.yaml"
ours[ps]=$(runs=$((runs * 5)) timed -- "$bin" -f "$f" ps)
ours[noop]=$(timed -- "$bin" -f "$f" up -d)
read -r shim_pss shim_count < <(pss_of scompose-shim)
if [ "$have_docker" = 1 ]; then
  theirs[ps]=$(runs=$((runs * 5)) timed -- docker-compose -f "$f" ps)
  theirs[noop]=$(timed -- docker-compose -f "$f" up -d)
  read -r containerd_pss containerd_count < <(pss_of containerd-shim-runc-v2)
fi
t0=$(date +%s%N)
"$bin" -f "$f" down -t 0 >/dev/null 2>&1
ours[down]=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$have_docker" = 1 ]; then
  t0=$(date +%s%N)
  docker-compose -f "$f" down -t 0 >/dev/null 2>&1
  theirs[down]=$(( ($(date +%s%N) - t0) / 1000000 ))
fi
conmon_pss=""
if command -v podman >/dev/null 2>&1; then
  if podman import "$work/rootfs.tar" "localhost/$project-busybox:latest" >/dev/null 2>&1 &&
    podman run -d --name "$project-conmon" "localhost/$project-busybox:latest" sleep 3600 >/dev/null 2>&1; then
    read -r conmon_pss _ < <(pss_of conmon)
  fi
  podman rm -f -t 0 "$project-conmon" >/dev/null 2>&1 || true
  podman rmi "localhost/$project-busybox:latest" >/dev/null 2>&1 || true
fi

printf '%-34s %12s %16s %8s\n' "measure" "scompose" "docker compose" "ratio"
for key in up1 up10 up50 noop ps down run logs; do
  case $key in
    up1) label="up -d, 1 service" ;;
    run) label="run --rm -T s1 true" ;;
    logs) label="logs, 200,000 lines" ;;
    up10) label="up -d, 10 services" ;;
    up50) label="up -d, 50 services" ;;
    noop) label="up -d, 50 services, no change" ;;
    ps) label="ps, 50 running" ;;
    down) label="down, 50 services" ;;
  esac
  if [ "$have_docker" = 1 ]; then
    printf '%-34s %9s ms %13s ms %8s\n' "$label" "${ours[$key]}" "${theirs[$key]}" "$(ratio "${theirs[$key]}" "${ours[$key]}")"
  else
    printf '%-34s %9s ms %16s %8s\n' "$label" "${ours[$key]}" "-" "-"
  fi
done
printf '%-34s %9s KiB' "supervisor PSS (per container)" "$shim_pss"
if [ "$have_docker" = 1 ] && [ "${containerd_count:-0}" -gt 0 ]; then
  printf ' %10s KiB %8s' "$containerd_pss" "$(ratio "$containerd_pss" "$shim_pss")"
fi
echo "   ($shim_count scompose-shim processes)"
if [ -n "$conmon_pss" ]; then printf '%-34s %9s KiB\n' "podman conmon PSS (one container)" "$conmon_pss"; fi
if [ "$have_docker" = 0 ]; then echo "(dockerd or docker-compose not available: scompose figures only)"; fi
