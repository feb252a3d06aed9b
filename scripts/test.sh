#!/usr/bin/env bash
# Installs the build dependencies and runs the whole test suite, including the
# conformance corpus replay (../shared/compose-corpus, or SCOMPOSE_CORPUS) and a
# short in-process fuzz run (SCOMPOSE_FUZZ_ITERATIONS, default 3000).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
cd "$root"
swift build --build-tests
# Serially: the container tests share cgroups, mounts and the machine's memory.
swift test --skip-build --no-parallel
