#!/usr/bin/env bash
# Boots a real Debian 12 VM under QEMU (systemd as PID 1, cgroup v2 only, AppArmor on, the
# stock Debian kernel) and runs one command in it as root, non-interactively; prints its
# output and exits with its exit status. For testing scompose where the host is not such a
# machine (cgroup v1, no systemd, no AppArmor). See --help.
#
# Made only from Debian packages: qemu-system-x86, debootstrap, e2fsprogs, and in the guest
# debootstrap's bookworm with linux-image-amd64. The image is built once and cached
# (scripts/vm/build-image.sh, keyed by a hash of the recipe); every run boots a throw-away
# qcow2 overlay on it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vmdir="$repo/scripts/vm"

usage() {
  cat <<EOF
Usage: scripts/vm-test.sh [OPTIONS] [--] COMMAND [ARGS...]

Boots a Debian 12 VM (systemd, cgroup v2 only, AppArmor enabled) under QEMU, runs
COMMAND as root inside it from a systemd service started after multi-user.target, and
exits with COMMAND's exit status. COMMAND's output is streamed while it runs and kept in
the results folder. Inside the guest these host folders are mounted at the same paths
(virtio-9p): the repository ($repo, read-write), /opt/swift (read-only) if it exists,
the results folder (read-write; \$RESULTS in the guest) and every --share. Write temporary
files to the guest's /tmp (its own ext4 disk), not to 9p shares. The guest caches what it
reads from read-only shares only: run binaries that start many times (scompose, its shim)
from one, not from the repository. If COMMAND is a file on the host outside every share,
it is copied in and run from there.

Options:
  --share PATH[:ro|:rw]  Also share PATH (default rw). Repeatable. SCOMPOSE_VM_SHARES may
                         hold more, separated by spaces.
  --env NAME[=VALUE]     Set NAME in the payload's environment (without =VALUE: the host's
                         value). Repeatable.
  --workdir DIR          Folder the payload starts in (default: the repository).
  --results DIR          Where output.log, console.log and .vm/ (status, sanity) go
                         (default: a new folder under \${TMPDIR:-/var/tmp}).
  --timeout DURATION     Whole run limit, boot included: seconds or with s/m/h
                         (default ${SCOMPOSE_VM_TIMEOUT:-25m}; SCOMPOSE_VM_TIMEOUT).
  --accel auto|kvm|tcg   Accelerator (default ${SCOMPOSE_VM_ACCEL:-auto}; SCOMPOSE_VM_ACCEL). auto: KVM if a
                         quick boot probe shows it boots the Debian kernel (result cached per
                         machine), else TCG.
  --memory SIZE          Guest memory (default ${SCOMPOSE_VM_MEMORY:-6G}; SCOMPOSE_VM_MEMORY).
  --cpus N               Guest CPUs (default: the host's, $(nproc); SCOMPOSE_VM_CPUS).
  --net none|user        none (default): loopback only. user: a virtio NIC on QEMU's user
                         network with restrict=on (no connection leaves the VM).
  --no-stream            Print the output once the payload has finished instead of live.
  --keep-disk            Keep the run's qcow2 overlay (its path is printed).
  --rebuild              Rebuild the image even if a cached one matches the recipe.
  --image-only           Only make sure the image is built (and the accelerator probed).
  --print-key            Print the image's cache key and exit.
  -h, --help             This help.

Environment: SCOMPOSE_VM_CACHE (default /var/cache/scompose/vm): images, .debs, the
accelerator probe's result. SCOMPOSE_VM_APPEND: extra kernel command line. DEBIAN_MIRROR:
overrides the mirror (default: the machine's debian.sources).

Exit status: COMMAND's; 124 if the run timed out; 125 if the VM did not boot, a share did
not mount or the guest failed its checks (cgroup2fs, system running or degraded, aa-enabled
Yes), with the reason and the end of the serial console log.

Examples:
  scripts/vm-test.sh -- sh -c 'stat -fc %T /sys/fs/cgroup; aa-enabled'
  scripts/vm-test.sh --share /var/cache/scompose:ro --env SCOMPOSE_BIN=$repo/.build/debug/scompose \\
      -- $repo/.build/debug/scomposePackageTests.xctest
EOF
}

log() { printf 'vm-test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 125; }

# "90", "90s", "25m", "1h" -> seconds.
to_seconds() {
  case "$1" in
    *h) echo $(( ${1%h} * 3600 )) ;; *m) echo $(( ${1%m} * 60 )) ;;
    *s) echo $(( ${1%s} )) ;; *[!0-9]*|'') die "not a duration: $1" ;; *) echo "$1" ;;
  esac
}
# Milliseconds since the epoch, for timings; secs_since prints "12.3".
now_ms() { date +%s%3N; }
secs_since() { local d=$(( $(now_ms) - $1 )); printf '%d.%d' $((d / 1000)) $(( (d % 1000) / 100 )); }

