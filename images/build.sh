#!/usr/bin/env bash
# Build the sandbox images from this repository and print their sizes.
#   images/build.sh [base] [claude] [codex] [gemini] [opencode]   (default: all)
# Environment: DEV_UID / DEV_GID (default: 1000), TAG (default: local),
#   GITHUB_META_URL: where the GitHub meta snapshot baked into the images is
#   fetched from (default https://api.github.com/meta; empty: fetch nothing
#   and bake the snapshot already in policy/, if any).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
DOCKER=${DOCKER:-/usr/bin/docker}
TAG=${TAG:-local}
DEV_UID=${DEV_UID:-1000}
DEV_GID=${DEV_GID:-1000}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(base claude codex gemini opencode)

# GitHub's meta ranges, fetched now with the init's own code into
# policy/github-meta-snapshot.json, which the base Dockerfile bakes in: at
# startup the init falls back to it when the live fetch fails.
fetch_meta_snapshot() {
  local out="$repo/policy/github-meta-snapshot.json" init="$repo/build/guest-init/agent-sandbox-init"
  local url="${GITHUB_META_URL-https://api.github.com/meta}"
  if [ -z "$url" ]; then
    echo "==> GITHUB_META_URL is empty: no GitHub meta snapshot fetched"
  elif [ ! -x "$init" ]; then
    echo "warning: $init is not built (meson setup build && ninja -C build), so no fresh GitHub meta snapshot" >&2
  else
    echo "==> fetching the GitHub meta snapshot from $url"
    "$init" fetch-meta --url "$url" --output "$out" ||
      echo "warning: the images keep the GitHub meta snapshot they had, if any: github ranges will come only from the live fetch at startup" >&2
  fi
  if [ -f "$out" ]; then
    echo "    snapshot: $out ($(date -r "$out" '+%Y-%m-%d %H:%M'))"
  else
    echo "warning: no GitHub meta snapshot: when the live fetch fails at startup, the github service allows only its host names' addresses" >&2
  fi
}

build_base() {  # release policy tag
  echo "==> building $3 (Debian $1, policy $2)"
  "$DOCKER" build -q -f "$repo/images/base/Dockerfile" \
    --build-arg DEBIAN_RELEASE="$1" --build-arg POLICY="$2" \
    --build-arg DEV_UID="$DEV_UID" --build-arg DEV_GID="$DEV_GID" \
    -t "$3" "$repo" >/dev/null
}

# agent: npm package, pinned version (Node 20 compatible), state directory in /home/dev
declare -A agents=(
  [claude]="@anthropic-ai/claude-code 2.0.77 .claude"
  [codex]="@openai/codex 0.169.0 .codex"
  [gemini]="@google/gemini-cli 0.61.0 .gemini"
  [opencode]="opencode-ai 1.18.33 .local/share/opencode"
)

fetch_meta_snapshot
built=()
for t in "${targets[@]}"; do
  case "$t" in
    base)
      build_base bookworm base "agent-sandbox-base:$TAG"
      built+=("agent-sandbox-base:$TAG") ;;
    claude|codex|gemini|opencode)
      # The agent CLIs need Node 20, which Debian 13 (trixie) ships.
      "$repo/scripts/docker-setup.sh" trixie >/dev/null
      build_base trixie "$t" "agent-sandbox-base-$t:$TAG"
      read -r package version state <<<"${agents[$t]}"
      echo "==> building agent-sandbox-$t:$TAG ($package@$version)"
      "$DOCKER" build -q -f "$repo/images/agent/Dockerfile" --build-arg BASE="agent-sandbox-base-$t:$TAG" \
        --build-arg NPM_PACKAGE="$package" --build-arg NPM_VERSION="$version" --build-arg STATE_DIR="$state" \
        -t "agent-sandbox-$t:$TAG" "$repo/images/agent" >/dev/null
      built+=("agent-sandbox-$t:$TAG") ;;
    *) echo "unknown image '$t' (base, claude, codex, gemini, opencode)" >&2; exit 2 ;;
  esac
done

echo "==> sizes"
for image in "${built[@]}"; do
  "$DOCKER" image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' "$image"
done
