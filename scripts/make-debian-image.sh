#!/usr/bin/env bash
# Makes `debian:bookworm` in scompose's image store with debootstrap (minbase) from the
# machine's Debian mirror: the base of the builder tests and of the app-postgres example,
# with no registry access. The root file system is kept in a cache (SCOMPOSE_DEBIAN_CACHE,
# default /var/cache/scompose/debian-bookworm.v2.tar.gz) so later runs skip debootstrap.
# Run as root.
#
#   scripts/make-debian-image.sh [NAME]
set -euo pipefail
name="${1:-debian:bookworm}"
bin="${SCOMPOSE_BIN:-$(command -v scompose || true)}"
[ -n "$bin" ] || { echo "scompose not found (set SCOMPOSE_BIN)" >&2; exit 1; }
# v2: with the apt settings below (a cache made without them is left unused and removed).
cache="${SCOMPOSE_DEBIAN_CACHE:-/var/cache/scompose/debian-bookworm.v2.tar.gz}"
[ -n "${SCOMPOSE_DEBIAN_CACHE:-}" ] || rm -f /var/cache/scompose/debian-bookworm.tar.gz
mirror="${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}"
mirror="${mirror:-http://deb.debian.org/debian}"
if [ ! -s "$cache" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  mkdir -p "$(dirname "$cache")"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # As Docker's debian images: the security and updates suites, no apt caches.
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" > "$work/rootfs/etc/apt/sources.list"
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  # apt as it is set in Docker's debian images, so that an image built FROM this one is as
  # big as one built FROM Docker Hub's: no downloaded .debs or package caches left in a
  # layer (78 MB of caches and the .debs in every `RUN apt-get install` layer otherwise),
  # no translations, package lists kept compressed, suggested packages removable.
  cat >"$work/rootfs/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
  echo 'Acquire::Languages "none";' >"$work/rootfs/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' >"$work/rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$work/rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
  tar -C "$work/rootfs" --numeric-owner -czf "$cache.partial" .
  mv "$cache.partial" "$cache"
fi
"$bin" image import -c 'CMD ["bash"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -m "debootstrap --variant=minbase bookworm" "$cache" "$name"