cache="${SCOMPOSE_VM_CACHE:-/var/cache/scompose/vm}"
accel="${SCOMPOSE_VM_ACCEL:-auto}"
memory="${SCOMPOSE_VM_MEMORY:-6G}"
cpus="${SCOMPOSE_VM_CPUS:-$(nproc)}"
timeout="$(to_seconds "${SCOMPOSE_VM_TIMEOUT:-25m}")"
results="" workdir="$repo" net=none stream=1 keep_disk=0 rebuild=0 image_only=0 print_key=0
extra_shares=() envs=()
read -r -a extra_shares <<<"${SCOMPOSE_VM_SHARES:-}"

while [ $# -gt 0 ]; do
  case "$1" in
    --share) extra_shares+=("${2:?--share needs PATH}"); shift 2 ;;
    --env) envs+=("${2:?--env needs NAME[=VALUE]}"); shift 2 ;;
    --workdir) workdir="${2:?}"; shift 2 ;;
    --results) results="${2:?}"; shift 2 ;;
    --timeout) timeout="$(to_seconds "${2:?}")"; shift 2 ;;
    --accel) accel="${2:?}"; shift 2 ;;
    --memory) memory="${2:?}"; shift 2 ;;
    --cpus) cpus="${2:?}"; shift 2 ;;
    --net) net="${2:?}"; shift 2 ;;
    --no-stream) stream=0; shift ;;
    --keep-disk) keep_disk=1; shift ;;
    --rebuild) rebuild=1; shift ;;
    --image-only) image_only=1; shift ;;
    --print-key) print_key=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) break ;;
  esac
done
case "$accel" in auto|kvm|tcg) ;; *) die "--accel must be auto, kvm or tcg" ;; esac
case "$net" in none|user) ;; *) die "--net must be none or user" ;; esac

