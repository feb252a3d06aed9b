#!/usr/bin/env bash
# CI's run on the other kind of host (called by .ci/run): in Debian 12 VMs with systemd,
# cgroup v2 and AppArmor, the suites that differ between host kinds (cgroups, devices, limits,
# systemd scopes, AppArmor, exec, pause, OOM) and the three examples. With --all, every root
# container suite (scripts/vm/suites.sh's list, rootless mode's cgroup v2 delegation included)
# and the examples, on the release build of scompose and its shim (built here, as
# scripts/setup.sh builds them, unless SCOMPOSE_BIN names one): under TCG emulation the debug
# build costs about three times as much per command. Even so its suites take about an hour of
# one VM (59 minutes measured in one VM with two vCPUs), so about half an hour in two: more
# than CI's 30 minutes allow beside the host suites, so CI runs the subset on the debug build.
#
# Two VMs run at once, one vCPU each, the work split between them (the examples in the
# first): TCG emulates each vCPU on a host thread, and the suites run one test at a time, so
# one VM leaves a core of this 2-core machine idle. Each VM is its own kernel, so the two
# halves cannot meet in cgroups, mounts, links or routes.
#
#   scripts/vm/ci.sh [--all]     (on the host, after `swift build --build-tests`)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mode="${1:-ci}"
case "$mode" in
  ci)
    # The first VM runs the examples alone (loading their images takes minutes there), the
    # second the suites: of RuntimeBehaviourTests, what depends on the host's kind (the rest
    # runs on this host).
    halves=(
      ""
      "'^SComposeCLITests\\.(HostKindTests|RuntimeBehaviourTests/(isolationMatchesDockerDefaults|execJoinsTheContainersCgroups|createPauseTopWaitAndTty|healthchecksDependencyConditionsAndWait))|^SComposeRuntimeTests\\.(CgroupRunTests|ContainerRunTests)'"
    )
    timeout=40m
    bin="${SCOMPOSE_BIN:-$repo/.build/debug/scompose}"
    ;;
  --all)
    halves=("--half 1" "--half 2")
    timeout=60m
    bin="${SCOMPOSE_BIN:-}"
    if [ -z "$bin" ]; then
      start=$(date +%s)
      (cd "$repo" && swift build -c release --static-swift-stdlib --product scompose-shim >/dev/null &&
        swift build -c release --static-swift-stdlib --product scompose >/dev/null)
      bin="$(cd "$repo" && swift build -c release --show-bin-path)/scompose"
      echo "vm-ci: release build of scompose and scompose-shim: $(( $(date +%s) - start )) s"
    fi
    ;;
  *) echo "usage: scripts/vm/ci.sh [--all]" >&2; exit 2 ;;
esac
[ -x "$bin" ] && [ -x "$(dirname "$bin")/scompose-shim" ] || { echo "vm-ci: no scompose and scompose-shim at $(dirname "$bin")" >&2; exit 2; }
export SCOMPOSE_BIN="$bin"

work="$(mktemp -d /var/tmp/scompose-vm-ci.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
start=$(date +%s)
# The VM has no network: the examples' images are built here and loaded there.
"$repo/scripts/vm/examples.sh" prepare "$work"
# The image is built (or found) and the accelerator probed once, before both VMs start.
"$repo/scripts/vm-test.sh" --image-only

for i in 0 1; do
  suites="" examples=""
  [ -z "${halves[$i]}" ] || suites="\"$repo/scripts/vm/suites.sh\" ${halves[$i]} | tee \"\$RESULTS/suites.out\""
  [ "$i" != 0 ] || examples="\"$repo/scripts/vm/examples.sh\" run \"$work\" | tee \"\$RESULTS/examples.out\""
  cat >"$work/guest$i.sh" <<EOF
#!/usr/bin/env bash
# In VM $((i + 1)) of 2: its suites and examples, if any; one summary line.
export SCOMPOSE_BIN="$bin"
$suites
$examples
read -r p f s < <(sed -n 's/^vm: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "\$RESULTS/suites.out" 2>/dev/null || echo 0 0 0)
read -r ep ef < <(sed -n 's/^examples: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "\$RESULTS/examples.out" 2>/dev/null || echo 0 0)
p=\$(( \${p:-0} + \${ep:-0} )); f=\$(( \${f:-1} + \${ef:-1} ))
echo "vm: \$p passed, \$f failed, \${s:-0} skipped"
[ "\$f" -eq 0 ]
EOF
  chmod +x "$work/guest$i.sh"
  results="$(mktemp -d /var/tmp/scompose-vm.XXXXXX)"
  echo "vm-ci: VM $((i + 1)) of 2: ${halves[$i]:-no suites}$( [ "$i" != 0 ] || echo ", the examples") (results: $results)"
  "$repo/scripts/vm-test.sh" --cpus 1 --no-stream --results "$results" --share "$work:ro" --timeout "$timeout" \
    -- "$work/guest$i.sh" >"$work/vm$i.log" 2>&1 &
  pids+=($!)
done
status=0
for i in 0 1; do
  wait "${pids[$i]}" || status=1
done
pids=()
passed=0 failed=0 skipped=0
for i in 0 1; do
  echo "=== VM $((i + 1)) of 2"
  cat "$work/vm$i.log"
  read -r p f s < <(sed -n 's/^vm: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "$work/vm$i.log" | tail -1) || true
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1})); skipped=$((skipped + ${s:-0}))
done
echo "vm-ci: both VMs: $(( $(date +%s) - start )) s, examples' images included"
echo "vm: $passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
