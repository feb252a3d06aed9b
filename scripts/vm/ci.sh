#!/usr/bin/env bash
# CI's run on the other kind of host (called by .ci/run): in Debian 12 VMs with systemd,
# cgroup v2 and AppArmor, the suites that differ between host kinds (cgroups, devices, limits,
# systemd scopes, AppArmor, exec, pause, OOM, rootless mode's delegated scope) and the three
# examples, on the debug build the host suites used (about 10 minutes). With --all, every
# root container suite (scripts/vm/suites.sh's list) and the examples, on the release build of
# scompose and its shim (built here, as scripts/setup.sh builds them, unless SCOMPOSE_BIN names
# one), faster than the debug build under TCG: about 16 minutes with the VM image built from
# nothing, 19.5 with the release build made from nothing too (the image is built beside it).
# That is more than CI's 30 minutes can hold beside the host suites, so CI runs the subset.
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
case "$mode" in ci|--all) ;; *) echo "usage: scripts/vm/ci.sh [--all]" >&2; exit 2 ;; esac
work="$(mktemp -d /var/tmp/scompose-vm-ci.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
begin=$(date +%s)
# The VM image is built (or found) and the accelerator probed once, before the VMs start,
# and meanwhile the binaries are built and the examples' images made here: debootstrap
# mostly waits for the mirror and the disk.
"$repo/scripts/vm-test.sh" --image-only >"$work/image.log" 2>&1 &
pids+=($!)
case "$mode" in
  ci)
    # The first VM runs rootless mode's cgroup v2 test (the user's own systemd manager, its
    # delegated scope, limits and exec) and the examples (loading their images takes minutes
    # there), the second the runtime's suites but the log writer's load test (225 s on the
    # debug build there, 66 s on the release one; it does not depend on the host's kind).
    halves=(
      "'^SComposeCLITests\\.RootlessTests/memLimitAppliedInTheUsersOwnScope'"
      "'^SComposeCLITests\\.(HostKindTests|RuntimeBehaviourTests/(?!everyLineOfAFastWriter))|^SComposeRuntimeTests\\.(CgroupRunTests|ContainerRunTests)'"
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
esac
[ -x "$bin" ] && [ -x "$(dirname "$bin")/scompose-shim" ] || { echo "vm-ci: no scompose and scompose-shim at $(dirname "$bin")" >&2; exit 2; }
export SCOMPOSE_BIN="$bin"
bundle="${SCOMPOSE_TEST_BUNDLE:-$repo/.build/debug/scomposePackageTests.xctest}"
[ -x "$bundle" ] || { echo "vm-ci: no test bundle at $bundle (swift build --build-tests)" >&2; exit 2; }

start=$(date +%s)
# The VM has no network: the examples' images are built here and loaded there.
"$repo/scripts/vm/examples.sh" prepare "$work"
# The binaries the guest runs, on the read-only share: the guest caches what it reads there,
# while the repository, a writable share, is read uncached, so every command would read the
# whole binary again over 9p (a test of 40 `up`/`down` commands: 220 s from the repository,
# 49 s from here).
mkdir -p "$work/bin"
cp "$bin" "$(dirname "$bin")/scompose-shim" "$work/bin/"
cp "$bundle" "$work/bin/scomposePackageTests.xctest"
if ! wait "${pids[0]}"; then
  cat "$work/image.log" >&2
  echo "vm-ci: the VM image could not be made" >&2
  exit 125
fi
pids=()
cat "$work/image.log"

for i in 0 1; do
  suites="\"$repo/scripts/vm/suites.sh\" ${halves[$i]} | tee \"\$RESULTS/suites.out\"" examples=""
  [ "$i" != 0 ] || examples="\"$repo/scripts/vm/examples.sh\" run \"$work\" | tee \"\$RESULTS/examples.out\""
  cat >"$work/guest$i.sh" <<EOF
#!/usr/bin/env bash
# In VM $((i + 1)) of 2: its suites, and the examples in the first; one summary line.
export SCOMPOSE_BIN="$work/bin/scompose" SCOMPOSE_TEST_BUNDLE="$work/bin/scomposePackageTests.xctest"
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
  echo "vm-ci: VM $((i + 1)) of 2: ${halves[$i]}$( [ "$i" != 0 ] || echo ", the examples") (results: $results)"
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
echo "vm-ci: both VMs: $(( $(date +%s) - start )) s, examples' images included; $(( $(date +%s) - begin )) s in all"
echo "vm: $passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
