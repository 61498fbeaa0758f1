#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Make a Docker engine usable here, idempotently: install docker.io and
# docker-compose, start dockerd if none answers, and create the Debian base
# images locally (no image registry is reachable) with debootstrap.
#   docker-setup.sh [bookworm] [trixie]     (default: bookworm)
set -euo pipefail
DOCKER=/usr/bin/docker
releases=("$@")
[ ${#releases[@]} -eq 0 ] && releases=(bookworm)

step() { printf '==> %s\n' "$*"; }
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

missing=()
for p in docker.io docker-compose debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! $sudo $DOCKER info >/dev/null 2>&1; then
  step "starting dockerd (log: /var/log/dockerd.log)"
  $sudo sh -c 'nohup dockerd >/var/log/dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    $sudo $DOCKER info >/dev/null 2>&1 && break
    sleep 0.5
  done
  $sudo $DOCKER info >/dev/null 2>&1 || { echo "error: dockerd did not start; see /var/log/dockerd.log" >&2; exit 1; }
fi
echo "docker engine $($sudo $DOCKER version --format '{{.Server.Version}}') is running"

# The Debian mirror apt already uses on this machine.
mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null \
           | sed -nE 's#^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?(https?://[^[:space:]]+).*#\3#p' \
           | grep -v security | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

for release in "${releases[@]}"; do
  image="debian:${release}-slim"
  # The label says the root directory is 0755: an image made before that
  # fix has a root of 0700 (mktemp -d's), which podman applies to / (Docker
  # does not), and every command of a non-root user then exits 126.
  if [ "$($sudo $DOCKER image inspect -f '{{index .Config.Labels "agent-sandbox.rootfs-mode"}}' "$image" 2>/dev/null)" = 0755 ]; then
    echo "$image is present"
    continue
  fi
  step "creating $image with debootstrap from $mirror (about a minute)"
  root=$(mktemp -d)
  trap '$sudo rm -rf "$root"' EXIT
  if ! $sudo debootstrap --variant=minbase "$release" "$root" "$mirror" >"$root.log" 2>&1; then
    echo "error: debootstrap of $release from $mirror failed; the last lines of $root.log:" >&2
    tail -n 5 "$root.log" >&2
    exit 1
  fi
  $sudo chmod 0755 "$root"
  $sudo tar -C "$root" -c . | $sudo $DOCKER import --change 'LABEL agent-sandbox.rootfs-mode=0755' - "$image" >/dev/null
  $sudo rm -rf "$root"
  trap - EXIT
  echo "$image created"
done
