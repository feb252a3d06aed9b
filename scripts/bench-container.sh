#!/usr/bin/env bash
# Single-container benchmark (#20): `container run --rm IMAGE true` against a bare runc bundle
# run and `docker run --rm` on dockerd, and `container ls` with 50 containers. Prints the
# ratios measured in this one run; what cannot be measured here (no runc, no dockerd) is said,
# never guessed. Needs root. Everything runs under a temporary SCOMPOSE_ROOT.
#
#   sudo scripts/bench-container.sh [RUNS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
runs="${1:-15}"
bin="${SCOMPOSE_BIN:-$root/.build/release/scompose}"
if [ ! -x "$bin" ] || [ ! -x "$(dirname "$bin")/scompose-shim" ]; then
  (cd "$root" && swift build -c release --static-swift-stdlib >/dev/null)
fi
work="$(mktemp -d)"
image="benchct$$"
export SCOMPOSE_ROOT="$work/state"
have_docker=0
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then have_docker=1; fi
have_runc=0
if command -v runc >/dev/null 2>&1; then have_runc=1; fi
cleanup() {
  for id in $("$bin" container ls -a -q --no-trunc 2>/dev/null); do "$bin" container rm -f "$id" >/dev/null 2>&1 || true; done
  # The default network is never removed by a command (as Docker's): its bridge and table by hand.
  if [ -f "$SCOMPOSE_ROOT/networks/bridge/network.json" ]; then
    read -r bridge id < <(python3 -c 'import json,sys; n=json.load(open(sys.argv[1])); print(n["bridge"], n["id"][:12])' \
      "$SCOMPOSE_ROOT/networks/bridge/network.json")
    ip link del "$bridge" 2>/dev/null || true
    nft delete table ip "scompose-n-$id" 2>/dev/null || true
  fi
  if [ "$have_docker" = 1 ]; then docker rmi "$image:latest" >/dev/null 2>&1 || true; fi
  if [ "$have_runc" = 1 ]; then runc delete -f "bench$$" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A busybox image from Debian's busybox-static, for every engine.
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/proc" "$work/rootfs/dev" "$work/rootfs/sys"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh sleep true; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"$bin" image import "$work/rootfs.tar" "$image:latest" >/dev/null
# The default network is made by the first run, not timed.
"$bin" container run --rm "$image" true

. "$here/bench-lib.sh"  # timed, ratio

ours_run=$(timed -- "$bin" container run --rm "$image" true)
echo "container run --rm $image true: ${ours_run} ms (median of $runs)"

if [ "$have_runc" = 1 ]; then
  mkdir -p "$work/bundle"
  (cd "$work/bundle" && runc spec && python3 - <<'PY'
import json
s = json.load(open("config.json"))
s["process"]["terminal"] = False
s["process"]["args"] = ["true"]
s["root"]["path"] = "../rootfs"
json.dump(s, open("config.json", "w"))
PY
  )
  runc_run=$(timed -- runc run --bundle "$work/bundle" "bench$$")
  echo "runc run (bare bundle, no network): ${runc_run} ms; scompose / runc: $(ratio "$ours_run" "$runc_run") (goal: at most 2.0x)"
else
  echo "runc run: not measured (runc is not installed here)"
fi

if [ "$have_docker" = 1 ]; then
  docker import "$work/rootfs.tar" "$image:latest" >/dev/null
  docker run --rm "$image" true >/dev/null
  docker_run=$(timed -- docker run --rm "$image" true)
  echo "docker run --rm: ${docker_run} ms; docker / scompose: $(ratio "$docker_run" "$ours_run") (goal: at least 5.0x)"
else
  echo "docker run --rm: not measured (no dockerd answers here)"
fi

for i in $(seq 1 50); do "$bin" container run -d --name "c$i" "$image" sleep 3600 >/dev/null; done
ls_ms=$(timed -- "$bin" container ls)
running=$("$bin" container ls -q | wc -l)
echo "container ls of $running running containers: ${ls_ms} ms (goal: under 50 ms)"