# The image's cache key: everything that decides what the image holds. guest-run.sh is not
# in it: it is copied in for each run.
image_key="$(cat "$vmdir/build-image.sh" "$vmdir/packages.txt" | sha256sum | cut -c1-16)"
if [ "$print_key" = 1 ]; then echo "$image_key"; exit 0; fi
[ "$image_only" = 1 ] || [ $# -gt 0 ] || { usage >&2; die "no COMMAND given"; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap and the image build need it)"

# ---------------------------------------------------------------------------------------
# Host tools: installed from Debian's packages when missing (a fresh CI machine has none).
# --no-install-recommends: qemu-system-x86 recommends a GUI stack we do not want.
ensure_host_tools() {
  local need=()
  command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
  command -v qemu-img >/dev/null || need+=(qemu-utils)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v mke2fs >/dev/null || need+=(e2fsprogs)
  command -v flock >/dev/null || need+=(util-linux)
  [ ${#need[@]} -gt 0 ] || return 0
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt may be running (scripts/install-deps.sh in parallel): wait for its locks.
  local try apt_log="$cache/apt.log"
  for try in 1 2 3; do
    apt-get -o DPkg::Lock::Timeout=600 update -qq >"$apt_log" 2>&1 && break
    log "apt-get update failed (try $try); retrying"; sleep 10
  done
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >>"$apt_log" 2>&1 \
    || { tail -20 "$apt_log" >&2; die "could not install ${need[*]}"; }
}
mkdir -p "$cache/images"
ensure_host_tools

image="$cache/images/$image_key"

# ---------------------------------------------------------------------------------------
# The image: built under a temporary name and renamed when complete, under a lock so two
# runs never build at once; a crashed build leaves only a .tmp folder that is removed.
image_note="cached"
# Removes build folders, first unmounting what an interrupted debootstrap may have left
# mounted inside (proc, sys), and never crossing into another file system.
remove_tree() {
  local d m
  for d in "$@"; do
    [ -e "$d" ] || continue
    for m in $(findmnt -rn -o TARGET | grep -F "$d/" | sort -r); do umount -l "$m" || true; done
    rm -rf --one-file-system "$d"
  done
}
ensure_image() {
  exec 9>"$cache/build.lock"
  flock 9
  if [ "$rebuild" = 1 ] || [ ! -s "$image/rootfs.raw" ] || [ ! -s "$image/vmlinuz" ]; then
    local t0 tmp
    t0="$(now_ms)"
    remove_tree "$cache/images/".*.tmp.*
    tmp="$cache/images/.$image_key.tmp.$$"
    log "building the VM image $image_key (debootstrap bookworm; a few minutes)"
    SCOMPOSE_VM_DEB_CACHE="${SCOMPOSE_VM_DEB_CACHE:-$cache/debs}" \
      bash "$vmdir/build-image.sh" "$tmp" || { remove_tree "$tmp"; die "image build failed"; }
    remove_tree "$image"
    mv "$tmp" "$image"
    image_note="built in $(secs_since "$t0") s"
    # Images of other recipes unused for a week go.
    find "$cache/images" -mindepth 1 -maxdepth 1 -type d ! -name "$image_key" -mtime +7 -exec rm -rf {} + || true
  fi
  touch "$image"
  flock -u 9
}
ensure_image
log "image: $image_note ($image)"

# ---------------------------------------------------------------------------------------
# One VM run. Globals in: image, memory, cpus, net, stream. Arguments: accelerator,
# results folder (already holding .vm/config, env, cmd.sh), seconds allowed, and for the
# KVM probe the seconds within which the kernel must have printed something.
# Sets: run_status (payload's, or 124/125), boot_secs, run_secs.
qpid="" overlay=""
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
  # Only the QEMU this script started, by PID: qpid is its timeout(1), which passes TERM on.
  if [ -n "$qpid" ] && alive "$qpid"; then
    local kids
    kids="$(cat "/proc/$qpid/task/$qpid/children" 2>/dev/null || true)"
    kill "$qpid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do alive "$qpid" || break; sleep 0.5; done
    # shellcheck disable=SC2086  # a list of PIDs
    alive "$qpid" && kill -9 "$qpid" $kids 2>/dev/null
  fi
  if [ -n "$overlay" ] && [ "$keep_disk" = 0 ]; then rm -f "$overlay"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

alive() { # qemu is our child: a dead one stays a zombie until waited for, so read its state.
  local st
  st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [ -n "$st" ] && [ "$st" != Z ]
}

run_vm() {
  local acc="$1" res="$2" limit="$3" first_output="${4:-0}"
  local vmd="$res/.vm" t0 off=0 size deadline reason="" accel_args cmdline
  case "$acc" in
    kvm) accel_args=(-accel kvm -cpu host) ;;
    # thread=multi: one host thread per vCPU. -cpu max: every feature TCG can emulate, but
    # la57: with it the guest kernel uses five levels of page tables, and TCG's soft MMU walks
    # every level on each of its (frequent) TLB misses; four are enough for 6 GB (up/down
    # cycles about 5% faster).
    tcg)
      # shellcheck disable=SC2054  # the commas belong to QEMU's option
      accel_args=(-accel tcg,thread=multi -cpu max,la57=off) ;;
  esac
  # cgroup v2 only and AppArmor, as asked of the guest (both Debian 12's defaults anyway).
  # panic=-1 with -no-reboot: a kernel panic ends QEMU at once instead of hanging.
  # mitigations=off: page-table isolation makes every syscall flush the emulated TLB, which
  # is slow under TCG; the guest is a throw-away test machine.
  cmdline="root=/dev/vda rw rootfstype=ext4 console=ttyS0,115200 noresume panic=-1"
  cmdline+=" systemd.unified_cgroup_hierarchy=1 apparmor=1 security=apparmor systemd.firstboot=off"
  cmdline+=" mitigations=off"
  # TCG's TSC follows the host's clock on every vCPU, but the guest's check marks it unstable
  # and falls back to the HPET, whose every read (each clock_gettime, with no vDSO for it) is
  # an emulated device access: trusted, the suites run about 15% faster.
  # loglevel=4: the kernel's chatter (an OOM kill prints a page of it) would go to the emulated
  # serial port a byte at a time, with the CPU waiting; errors are still printed, and systemd's
  # boot lines too.
  [ "$acc" = tcg ] && cmdline+=" tsc=reliable loglevel=4"
  cmdline+=" ${SCOMPOSE_VM_APPEND:-}"

  overlay="$(mktemp "${TMPDIR:-/var/tmp}/scompose-vm-disk.XXXXXX.qcow2")"
  # A per-run overlay keeps the cached base image pristine; the guest writes only here.
  qemu-img create -q -f qcow2 -F raw -b "$image/rootfs.raw" "$overlay" >/dev/null

  local args=(
    -name scompose-vm -nodefaults -no-user-config -machine q35 "${accel_args[@]}"
    -smp "$cpus" -m "$memory"
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" -append "$cmdline"
    # cache=unsafe: the overlay is thrown away, so flushes need not reach the disk.
    -drive "file=$overlay,if=virtio,format=qcow2,cache=unsafe,discard=unmap"
    # Entropy early in boot, so nothing waits for the random pool.
    -device virtio-rng-pci
    -display none -monitor none -serial "file:$res/console.log" -no-reboot
  )
  # shellcheck disable=SC2054  # the commas belong to QEMU's option
  if [ "$net" = user ]; then args+=(-nic user,model=virtio-net-pci,restrict=on); else args+=(-nic none); fi
  local i
  for i in "${!share_tags[@]}"; do
    local ro=""
    [ "${share_modes[$i]}" = ro ] && ro=",readonly=on"
    # multidevs=remap: a share spanning several host file systems gets distinct inodes.
    args+=(-virtfs "local,path=${share_paths[$i]},mount_tag=${share_tags[$i]},security_model=none,multidevs=remap$ro")
  done
  # The results folder is the control share the image's boot script looks for.
  args+=(-virtfs "local,path=$res,mount_tag=scompose-results,security_model=none,multidevs=remap")

  t0="$(now_ms)"
  boot_secs=""
  # Under timeout(1) with a margin: even if this script is killed outright, QEMU does not
  # outlive the run's limit.
  timeout -k 10 $((limit + 60)) qemu-system-x86_64 "${args[@]}" >"$vmd/qemu.log" 2>&1 </dev/null &
  qpid=$!
  deadline=$(( $(date +%s) + limit ))
  stream_out() { # prints what the payload wrote since last time
    [ "$stream" = 1 ] && [ -f "$res/output.log" ] || return 0
    size="$(stat -c %s "$res/output.log")"
    if [ "$size" -gt "$off" ]; then
      # head stops at what we measured; tail may then die of SIGPIPE, which is fine.
      { tail -c +$((off + 1)) "$res/output.log" | head -c $((size - off)); } || true
      off="$size"
    fi
  }
  while alive "$qpid"; do
    if [ -z "$boot_secs" ] && [ -e "$vmd/started" ]; then boot_secs="$(secs_since "$t0")"; fi
    stream_out
    if [ "$(date +%s)" -ge "$deadline" ]; then reason="timed out after ${limit} s"; break; fi
    if [ "$first_output" -gt 0 ] && [ $(( $(now_ms) - t0 )) -gt $(( first_output * 1000 )) ] \
       && ! grep -q 'Linux version' "$res/console.log" 2>/dev/null; then
      reason="the kernel printed nothing in ${first_output} s"; break
    fi
    sleep 0.5
  done
  if [ -n "$reason" ]; then
    kill "$qpid" 2>/dev/null || true   # timeout(1) passes it on to QEMU
  fi
  wait "$qpid" 2>/dev/null || true
  qpid=""
  [ -z "$boot_secs" ] && [ -e "$vmd/started" ] && boot_secs="$(secs_since "$t0")"
  stream_out
  run_secs="$(secs_since "$t0")"
  if [ "$keep_disk" = 0 ]; then rm -f "$overlay"; overlay=""; fi

  # run_error is set when the harness failed (then run_status is 124 or 125); otherwise
  # run_status is the payload's own exit status, whatever its value.
  run_error=""
  if [ -n "$reason" ]; then run_status=124; run_error="$reason"
  elif [ -s "$vmd/status" ]; then run_status="$(cat "$vmd/status")"
  else
    run_status=125; run_error="the VM stopped before the payload finished (no exit status)"
    [ -s "$vmd/qemu.log" ] && run_error+="; qemu said: $(head -c 300 "$vmd/qemu.log" | tr '\n' ' ')"
  fi
  return 0
}

# Writes the run's control files into a results folder. Arguments: results folder, workdir,
# then the payload command.
share_tags=() share_paths=() share_modes=()
prepare_run() {
  local res="$1" wd="$2"; shift 2
  local vmd="$res/.vm"
  rm -rf "$vmd" "$res/output.log" "$res/console.log"
  mkdir -p "$vmd"
  cp "$vmdir/guest-run.sh" "$vmd/guest-run.sh"
  {
    printf 'results=%q\nworkdir=%q\nnet=%q\n' "$res" "$wd" "$net"
    printf 'share_tags=(%s)\n' "$(printf '%q ' "${share_tags[@]}")"
    printf 'share_paths=(%s)\n' "$(printf '%q ' "${share_paths[@]}")"
    printf 'share_modes=(%s)\n' "$(printf '%q ' "${share_modes[@]}")"
  } >"$vmd/config"
  : >"$vmd/env"
  local e name value
  for e in "${envs[@]}"; do
    name="${e%%=*}"
    [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "bad --env name: $name"
    if [[ "$e" == *=* ]]; then value="${e#*=}"; else value="${!name-}"; fi
    printf '%s=%q\n' "$name" "$value" >>"$vmd/env"
  done
  printf '%q ' "$@" >"$vmd/cmd.sh"
  echo >>"$vmd/cmd.sh"
}

# ---------------------------------------------------------------------------------------
# The accelerator. KVM here may be a kind that cannot run a stock kernel (seen: kvm_pvm, a
# paravirtual KVM that needs a PVM guest kernel: Debian's hangs right after the real-mode
# setup, printing nothing). So auto boots the image once under KVM with a short limit and
# keeps what it learned per machine (host kernel, QEMU version and guest kernel).
accel_note=""
choose_accel() {
  [ "$accel" = auto ] || { accel_note="as asked"; return; }
  if [ ! -c /dev/kvm ] || ! { : <>/dev/kvm; } 2>/dev/null; then
    accel=tcg; accel_note="no usable /dev/kvm"; return
  fi
  local probe_key probe_file
  # Keyed by what decides the answer: the host's kernel (its KVM), QEMU, the guest kernel.
  probe_key="$( { uname -r; qemu-system-x86_64 --version | head -1; cksum <"$image/vmlinuz"; } | sha256sum | cut -c1-16)"
  probe_file="$cache/accel-$probe_key"
  if [ -s "$probe_file" ]; then
    accel="$(head -1 "$probe_file")"; accel_note="cached probe result: $(tail -1 "$probe_file")"; return
  fi
  log "probing KVM: does it boot the Debian kernel? (once per machine)"
  local pres t0
  pres="$(mktemp -d "${TMPDIR:-/var/tmp}/scompose-vm-probe.XXXXXX")"
  t0="$(now_ms)"
  local save_tags=("${share_tags[@]}") save_paths=("${share_paths[@]}") save_modes=("${share_modes[@]}") save_stream="$stream"
  share_tags=() share_paths=() share_modes=() stream=0
  prepare_run "$pres" / true
  run_vm kvm "$pres" 120 30
  share_tags=("${save_tags[@]}") share_paths=("${save_paths[@]}") share_modes=("${save_modes[@]}") stream="$save_stream"
  if [ "$run_status" = 0 ]; then
    accel=kvm; accel_note="KVM booted the guest to its payload in $(secs_since "$t0") s"
  else
    accel=tcg; accel_note="KVM probe failed: ${run_error:-exit status $run_status}"
    [ -d /sys/module/kvm_pvm ] && accel_note+=" (this host's KVM is kvm_pvm)"
  fi
  printf '%s\n%s\n' "$accel" "$accel_note" >"$probe_file"
  cp "$pres/console.log" "$cache/accel-probe-console.log" 2>/dev/null || true
  rm -rf "$pres"
}

# ---------------------------------------------------------------------------------------
# The shares: the repository, /opt/swift (the Swift runtime that builds link to by absolute
# rpath), and --share. Mounted in path-length order so nested shares land on top.
add_share() {
  local path="$1" mode="$2" p
  [ -d "$path" ] || die "cannot share $path: not a folder"
  # The logical path (symlinks kept), as builds record it and as the payload will name it.
  path="$(cd "$path" && pwd)"
  [ "$path" != / ] || die "cannot share /"
  for p in "${share_paths[@]}"; do [ "$p" != "$path" ] || return 0; done
  share_paths+=("$path"); share_modes+=("$mode"); share_tags+=("share${#share_tags[@]}")
}
all_shares=("$repo:rw")
[ -d /opt/swift ] && all_shares+=("/opt/swift:ro")
all_shares+=("${extra_shares[@]}")
for s in "${all_shares[@]}"; do
  [ -n "$s" ] || continue
  case "$s" in *:ro) add_share "${s%:ro}" ro ;; *:rw) add_share "${s%:rw}" rw ;; *) add_share "$s" rw ;; esac
