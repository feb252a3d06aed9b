#!/usr/bin/env bash
# The Debian packages scompose builds against (run as root).
set -euo pipefail
packages=(libyaml-dev libarchive-dev libseccomp-dev libnftables-dev libcurl4-openssl-dev iproute2 nftables pkg-config python3 busybox-static skopeo gzip docker-registry debootstrap)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
