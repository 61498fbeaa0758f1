#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install, idempotently, the Debian packages a task needs.
#   install-deps.sh build   compile agent-sandbox-init and agentbox
#   install-deps.sh test    everything the test suites use as well, including
#                           podman with runc and the Dev Containers CLI (npm)
#   install-deps.sh bench   the test packages plus the benchmarks' baselines
# Packages already present are not touched; apt runs only when one is missing.
set -euo pipefail

build_packages=(
  build-essential meson ninja-build pkg-config
  libnftnl-dev libmnl-dev libyaml-dev libc-ares-dev libcurl4-openssl-dev
)
test_packages=(
  clang libclang-rt-14-dev llvm
  python3 python3-pytest
  nftables iproute2 dnsmasq-base socat curl openssl util-linux procps libcap2-bin
  strace scdoc podman runc containernetworking-plugins
  # rootless podman (split mode as a normal user) and podman kube play's pause image
  uidmap slirp4netns catatonit
  # tests/bench/test_bench_smoke.py runs the footprint row, whose baseline is tini,
  # and the name gate's rows, whose peer is HAProxy routing by SNI
  tini haproxy
)
# The real Dev Containers CLI for tests/e2e/test_devcontainer.py. 0.85 and
# later need Node.js 20 (trixie, or a newer node already installed); 0.83.0
# is the last release that runs on bookworm's Node.js 18.
devcontainer_cli_version() {
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -ge 20 ]; then echo 0.89.0; else echo 0.83.0; fi
}

want=("${build_packages[@]}")
profile=${1:-build}
case "$profile" in
  build) ;;
  test)
    want+=("${test_packages[@]}")
    # Any node with npm will do (a distribution's or NodeSource's); Debian's otherwise.
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then want+=(nodejs npm); fi
    ;;
  bench)
    # tests/bench: tini as the footprint baseline, and what the shell
    # firewalls of this field use (dig, ipset, iptables) as the startup baseline.
    want+=("${test_packages[@]}" tini dnsutils ipset iptables)
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then want+=(nodejs npm); fi
    ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
need_root() {
  if [ -n "$sudo" ] && ! command -v sudo >/dev/null; then
    echo "error: installing $* needs root; run as root or install sudo" >&2
    exit 1
  fi
}

install_devcontainer_cli() {
  [ "$profile" = build ] && return 0
  local version
  version=$(devcontainer_cli_version)
  if [ "$(devcontainer --version 2>/dev/null)" = "$version" ]; then
    echo "==> Dev Containers CLI $version is installed"
    return 0
  fi
  need_root "@devcontainers/cli@$version"
  echo "==> installing @devcontainers/cli@$version with npm"
  $sudo npm install -g --no-fund --no-audit "@devcontainers/cli@$version"
}

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "==> all ${#want[@]} required packages are installed"
else
  need_root "${missing[*]}"
  echo "==> installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
install_devcontainer_cli
