#!/usr/bin/env bash
# Builds the VM's base image from Debian packages only: debootstrap bookworm with the
# packages of packages.txt (systemd, the stock Debian kernel, AppArmor, scompose's runtime
# libraries), configured to boot with systemd as PID 1 and to start scompose-vm.service,
# then turned into an ext4 disk image with mke2fs -d (no loop mount, so it works wherever
# root can run debootstrap).
#
#   scripts/vm/build-image.sh OUTDIR
#
# Writes OUTDIR/rootfs.raw (sparse ext4), OUTDIR/vmlinuz, OUTDIR/initrd.img and
# OUTDIR/manifest.txt. OUTDIR should be a temporary name that the caller renames once
# this succeeds (scripts/vm-test.sh does), so an interrupted build is never used.
# This file and packages.txt are the image's cache key: any edit here rebuilds it.
#
# Environment: DEBIAN_MIRROR (default: the first URIs: of the machine's debian.sources),
# SCOMPOSE_VM_DEB_CACHE (a folder where debootstrap keeps the .debs it fetched, so a
# rebuild after a recipe change downloads only what is new).
set -euo pipefail

out="${1:?usage: build-image.sh OUTDIR}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
suite=bookworm
# Sparse: only what is written takes host disk. Large enough for container images and
# overlayfs upper dirs, which must live on the guest's own ext4 (not on 9p).
disk_size=12G

mirror="${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}"
mirror="${mirror:-http://deb.debian.org/debian}"

log() { printf 'build-image: %s\n' "$*" >&2; }

mkdir -p "$out"
rootfs="$out/rootfs"
# Unmounts what debootstrap may leave mounted in the tree (proc, sys) when it stops half way.
unmount_under() {
  local m
  for m in $(findmnt -rn -o TARGET | grep -F "$1/" | sort -r); do umount -l "$m" || true; done
}
trap 'unmount_under "$rootfs"' EXIT
# A half-built tree from an earlier interrupted attempt at this same OUTDIR is not reused.
unmount_under "$rootfs"
rm -rf --one-file-system "$rootfs"

# One comma-separated list from packages.txt (comments and blank lines dropped).
packages="$(sed -e 's/#.*//' "$here/packages.txt" | tr -s ' \t\n' '\n' | grep -v '^$' | paste -sd, -)"

# minbase: required packages + apt; everything else we want is named in packages.txt.
# debootstrap resolves the Depends of the --include packages (not Recommends, which keeps
# the image small).
debootstrap_args=(--variant=minbase --include="$packages")
if [ -n "${SCOMPOSE_VM_DEB_CACHE:-}" ]; then
  mkdir -p "$SCOMPOSE_VM_DEB_CACHE"
  debootstrap_args+=(--cache-dir="$(cd "$SCOMPOSE_VM_DEB_CACHE" && pwd)")
fi
log "debootstrap $suite from $mirror (log: $out/debootstrap.log)"
if ! debootstrap "${debootstrap_args[@]}" "$suite" "$rootfs" "$mirror" >"$out/debootstrap.log" 2>&1; then
  tail -30 "$out/debootstrap.log" >&2
  log "debootstrap failed (its own log: $rootfs/debootstrap/debootstrap.log)"
  exit 1
fi

# Nothing may still be mounted inside the tree when it is copied into the image.
if findmnt -rn -o TARGET | grep -qF "$rootfs/"; then
  log "mounts left under $rootfs:"; findmnt -rn -o TARGET | grep -F "$rootfs/" >&2; exit 1
fi

log "configuring the guest"
echo scompose-vm >"$rootfs/etc/hostname"
cat >"$rootfs/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	scompose-vm
::1		localhost ip6-localhost ip6-loopback
EOF
# debootstrap copied the build host's resolv.conf, whose servers mean nothing in the VM
# (which has no outside network): point at loopback, so a lookup fails at once and no
# query leaves for an address of the build host's network.
printf '# scompose VM: no outside network\nnameserver 127.0.0.1\n' >"$rootfs/etc/resolv.conf"
# The kernel command line mounts / read-write; no fsck: every run starts from the same
# pristine base through a throw-away qcow2 overlay.
echo '/dev/vda / ext4 rw,relatime 0 0' >"$rootfs/etc/fstab"
printf 'deb %s %s main\n' "$mirror" "$suite" >"$rootfs/etc/apt/sources.list"

# A fixed machine id: with none, systemd treats every boot as the first one (runs
# systemd-firstboot, which may prompt on the console, and preset-all), which is slow and
# interactive. Every VM from this image shares it, which is fine for throw-away VMs.
tr -d '-' </proc/sys/kernel/random/uuid >"$rootfs/etc/machine-id"

# Boot straight to multi-user (no display manager exists anyway).
ln -sf /lib/systemd/system/multi-user.target "$rootfs/etc/systemd/system/default.target"

