#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the sandbox images from this repository and print their sizes.
#   images/build.sh [base] [AGENT...] [all]   (default: base and every agent)
# The agents, their npm packages and pins are the lines of
# images/agents.catalog; the Node.js they run on is images/node-runtime.pin.
# Environment: DEV_UID / DEV_GID (default: 1000), TAG (default: local),
#   GITHUB_META_URL: where the GitHub meta snapshot baked into the images is
#   fetched from (default https://api.github.com/meta; empty: fetch nothing
#   and bake the snapshot already in policy/, if any),
#   BUILD_CA_FILE: more CA certificates npm may trust during the agent builds.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
DOCKER=${DOCKER:-/usr/bin/docker}
TAG=${TAG:-local}
DEV_UID=${DEV_UID:-1000}
DEV_GID=${DEV_GID:-1000}
targets=("$@")

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

catalog="$repo/images/agents.catalog"
# The catalog's agent lines: name package version node command service state keys.
catalog_lines() { grep -Ev '^[[:space:]]*(#|$)' "$catalog"; }
declare -A agents=()
agent_names=()
while read -r name package version _node command service state _keys; do
  agents[$name]="$package $version $service $state $command"
  agent_names+=("$name")
done < <(catalog_lines)
pin_field() { awk -v k="$1" '$1 == k { print $2 }' "$repo/images/node-runtime.pin"; }
NODE_PACKAGE=$(pin_field package)
NODE_VERSION=$(pin_field version)
NODE_INTEGRITY=$(pin_field integrity)

# The CA certificates this machine trusts beyond a stock Debian trust store,
# as PEM on stdout, each certificate once: locally added CAs
# (/usr/local/share/ca-certificates, what update-ca-certificates adds), the
# files node and npm are told to trust (NODE_EXTRA_CA_CERTS, npm's cafile),
# and BUILD_CA_FILE if set. Behind an
# intercepting TLS proxy npm inside the build needs them; elsewhere this is
# usually empty.
host_extra_ca() {
  local files=() f
  if [ -d /usr/local/share/ca-certificates ]; then
    while IFS= read -r -d '' f; do files+=("$f"); done \
      < <(find /usr/local/share/ca-certificates -name '*.crt' -type f -print0 | sort -z)
  fi
  files+=("${NODE_EXTRA_CA_CERTS:-}" "${BUILD_CA_FILE:-}")
  if command -v npm >/dev/null; then
    files+=("$(npm config get cafile 2>/dev/null || true)")
  fi
  for f in "${files[@]}"; do
    [ -n "$f" ] && [ -f "$f" ] && [ -r "$f" ] && printf '%s\0' "$f"
  done | xargs -0 -r cat | awk '
    /-----BEGIN CERTIFICATE-----/ { pem = ""; inside = 1 }
    inside { pem = pem $0 "\n" }
    /-----END CERTIFICATE-----/ && inside { inside = 0; if (!seen[pem]++) printf "%s", pem }'
}

# The agent build context: the Dockerfile reads only these two files, so the
# repository (and any CA) is never sent whole to the engine.
work=""
context=""
prepare_agent_context() {  # agent
  if [ -z "$context" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    context="$work/context"
    mkdir "$context"
    host_extra_ca >"$context/build-ca.pem"
    chmod 0644 "$context/build-ca.pem"
    local n
    n=$(grep -c -- '-----BEGIN CERTIFICATE-----' "$context/build-ca.pem" || true)
    echo "==> npm in the agent builds also trusts $n CA certificate(s) this machine trusts"
  fi
  # The agent's policy: the base image's (github) plus the agent's service.
  printf '# %s (images/agents.catalog): GitHub plus the %s service.\nservices:\n  - github\n  - %s\n' \
    "$1" "$2" "$2" >"$context/policy.yaml"
  chmod 0644 "$context/policy.yaml"
}

[ ${#targets[@]} -eq 0 ] && targets=(all)
expanded=()
for t in "${targets[@]}"; do
  if [ "$t" = all ]; then expanded+=(base "${agent_names[@]}"); else expanded+=("$t"); fi
done
targets=("${expanded[@]}")

fetch_meta_snapshot
built=()
have_base=""
for t in "${targets[@]}"; do
  case "$t" in
    base)
      build_base bookworm base "agent-sandbox-base:$TAG"
      have_base=1
      built+=("agent-sandbox-base:$TAG") ;;
    *)
      if [ -z "${agents[$t]+set}" ]; then
        echo "unknown image '$t' (base, all, or an agent of images/agents.catalog: ${agent_names[*]})" >&2
        exit 2
      fi
      # Every agent image starts from the base image itself, so its layers
      # are shared with agent-sandbox-base and between agents.
      if [ -z "$have_base" ]; then
        build_base bookworm base "agent-sandbox-base:$TAG"
        built+=("agent-sandbox-base:$TAG")
      fi
      have_base=1
      read -r package version service state command <<<"${agents[$t]}"
      prepare_agent_context "$t" "$service"
      echo "==> building agent-sandbox-$t:$TAG ($package@$version on node $NODE_VERSION)"
      started=$SECONDS
      if ! "$DOCKER" build --force-rm -f "$repo/images/agent/Dockerfile" --build-arg BASE="agent-sandbox-base:$TAG" \
          --build-arg NODE_PACKAGE="$NODE_PACKAGE" --build-arg NODE_VERSION="$NODE_VERSION" \
          --build-arg NODE_INTEGRITY="$NODE_INTEGRITY" --build-arg AGENT="$t" --build-arg COMMAND="$command" \
          --build-arg NPM_PACKAGE="$package" --build-arg NPM_VERSION="$version" --build-arg STATE_DIR="$state" \
          -t "agent-sandbox-$t:$TAG" "$context" >"$work/build.log" 2>&1; then
        echo "error: building agent-sandbox-$t:$TAG failed; the end of its build log:" >&2
        tail -n 40 "$work/build.log" >&2
        exit 1
      fi
      echo "    built in $((SECONDS - started)) s"
      built+=("agent-sandbox-$t:$TAG") ;;
  esac
done

echo "==> sizes"
for image in "${built[@]}"; do
  "$DOCKER" image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' "$image"
done
