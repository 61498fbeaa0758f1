#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: build agent-sandbox, check the default policy, and open a
# sandboxed shell in the current folder under that policy.
#   sudo /path/to/agent-sandbox/scripts/quickstart.sh
# Everything it needs is installed on the way, idempotently.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
project="$(pwd)"

step() { printf '==> %s\n' "$*"; }

step "installing build dependencies"
"$repo/scripts/install-deps.sh" build

step "building agent-sandbox-init and agentbox"
if [ ! -f "$repo/build/build.ninja" ]; then
  meson setup "$repo/build" "$repo" >/dev/null
fi
ninja -C "$repo/build" >/dev/null

step "checking the default policy"
"$repo/build/guest-init/agent-sandbox-init" check-policy "$repo/policy/defaults/base.yaml" >/dev/null
echo "policy/defaults/base.yaml is valid"

step "setting up the container engine"
"$repo/scripts/docker-setup.sh"

step "building the sandbox image"
"$repo/images/build.sh" base

step "opening a sandboxed shell in $project (exit to leave)"
# agentbox run: the project at /workspace, the hardening of the compose
# template, no host environment, and the image's default policy.
cd "$project"
exec "$repo/build/host/agentbox" run
