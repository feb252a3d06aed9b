#!/bin/bash
# shellcheck disable=SC2154  # results, workdir, net, share_* come from .vm/config
# Runs inside the VM, as root, from scompose-vm.service (started after multi-user.target
# by /usr/local/sbin/scompose-vm-boot, which mounted the host's results folder at
# /run/scompose-vm/ctl and runs this copy of the file from there). scripts/vm-test.sh copies
# it in for each run, so editing it does not rebuild the image.
#
# It mounts the host's shares at the host's paths, checks the guest (cgroup v2 only,
# systemd up, AppArmor on), runs the payload with its output in the results folder, writes
# the exit status there, and powers the VM off. Files under .vm/ of the results folder:
#   config env cmd.sh   written by the host before boot
#   sanity              written here: key=value lines of the checks
#   started             written here when the payload starts (guest uptime in seconds)
#   status              written here last: the payload's exit status (125: not run)
set -u

ctl=/run/scompose-vm/ctl
vm="$ctl/.vm"
say() { echo "scompose-vm: $*"; }   # the unit sends this to the serial console log

finish() {
  # status is written through a temporary name so the host never reads half a number.
  echo "$1" >"$vm/status.tmp" && mv "$vm/status.tmp" "$vm/status"
  sync
  say "payload exit status $1; powering off"
  # --force: skip stopping every service one by one (slow under emulation); processes are
  # still killed and file systems unmounted. The disk is a throw-away overlay anyway.
  systemctl poweroff --force
  exit 0
}

# shellcheck source=/dev/null
. "$vm/config" || { say "cannot read $vm/config"; finish 125; }

# The shares, at the host's paths so absolute rpaths and paths baked into builds resolve.
# Read-only shares use cache=loose: their files do not change during a run, and the page
# cache makes loading the Swift runtime and test bundles much faster. Writable shares keep
# the default (no cache), so what the guest writes is on the host as soon as write returns
# (the host streams output.log while the payload runs).
for i in "${!share_tags[@]}"; do
  tag="${share_tags[$i]}" path="${share_paths[$i]}" mode="${share_modes[$i]}"
  opts="trans=virtio,version=9p2000.L,msize=262144"
  [ "$mode" = ro ] && opts="$opts,ro,cache=loose"
  mkdir -p "$path"
  if ! mount -t 9p -o "$opts" "$tag" "$path"; then
    echo "share_error=cannot mount $tag at $path" >>"$vm/sanity"
    finish 125
  fi
done
# The results folder itself (the control share) at its host path too.
mkdir -p "$results"
mount --bind "$ctl" "$results" || { echo "share_error=cannot bind $results" >>"$vm/sanity"; finish 125; }

# --net user: QEMU's user network with restrict=on (nothing leaves the VM). Its fixed
# addresses, configured by hand so that no DHCP client or wait-online unit slows every boot.
if [ "${net:-none}" = user ]; then
  for dev in /sys/class/net/*; do
    dev="${dev##*/}"
    [ "$dev" = lo ] && continue
    ip link set "$dev" up && ip addr add 10.0.2.15/24 dev "$dev" && ip route add default via 10.0.2.2
    break
  done
fi

# Checks the host verifies again: cgroup v2 only, systemd finished booting, AppArmor on.
# --wait returns once the boot transaction is done (this unit is Type=exec, so it does
# not hold the boot up itself).
state="$(timeout 300 systemctl is-system-running --wait 2>&1)"
{
  echo "cgroup_fs=$(stat -fc %T /sys/fs/cgroup)"
  echo "system_state=$state"
  echo "apparmor=$(aa-enabled 2>&1)"
  echo "kernel=$(uname -r)"
  echo "cmdline=$(cat /proc/cmdline)"
  echo "failed_units=$(systemctl list-units --state=failed --no-legend --plain 2>/dev/null | awk '{print $1}' | paste -sd' ' -)"
  echo "loopback=$(ip -br addr show lo 2>/dev/null | tr -s ' ')"
} >>"$vm/sanity"
say "sanity: $(grep -E '^(cgroup_fs|system_state|apparmor|kernel)=' "$vm/sanity" | paste -sd' ' -)"
cgfs="$(stat -fc %T /sys/fs/cgroup)"
aa="$(aa-enabled 2>&1)"
if [ "$cgfs" != cgroup2fs ] || [ "$aa" != Yes ] || { [ "$state" != running ] && [ "$state" != degraded ]; }; then
  say "guest is not as required; payload not run"
  finish 125
fi

# The payload's environment: a clean root login-like one, then the host's --env values.
cd "$workdir" || { say "no such folder in the guest: $workdir"; finish 125; }
export HOME=/root LANG=C.UTF-8 RESULTS="$results" SCOMPOSE_VM=1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
[ -d /opt/swift/usr/bin ] && PATH="$PATH:/opt/swift/usr/bin"
awk '{print $1}' /proc/uptime >"$vm/started"
say "payload starting (uptime $(cat "$vm/started") s)"
(
  set -a
  # shellcheck source=/dev/null
  . "$vm/env"
  set +a
  exec /bin/bash "$vm/cmd.sh"
) </dev/null >"$results/output.log" 2>&1
finish "$?"
