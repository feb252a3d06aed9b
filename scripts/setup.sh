#!/usr/bin/env bash
# Installs what scompose needs on Debian, builds it (release), installs it as
# /usr/local/bin/scompose, and shows the quickstart's model.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
cd "$root"
swift build -c release --static-swift-stdlib --product scompose
swift build -c release --static-swift-stdlib --product scompose-shim
bin="$(swift build -c release --show-bin-path)"
install -m 0755 "$bin/scompose" "$bin/scompose-shim" /usr/local/bin/
cd "$root/examples/quickstart"
scompose config
scompose config --services
