#!/usr/bin/env bash
# Network benchmark: TCP connection setup from the host to a published port (median of many
# connect+close), and name lookups through the embedded DNS inside a container (100 lookups of
# a service name with busybox nslookup, per lookup). When dockerd answers and Docker Compose is
# installed, the same project runs under both in this one run and the ratios are printed.
# Needs root.
#
#   sudo scripts/bench-network.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
bin="${SCOMPOSE_BIN:-$root/.build/release/scompose}"
if [ ! -x "$bin" ] || [ ! -x "$(dirname "$bin")/scompose-shim" ]; then
  (cd "$root" && swift build -c release --static-swift-stdlib >/dev/null)
fi
work="$(mktemp -d)"
project="benchnet$$"
export SCOMPOSE_ROOT="$work/state"
have_docker=0
if command -v docker-compose >/dev/null 2>&1 && docker info >/dev/null 2>&1; then have_docker=1; fi
cleanup() {
  "$bin" -f "$work/ours.yaml" down -t 0 >/dev/null 2>&1 || true
  if [ "$have_docker" = 1 ]; then
    docker-compose -f "$work/theirs.yaml" down -t 0 >/dev/null 2>&1 || true
    docker rmi "$project-busybox:latest" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/www"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh sleep httpd nslookup seq; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
echo ok > "$work/rootfs/www/index.html"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
"$bin" image import "$work/rootfs.tar" "$project-busybox:latest" >/dev/null
if [ "$have_docker" = 1 ]; then docker import "$work/rootfs.tar" "$project-busybox:latest" >/dev/null; fi

write_project() { # file port
  cat > "$1" <<EOF
name: $project-$2
services:
  web:
    image: $project-busybox:latest
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports: ["127.0.0.1:$2:80"]
  client:
    image: $project-busybox:latest
    command: ["sleep", "3600"]
EOF
}
write_project "$work/ours.yaml" 18791
write_project "$work/theirs.yaml" 18792

connect_us() { # port -> median microseconds of connect+close
  python3 - "$1" <<'EOF'
import socket, statistics, sys, time
port, samples = int(sys.argv[1]), []
for _ in range(50):  # warm up
    socket.create_connection(("127.0.0.1", port)).close()
for _ in range(500):
    t = time.perf_counter()
    socket.create_connection(("127.0.0.1", port)).close()
    samples.append((time.perf_counter() - t) * 1e6)
print("%.0f" % statistics.median(samples))
EOF
}

lookup_us() { # compose command... -> microseconds per lookup of "web" from client
  local start end
  "$@" exec -T client sh -c 'nslookup web >/dev/null' # warm up
  start=$(date +%s%N)
  "$@" exec -T client sh -c 'for i in $(seq 1 100); do nslookup web >/dev/null || exit 1; done'
  end=$(date +%s%N)
  echo $(( (end - start) / 100 / 1000 ))
}

"$bin" -f "$work/ours.yaml" up -d >/dev/null 2>&1
sleep 0.5
ours_connect=$(connect_us 18791)
ours_lookup=$(lookup_us "$bin" -f "$work/ours.yaml")
if [ "$have_docker" = 1 ]; then
  docker-compose -f "$work/theirs.yaml" up -d >/dev/null 2>&1
  sleep 1
  theirs_connect=$(connect_us 18792)
  theirs_lookup=$(lookup_us docker-compose -f "$work/theirs.yaml")
fi

. "$here/bench-lib.sh"  # ratio
printf '%-44s %10s %16s %8s\n' "measure" "scompose" "docker compose" "ratio"
if [ "$have_docker" = 1 ]; then
  printf '%-44s %7s µs %13s µs %8s\n' "connect to a published port (127.0.0.1)" "$ours_connect" "$theirs_connect" "$(ratio "$theirs_connect" "$ours_connect")"
  printf '%-44s %7s µs %13s µs %8s\n' "name lookup in a container (per nslookup)" "$ours_lookup" "$theirs_lookup" "$(ratio "$theirs_lookup" "$ours_lookup")"
else
  printf '%-44s %7s µs\n' "connect to a published port (127.0.0.1)" "$ours_connect"
  printf '%-44s %7s µs\n' "name lookup in a container (per nslookup)" "$ours_lookup"
  echo "(dockerd or docker-compose not available: scompose figures only)"
fi
