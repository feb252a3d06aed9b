#!/usr/bin/env bash
# Times `scompose image load` of a ~200 MB single-layer docker-archive (a Debian root file
# system from debootstrap when it is installed and the mirror answers, else a copy of this
# machine's /usr) against `tar -xzf` of the same layer, and prints the ratio.
#
#   scripts/bench-unpack.sh [SIZE_MB]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
size_mb="${1:-200}"
bin="${SCOMPOSE_BIN:-$root/.build/release/scompose}"
if [ ! -x "$bin" ]; then
  (cd "$root" && swift build -c release --product scompose --static-swift-stdlib >/dev/null)
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
mkdir -p "$rootfs"
if command -v debootstrap >/dev/null 2>&1 && debootstrap --variant=minbase bookworm "$rootfs" >/dev/null 2>&1; then
  echo "rootfs: debootstrap bookworm minbase"
else
  rm -rf "$rootfs"
  . "$here/bench-lib.sh"
  copied_mb=$(copy_usr_rootfs "$rootfs" "$size_mb")
  echo "rootfs: copy of /usr ($copied_mb MB)"
fi
tar -C "$rootfs" -czf "$work/layer.tar.gz" .
export SCOMPOSE_ROOT="$work/state-make"
"$bin" image import "$work/layer.tar.gz" bench/rootfs:1 >/dev/null
"$bin" image save -o "$work/image.tar" bench/rootfs:1
printf 'archive: %s MB, layer.tar.gz: %s MB\n' "$(( $(stat -c %s "$work/image.tar") >> 20 ))" "$(( $(stat -c %s "$work/layer.tar.gz") >> 20 ))"

best() {  # best of 3 wall-clock seconds of a command
  python3 - "$@" <<'EOF'
import subprocess, sys, time, shutil, os
argv = sys.argv[1:]
clean = argv.index("--")
cleanup, cmd = argv[:clean], argv[clean + 1:]
times = []
for _ in range(3):
    for p in cleanup:
        shutil.rmtree(p, ignore_errors=True)
    os.sync()
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    times.append(time.perf_counter() - t)
print("%.3f" % min(times))
EOF
}

ours=$(SCOMPOSE_ROOT="$work/state-load" best "$work/state-load" -- "$bin" image load -q -i "$work/image.tar")
mkdir -p "$work/tar-out"
theirs=$(best "$work/tar-out" -- bash -c "mkdir -p '$work/tar-out' && tar -C '$work/tar-out' -xzf '$work/layer.tar.gz'")
echo "scompose image load (docker-archive, unpacked): ${ours}s"
echo "tar -xzf of the same layer:                     ${theirs}s"
python3 -c "print('ratio: %.2fx the time of tar -xzf (target: at most 1.20x)' % ($ours/$theirs))"