# Units that only cost boot time under emulation or that would start services the tests
# start themselves (docker-registry) are masked. getty: no one logs in on the console.
for unit in apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer \
            e2scrub_reap.service fstrim.timer systemd-firstboot.service getty.target \
            docker-registry.service systemd-timesyncd.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
# Root has no usable password: the VM is driven only through its payload service.
chroot "$rootfs" passwd -l root >/dev/null

# The baked-in part of the payload machinery is kept tiny on purpose: it mounts the run's
# control share (the host's results folder, tag scompose-results) and runs the guest
# runner the host put there (scripts/vm/guest-run.sh, copied for each run), so changing
# the runner does not rebuild the image.
cat >"$rootfs/usr/local/sbin/scompose-vm-boot" <<'EOF'
#!/bin/sh
# Mounts the host's control share and hands over to the runner it carries.
ctl=/run/scompose-vm/ctl
mkdir -p "$ctl"
modprobe -a 9p 9pnet_virtio 2>/dev/null || true
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 scompose-results "$ctl"; then
  echo "scompose-vm: no control share (tag scompose-results); nothing to run" >&2
  exit 0
fi
exec /bin/bash "$ctl/.vm/guest-run.sh"
EOF
chmod 0755 "$rootfs/usr/local/sbin/scompose-vm-boot"
# Started once the system is up (After=multi-user.target). Type=exec: its start job ends
# as soon as the runner is executing, so `systemctl is-system-running --wait` inside the
# runner sees the boot finish instead of waiting for itself.
cat >"$rootfs/etc/systemd/system/scompose-vm.service" <<'EOF'
[Unit]
Description=scompose VM test payload
After=multi-user.target

[Service]
Type=exec
ExecStart=/usr/local/sbin/scompose-vm-boot
StandardInput=null
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity
# The payload runs containers: no limits from this unit.
Delegate=yes
TasksMax=infinity
LimitNOFILE=1048576
KillMode=mixed

[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$rootfs/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/scompose-vm.service "$rootfs/etc/systemd/system/multi-user.target.wants/scompose-vm.service"

# Journald in memory only: the disk is thrown away after each run anyway.
mkdir -p "$rootfs/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$rootfs/etc/systemd/journald.conf.d/volatile.conf"

# The kernel and its initramfs boot the VM directly (qemu -kernel/-initrd).
kernel="$(printf '%s\n' "$rootfs"/boot/vmlinuz-* | sort -V | tail -1)"
kver="${kernel##*/vmlinuz-}"
initrd="$rootfs/boot/initrd.img-$kver"
[ -s "$initrd" ] || { log "no initramfs for $kver"; exit 1; }
# The root disk is virtio-blk on virtio-pci: either built into this kernel or in its
# initramfs (initramfs-tools' default MODULES=most takes every block driver), or the boot
# stops at "waiting for root". 9p is loaded later from the root disk, but check it too.
grep -q '^MODULES=most' "$rootfs/etc/initramfs-tools/initramfs.conf" || log "warning: initramfs-tools MODULES is not 'most'"
initrd_list="$(chroot "$rootfs" lsinitramfs "/boot/initrd.img-$kver")"
for mod in virtio_pci virtio_blk ext4 9p 9pnet_virtio; do
  opt="CONFIG_$(echo "$mod" | tr '[:lower:]' '[:upper:]')"
  [ "$mod" = 9p ] && opt=CONFIG_9P_FS
  [ "$mod" = 9pnet_virtio ] && opt=CONFIG_NET_9P_VIRTIO
  if grep -q "^$opt=y" "$rootfs/boot/config-$kver"; then where="built in"
  elif grep -q "/$mod\.ko" <<<"$initrd_list"; then where="initramfs"
  elif [ "${mod#9p}" != "$mod" ] && find "$rootfs/lib/modules/$kver" -name "$mod.ko*" | grep -q .; then where="root disk"
  else log "$mod is neither built into $kver nor in its initramfs"; exit 1
  fi
  log "  $mod: $where"
done
cp "$kernel" "$out/vmlinuz"
cp "$initrd" "$out/initrd.img"

# What went in, for the record (and for the report of a failing run).
# shellcheck disable=SC2016  # dpkg-query's own ${field} syntax
chroot "$rootfs" dpkg-query -W -f '${Package} ${Version}\n' >"$out/manifest.txt"
echo "kernel $kver" >>"$out/manifest.txt"

# Shrink what the image carries: downloaded .debs and apt lists are not needed offline.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log

log "making the ext4 image ($disk_size sparse)"
rm -f "$out/rootfs.raw"
# -d copies the tree with owners, modes, hard links, device nodes and xattrs (file
# capabilities); root_owner keeps / owned by root.
mke2fs -q -F -t ext4 -L scompose-vm -E root_owner=0:0 -d "$rootfs" "$out/rootfs.raw" "$disk_size"
rm -rf --one-file-system "$rootfs"
log "done: $(du -sh --apparent-size "$out/rootfs.raw" | cut -f1) apparent, $(du -sh "$out/rootfs.raw" | cut -f1) used"
