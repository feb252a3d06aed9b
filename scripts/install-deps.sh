#!/usr/bin/env bash
# The Debian packages scompose builds against (run as root).
set -euo pipefail
packages=(libyaml-dev libarchive-dev libseccomp-dev libnftables-dev libcurl4-openssl-dev iproute2 nftables pkg-config python3 python3-pip busybox-static skopeo gzip docker-registry debootstrap uidmap passt)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The bridge tests check every manifest against the official Kubernetes Python client's models.
if ! python3 -c 'import kubernetes' 2>/dev/null; then
  # Debian 12 marks its Python as externally managed (PEP 668); this is a test machine.
  python3 -m pip install --quiet kubernetes 2>/dev/null || python3 -m pip install --quiet --break-system-packages kubernetes
fi
# Rootless mode (and its tests): pasta opens /dev/net/tun as the user. Debian makes it 0666;
# some container hosts (this CI's sandbox among them) make it root's only.
if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then chmod 0666 /dev/net/tun; fi
