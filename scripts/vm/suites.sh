#!/usr/bin/env bash
# Runs inside the VM of scripts/vm-test.sh (Debian 12, systemd, cgroup v2, AppArmor): the
# test bundle's root container suites, then one summary line, "vm: N passed, N failed,
# N skipped", with every failure and skip named. Exit status 0 only if none failed.
#
#   scripts/vm/suites.sh [FILTER]     (a --filter regex; default: every root container suite)
#   scripts/vm/suites.sh --half 1|2   (one of two halves of them, for two VMs at once)
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bundle="${SCOMPOSE_TEST_BUNDLE:-$repo/.build/debug/scomposePackageTests.xctest}"
# The root container suites, each with the half it is in: about the same time under TCG
# (scripts/vm/ci.sh --all runs the halves in two VMs at once).
all=(
  "1 SComposeCLITests.BuildTests" "1 SComposeCLITests.ComposeRunTests" "1 SComposeCLITests.ContainerCommandTests"
  "1 SComposeCLITests.ExampleStackTests" "1 SComposeCLITests.ImageCommandTests" "1 SComposeCLITests.RegistryTests"
  "1 SComposeCLITests.NetworkTests" "1 SComposeCLITests.StorageTests" "1 SComposeCLITests.HostKindTests"
  "1 SComposeRuntimeTests.CgroupRunTests" "1 SComposeNetworkTests.NetlinkKernelTests"
  "2 SComposeCLITests.RuntimeBehaviourTests" "2 SComposeCLITests.OrchestrationTests"
  "2 SComposeCLITests.ReliabilityTests" "2 SComposeCLITests.RootlessTests" "2 SComposeRuntimeTests.ContainerRunTests"
)
# A --filter regex for the suites of `half` (all: every one).
suite_filter() {
  local half="$1" entry names=()
  for entry in "${all[@]}"; do
    [ "$half" = all ] || [ "${entry%% *}" = "$half" ] || continue
    names+=("${entry#* }")
  done
  local IFS='|'
  echo "^(${names[*]//./\\.})"
}
case "${1:-}" in
  --half) filter="$(suite_filter "${2:?--half 1 or 2}")" ;;
  "") filter="$(suite_filter all)" ;;
  *) filter="$1" ;;
esac
log="${RESULTS:-/tmp}/suites.log"

[ -x "$bundle" ] || { echo "vm: no test bundle at $bundle (build with swift build --build-tests)" >&2; exit 2; }
# The tests' temporary state goes to the guest's own disk, never the 9p shares.
export TMPDIR=/tmp
# Under TCG (systemd-detect-virt says qemu; kvm under KVM) every command costs about ten times
# as much: the tests' waits for a command's effect are scaled (ImageCommandTests.timeScale).
if [ -z "${SCOMPOSE_TEST_TIME_SCALE:-}" ] && [ "$(systemd-detect-virt 2>/dev/null)" = qemu ]; then
  export SCOMPOSE_TEST_TIME_SCALE=5
fi
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
