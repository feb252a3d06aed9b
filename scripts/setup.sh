#!/usr/bin/env bash
# Installs what scompose needs on Debian, builds it (release), installs it as
# /usr/local/bin/scompose, makes the base images (busybox from busybox-static, debian:bookworm
# with debootstrap), and brings up the quickstart.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
cd "$root"
swift build -c release --static-swift-stdlib --product scompose
swift build -c release --static-swift-stdlib --product scompose-shim
bin="$(swift build -c release --show-bin-path)"
install -m 0755 "$bin/scompose" "$bin/scompose-shim" /usr/local/bin/
SCOMPOSE_BIN=/usr/local/bin/scompose "$root/scripts/make-busybox-image.sh" busybox:latest
SCOMPOSE_BIN=/usr/local/bin/scompose "$root/scripts/make-debian-image.sh" debian:bookworm
cd "$root/examples/quickstart"
scompose up -d --wait
for _ in $(seq 1 50); do
  if page="$(busybox wget -q -O - http://127.0.0.1:${WEB_PORT:-18080}/ 2>/dev/null)"; then break; fi
  sleep 0.2
done
scompose ps
echo "--- http://127.0.0.1:${WEB_PORT:-18080}/ answers:"
echo "${page:-(no answer)}"
echo "--- stop it with: (cd examples/quickstart && scompose down -v)"
