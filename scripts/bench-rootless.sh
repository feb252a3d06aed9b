#!/usr/bin/env bash
# Rootless benchmark (#19): `up -d` of 10 busybox services from nothing, run by root (root
# mode), by an ordinary user (rootless: user namespace, the user's network namespace and
# pasta), and by the same user with podman-compose (rootless podman) when podman is installed.
# Prints the medians and the ratios measured in this one run; what cannot be measured here is
# said, never guessed. Needs root: it makes a user of its own (with subordinate IDs) and
# removes them, their files and their processes at the end.
#
#   sudo scripts/bench-rootless.sh [RUNS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
runs="${1:-5}"
[ "$(id -u)" = 0 ] || { echo "bench-rootless: run as root (it makes a user of its own)" >&2; exit 1; }
for tool in /usr/bin/newuidmap /usr/bin/pasta /bin/busybox; do
  [ -x "$tool" ] || { echo "bench-rootless: $tool missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
bin="${SCOMPOSE_BIN:-$root/.build/release/scompose}"
if [ ! -x "$bin" ] || [ ! -x "$(dirname "$bin")/scompose-shim" ]; then
  (cd "$root" && swift build -c release --static-swift-stdlib >/dev/null)
fi
have_podman=0
if command -v podman >/dev/null 2>&1 && command -v podman-compose >/dev/null 2>&1; then have_podman=1; fi

work="$(mktemp -d)"
chmod 755 "$work"
user="scbr$(( $$ % 100000 ))"
home="/home/$user"
# A subordinate range of its own, out of the way of Debian's defaults (100000) and the tests'.
sub=$(( 200000000 + ($$ % 1000) * 65536 ))
uid=""
# Every command as root or as the user through runuser, with the same clean environment, so
# that both pay the same. (Wrapper scripts: bench-lib.sh's timed splits its arguments on the
# first "--", which runuser needs.)
as_root=("$work/as-root")
as_user=("$work/as-user")
cleanup() {
  set +e
  if [ -f "$work/p/compose.yaml" ]; then
    SCOMPOSE_ROOT="$work/state" SCOMPOSE_RUN="$work/run" "$bin" -f "$work/p/compose.yaml" down -t 0 >/dev/null 2>&1
  fi
  if [ -n "$uid" ]; then
    (cd "$home/p" 2>/dev/null && "${as_user[@]}" "$work/bin/scompose" down -t 0 >/dev/null 2>&1)
    if [ "$have_podman" = 1 ]; then (cd "$home/podman/p" 2>/dev/null && "${as_user[@]}" podman-compose down -t 0 >/dev/null 2>&1); fi
    # What is left of the user's (podman's pause process, a failed run's holder): theirs only.
    for _ in 1 2 3; do
      pids=$(ps -o pid= -u "$uid" 2>/dev/null | tr -d ' ')
      [ -n "$pids" ] || break
      kill -KILL $pids 2>/dev/null
      sleep 0.3
    done
    userdel -r "$user" >/dev/null 2>&1
    rm -rf "/tmp/scompose-$uid" "/tmp/podman-run-$uid" "/tmp/containers-user-$uid" "/tmp/run-$uid"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

useradd -m -U -s /bin/sh "$user"
cat >"$work/as-root" <<EOF
#!/bin/sh
exec runuser -u root -- /usr/bin/env -i HOME="$work" PATH=/usr/bin:/bin:/usr/sbin:/sbin \\
  SCOMPOSE_ROOT="$work/state" SCOMPOSE_RUN="$work/run" "\$@"
EOF
cat >"$work/as-user" <<EOF
#!/bin/sh
exec runuser -u "$user" -- /usr/bin/env -i HOME="$home" PATH=/usr/bin:/bin:/usr/sbin:/sbin "\$@"
EOF
chmod 755 "$work/as-root" "$work/as-user"
usermod --add-subuids "$sub-$((sub + 65535))" --add-subgids "$sub-$((sub + 65535))" "$user"
uid="$(id -u "$user")"

# The binaries where the user can run them, and a busybox image for every engine.
mkdir -p "$work/bin" "$work/rootfs/bin" "$work/rootfs/etc"
cp "$bin" "$(dirname "$bin")/scompose-shim" "$work/bin/"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh sleep true; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
chmod -R a+rX "$work/bin" "$work/rootfs.tar"

# The same file for all three; podman-compose names the project after the folder, so each
# runs from a folder called p.
compose() {
  echo "services:"
  for i in $(seq 1 10); do
    printf '  s%d:\n    image: %s\n    command: ["sleep", "3600"]\n' "$i" "$1"
  done
}
mkdir -p "$work/p" "$home/p" "$home/podman/p"
compose benchrl:latest > "$work/p/compose.yaml"
compose benchrl:latest > "$home/p/compose.yaml"
compose localhost/benchrl:latest > "$home/podman/p/compose.yaml"
chown -R "$user:$user" "$home/p" "$home/podman"

"${as_root[@]}" "$work/bin/scompose" image import "$work/rootfs.tar" benchrl:latest >/dev/null
(cd "$home" && "${as_user[@]}" "$work/bin/scompose" image import "$work/rootfs.tar" benchrl:latest >/dev/null)
if [ "$have_podman" = 1 ]; then
  (cd "$home" && "${as_user[@]}" podman import -q "$work/rootfs.tar" localhost/benchrl:latest >/dev/null 2>&1)
fi

. "$here/bench-lib.sh"  # timed, ratio

# Each `up -d` starts from nothing: `down -t 0` first, untimed. A first round, untimed, makes
# what every later one finds (the user's holder starts and ends with their containers anyway).
rootmode=("${as_root[@]}" "$work/bin/scompose" -f "$work/p/compose.yaml")
rootless=("${as_user[@]}" "$work/bin/scompose" -f "$home/p/compose.yaml")
"${rootmode[@]}" up -d >/dev/null 2>&1
ms_root=$(timed "${rootmode[@]}" down -t 0 -- "${rootmode[@]}" up -d)
"${rootmode[@]}" down -t 0 >/dev/null 2>&1

cd "$home/p"
"${rootless[@]}" up -d >/dev/null 2>&1
ms_rootless=$(timed "${rootless[@]}" down -t 0 -- "${rootless[@]}" up -d)
running=$("${rootless[@]}" ps -q | wc -l)
"${rootless[@]}" down -t 0 >/dev/null 2>&1
[ "$running" = 10 ] || { echo "bench-rootless: rootless up -d left $running of 10 services running" >&2; exit 1; }

if [ "$have_podman" = 1 ]; then
  cd "$home/podman/p"
  podman=("${as_user[@]}" podman-compose)
  "${podman[@]}" up -d >/dev/null 2>&1
  ms_podman=$(timed "${podman[@]}" down -t 0 -- "${podman[@]}" up -d)
  "${podman[@]}" down -t 0 >/dev/null 2>&1
fi
cd /

cgroups=v1; [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] && cgroups=v2
echo "up -d of 10 busybox services from nothing, median of $runs (Linux $(uname -r), cgroup $cgroups)"
printf '%-44s %8s ms\n' "scompose, root mode" "$ms_root" "scompose, rootless ($user)" "$ms_rootless"
if [ "$have_podman" = 1 ]; then
  version="$(podman-compose version 2>/dev/null | sed -n 's/^podman-compose[a-z]* version *//p' | head -1)"
  printf '%-44s %8s ms\n' "podman-compose $version, rootless ($user)" "$ms_podman"
fi
echo "rootless / root mode: $(ratio "$ms_rootless" "$ms_root") (goal: within 2x)"
if [ "$have_podman" = 1 ]; then
  echo "podman-compose / scompose, both rootless: $(ratio "$ms_podman" "$ms_rootless") (goal: scompose within 2x of it)"
else
  echo "podman-compose / scompose, both rootless: not measured (podman or podman-compose not installed)"
fi