done
# Sort all three arrays by path length (parents before children).
order="$(for i in "${!share_paths[@]}"; do printf '%d %d\n' "${#share_paths[$i]}" "$i"; done | sort -n | awk '{print $2}')"
sorted_paths=() sorted_modes=() sorted_tags=()
for i in $order; do sorted_paths+=("${share_paths[$i]}"); sorted_modes+=("${share_modes[$i]}"); sorted_tags+=("share${#sorted_tags[@]}"); done
share_paths=("${sorted_paths[@]}") share_modes=("${sorted_modes[@]}") share_tags=("${sorted_tags[@]}")

choose_accel
log "accelerator: $accel ($accel_note)"
[ "$image_only" = 0 ] || exit 0

if [ -z "$results" ]; then
  results="$(mktemp -d "${TMPDIR:-/var/tmp}/scompose-vm.XXXXXX")"
else
  mkdir -p "$results"; results="$(cd "$results" && pwd)"
fi
case "$workdir" in /*) ;; *) workdir="$PWD/$workdir" ;; esac

# A COMMAND that is a host file outside every share is copied in, so scripts from anywhere
# run. One inside a share runs in place (same path in the guest).
if [ -f "$1" ] && [[ "$1" == */* ]]; then
  cmd_path="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
  inside=0
  for p in "${share_paths[@]}" "$results"; do case "$cmd_path" in "$p"/*) inside=1 ;; esac; done
  if [ "$inside" = 0 ]; then
    mkdir -p "$results/.payload"
    cp "$cmd_path" "$results/.payload/" && chmod +x "$results/.payload/$(basename "$1")"
    set -- "$results/.payload/$(basename "$1")" "${@:2}"
  fi
fi

prepare_run "$results" "$workdir" "$@"
log "running in the VM: $* (results: $results)"
run_vm "$accel" "$results" "$timeout"

# ---------------------------------------------------------------------------------------
# Report: the guest's checks, timings, and the exit status.
[ "$stream" = 1 ] || { [ -f "$results/output.log" ] && cat "$results/output.log"; }
sanity="$results/.vm/sanity"
get() { sed -n "s/^$1=//p" "$sanity" 2>/dev/null | head -1; }
if [ -s "$sanity" ]; then
  log "guest: cgroup fs $(get cgroup_fs), system $(get system_state), AppArmor $(get apparmor), kernel $(get kernel)"
  [ -n "$(get failed_units)" ] && log "guest: failed units: $(get failed_units)"
fi
problems=()
if [ -n "$run_error" ] && [ "$run_status" = 124 ]; then
  : # timed out: the checks may simply not have happened yet
elif [ -s "$sanity" ]; then
  [ "$(get cgroup_fs)" = cgroup2fs ] || problems+=("/sys/fs/cgroup is $(get cgroup_fs), not cgroup2fs")
  case "$(get system_state)" in running|degraded) ;; *) problems+=("systemctl is-system-running said '$(get system_state)'") ;; esac
  [ "$(get apparmor)" = Yes ] || problems+=("aa-enabled said '$(get apparmor)'")
  [[ "$(get loopback)" == *127.0.0.1/8* ]] || problems+=("loopback has no 127.0.0.1: '$(get loopback)'")
  [ -z "$(get share_error)" ] || problems+=("$(get share_error)")
else
  problems+=("the guest never reported its checks (did it boot?)")
fi
log "accelerator: $accel; image: $image_note; boot to payload: ${boot_secs:-n/a} s$( [ -s "$results/.vm/started" ] && printf ' (guest uptime %s s)' "$(cat "$results/.vm/started")"); whole run: ${run_secs} s"
[ "$keep_disk" = 1 ] && log "disk overlay kept: $overlay"
if [ ${#problems[@]} -gt 0 ] || [ -n "$run_error" ]; then
  [ -z "$run_error" ] || log "error: $run_error"
  for p in "${problems[@]}"; do log "error: guest check failed: $p"; done
  if [ ! -s "$results/console.log" ]; then
    log "the serial console is empty: the kernel never printed anything$( [ "$accel" = kvm ] && echo "; this host's KVM may not run Debian's kernel (kvm_pvm cannot): try --accel tcg")"
  fi
  log "last lines of the serial console ($results/console.log):"
  # Without systemd's colour codes, so it reads in a CI log.
  tail -n 25 "$results/console.log" 2>/dev/null | sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^/  | /' >&2 || true
  [ -n "$run_error" ] && [ "$run_status" = 124 ] && exit 124
  exit 125
fi
log "exit status $run_status (results: $results)"
exit "$run_status"
