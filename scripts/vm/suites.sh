#!/usr/bin/env bash
# Runs inside the VM of scripts/vm-test.sh (Debian 12, systemd, cgroup v2, AppArmor): the
# test bundle's root container suites, then one summary line, "vm: N passed, N failed,
# N skipped", with every failure and skip named. Exit status 0 only if none failed.
#
#   scripts/vm/suites.sh [FILTER]     (a --filter regex; default: every root container suite)
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bundle="${SCOMPOSE_TEST_BUNDLE:-$repo/.build/debug/scomposePackageTests.xctest}"
filter="${1:-^SComposeCLITests\.(ComposeRunTests|HostKindTests|RuntimeBehaviourTests|StorageTests|NetworkTests|OrchestrationTests|ReliabilityTests|ExampleStackTests|BuildTests|ImageCommandTests|RegistryTests|ContainerCommandTests|RootlessTests)|^SComposeRuntimeTests\.(CgroupRunTests|ContainerRunTests)|^SComposeNetworkTests\.NetlinkKernelTests}"
log="${RESULTS:-/tmp}/suites.log"

[ -x "$bundle" ] || { echo "vm: no test bundle at $bundle (build with swift build --build-tests)" >&2; exit 2; }
# The tests' temporary state goes to the guest's own disk, never the 9p shares.
export TMPDIR=/tmp
cd /tmp || exit 2
start=$(date +%s)
NO_COLOR=1 "$bundle" --no-parallel --filter "$filter" --testing-library swift-testing 2>&1 |
  sed -u 's/\x1b\[[0-9;]*m//g' >"$log"
status=${PIPESTATUS[0]}
# Every finished test, as Swift Testing prints it: ✔ passed, ✘ failed, ➜ skipped (with why).
# (Not the closing "Test run with N tests … passed/failed after" line.)
passed=$(grep -E '^✔ Test .* passed after [0-9.]+ seconds' "$log" | grep -vc '^✔ Test run with ')
failed=$(grep -E '^✘ Test .* failed after [0-9.]+ seconds' "$log" | grep -vc '^✘ Test run with ')
skipped=$(grep -c '^➜ Test .* skipped' "$log")
grep -E '^✘ Test .* (failed|recorded an issue)|^↳ ' "$log" | head -200
grep -E '^➜ Test .* skipped' "$log"
echo "vm: suites took $(( $(date +%s) - start )) s (log: $log)"
echo "vm: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "vm: the test bundle exited with $status" >&2
  tail -20 "$log" >&2
  exit "$status"
fi
[ "$failed" -eq 0 ]
