#!/usr/bin/env bash
# Times `scompose image pull` of a ~200 MB image (a copy of this machine's /usr in one gzip
# layer) from a local registry (Debian's docker-registry on 127.0.0.1) into an empty store,
# unpacking included, against `skopeo copy` of the same image to a directory followed by
# `tar -xzf` of its layer, and prints the ratio (the target is to be no slower). Needs root,
# docker-registry and skopeo (scripts/install-deps.sh installs both).
#
#   sudo scripts/bench-pull.sh [SIZE_MB]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
size_mb="${1:-200}"
bin="${SCOMPOSE_BIN:-$root/.build/release/scompose}"
if [ ! -x "$bin" ]; then
  (cd "$root" && swift build -c release --static-swift-stdlib >/dev/null)
fi
work="$(mktemp -d)"
registry_pid=""
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The image: directories of /usr up to about SIZE_MB, one layer.
. "$here/bench-lib.sh"
rootfs="$work/rootfs"
copied_mb=$(copy_usr_rootfs "$rootfs" "$size_mb")
tar -C "$rootfs" -czf "$work/layer.tar.gz" .
rm -rf "$rootfs"
export SCOMPOSE_ROOT="$work/state-make"
"$bin" image import "$work/layer.tar.gz" bench/pull:1 >/dev/null
"$bin" image save --format oci -o "$work/image.tar" bench/pull:1

# A registry of our own on a free port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
registry_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
skopeo copy -q --dest-tls-verify=false "oci-archive:$work/image.tar" "docker://127.0.0.1:$port/bench/pull:1"
printf 'image: %s MB compressed (%s MB of files)\n' "$(( $(stat -c %s "$work/layer.tar.gz") >> 20 ))" "$copied_mb"

best() {  # best of 3 wall-clock seconds of a shell command, `clean` run (untimed) before each
  python3 - "$@" <<'PY'
import subprocess, sys, time
clean, cmd = sys.argv[1], sys.argv[2]
times = []
for _ in range(3):
    subprocess.run(["bash", "-c", clean], check=True)
    subprocess.run(["sync"])
    t = time.perf_counter()
    subprocess.run(["bash", "-c", cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times.append(time.perf_counter() - t)
print("%.3f" % min(times))
PY
}

ours=$(best "rm -rf '$work/state'" "SCOMPOSE_ROOT='$work/state' '$bin' image pull -q 127.0.0.1:$port/bench/pull:1")
theirs=$(best "rm -rf '$work/dir' '$work/unpacked'; mkdir -p '$work/unpacked'" \
  "skopeo copy -q --src-tls-verify=false docker://127.0.0.1:$port/bench/pull:1 dir:'$work/dir' && for f in \$(python3 -c 'import json,sys; print(\" \".join(l[\"digest\"].split(\":\")[1] for l in json.load(open(sys.argv[1]))[\"layers\"]))' '$work/dir/manifest.json'); do tar -C '$work/unpacked' -xzf '$work/dir/'\$f; done")
printf '%-52s %8s s\n' "scompose image pull (pull + verify + unpack)" "$ours"
printf '%-52s %8s s\n' "skopeo copy to dir + tar -xzf" "$theirs"
python3 -c "print('ratio: %.2fx the time of skopeo + tar (target: at most 1.0x)' % ($ours / $theirs))"
