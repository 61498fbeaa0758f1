#!/usr/bin/env bash
# Install, idempotently, the Debian packages a task needs.
#   install-deps.sh build   compile agent-sandbox-init and agentbox
#   install-deps.sh test    everything the test suites use as well
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
  strace scdoc
)

want=("${build_packages[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${test_packages[@]}") ;;
  *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "==> all ${#want[@]} required packages are installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: installing ${missing[*]} needs root; run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi
echo "==> installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
