#!/usr/bin/env bash
# Every benchmark in one run: each script runs the same projects under scompose and, where
# dockerd runs and Docker Compose is installed, under Docker Compose, and prints both with
# the ratios (scompose's figures alone otherwise). Needs root; builds the release binaries
# first. The README's performance tables are this script's output.
#
#   sudo scripts/bench.sh [RUNS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-5}"
(cd "$root" && swift build -c release --static-swift-stdlib --product scompose >/dev/null &&
  swift build -c release --static-swift-stdlib --product scompose-shim >/dev/null)
export SCOMPOSE_BIN="$root/.build/release/scompose"
echo "== config";             "$root/scripts/bench-config.sh" 200 "$((runs * 3))"; echo
echo "== runtime";            "$root/scripts/bench-runtime.sh" "$runs"; echo
echo "== orchestration";      "$root/scripts/bench-orchestration.sh" "$runs"; echo
echo "== build";              "$root/scripts/bench-build.sh" "$runs"; echo
echo "== app-postgres";       "$root/scripts/bench-app-postgres.sh" "$runs"
