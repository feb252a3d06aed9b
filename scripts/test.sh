#!/usr/bin/env bash
# Installs the build dependencies and runs the whole test suite, including the
# conformance corpus replay (../shared/compose-corpus, or SCOMPOSE_CORPUS) and a
# short in-process fuzz run (SCOMPOSE_FUZZ_ITERATIONS, default 3000). Makes the debootstrap
# root file system the builder tests use (scripts/make-debian-image.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
cd "$root"
swift build --build-tests
# The builder tests start from a Debian image made with debootstrap (kept in a cache, so
# this costs a minute once per machine).
SCOMPOSE_BIN="$(swift build --show-bin-path)/scompose" SCOMPOSE_ROOT="$(mktemp -d)" \
  bash -c '"$0"/scripts/make-debian-image.sh >/dev/null && rm -rf "$SCOMPOSE_ROOT"' "$root"
# Serially: the container tests share cgroups, mounts and the machine's memory.
swift test --skip-build --no-parallel
