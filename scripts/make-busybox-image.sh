#!/usr/bin/env bash
# Makes `busybox:latest` in scompose's image store from Debian's busybox-static (every applet
# linked, root and nobody users): a base image with no registry access. Run as root.
#
#   scripts/make-busybox-image.sh [NAME]
set -euo pipefail
name="${1:-busybox:latest}"
bin="${SCOMPOSE_BIN:-$(command -v scompose || true)}"
[ -n "$bin" ] || { echo "scompose not found (set SCOMPOSE_BIN)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "/bin/busybox missing: apt-get install busybox-static" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs"/{bin,etc,tmp,root,www}
chmod 1777 "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$work/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$work/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$work/rootfs/etc/group"
tar -C "$work/rootfs" -czf "$work/rootfs.tar.gz" .
"$bin" image import -c 'CMD ["sh"]' -m "busybox-static $(/bin/busybox | head -1 | awk '{print $2}')" "$work/rootfs.tar.gz" "$name"
