#!/usr/bin/env bash
# CI's run on the other kind of host (called by .ci/run): in a Debian 12 VM with systemd,
# cgroup v2 and AppArmor, the suites that differ between host kinds (cgroups, devices, limits,
# systemd scopes, AppArmor, exec, pause, OOM) and the three examples. Under TCG emulation
# every command costs about a second, so the whole root suite (scripts/vm/suites.sh with no
# filter, about 35 minutes) is not part of CI, nor is rootless mode's cgroup v2 delegation
# (RootlessTests/memLimitAppliedInTheUsersOwnScope, about 80 s more): CI must stay under 30
# minutes in all. Run them with scripts/vm/suites.sh in the VM.
#
#   scripts/vm/ci.sh       (on the host; builds nothing: run after `swift build --build-tests`)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Of RuntimeBehaviourTests, what depends on the host's kind (the rest runs on this host).
suites='^SComposeCLITests\.HostKindTests|^SComposeRuntimeTests\.(CgroupRunTests|ContainerRunTests)'
suites+='|^SComposeCLITests\.RuntimeBehaviourTests/(isolationMatchesDockerDefaults|execJoinsTheContainersCgroups'
suites+='|createPauseTopWaitAndTty|healthchecksDependencyConditionsAndWait)'

work="$(mktemp -d /var/tmp/scompose-vm-ci.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# The VM has no network: the examples' images are built here and loaded there.
"$repo/scripts/vm/examples.sh" prepare "$work"
cat >"$work/guest.sh" <<EOF
#!/usr/bin/env bash
# In the VM: the suites, then the examples; one summary line for both.
"$repo/scripts/vm/suites.sh" '$suites' | tee "\$RESULTS/suites.out"
"$repo/scripts/vm/examples.sh" run "$work" | tee "\$RESULTS/examples.out"
read -r p f s < <(sed -n 's/^vm: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "\$RESULTS/suites.out")
read -r ep ef < <(sed -n 's/^examples: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "\$RESULTS/examples.out")
p=\$(( \${p:-0} + \${ep:-0} )); f=\$(( \${f:-1} + \${ef:-1} ))
echo "vm: \$p passed, \$f failed, \${s:-0} skipped"
[ "\$f" -eq 0 ]
EOF
chmod +x "$work/guest.sh"
"$repo/scripts/vm-test.sh" --share "$work:ro" --timeout 45m -- "$work/guest.sh"
