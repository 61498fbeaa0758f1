#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what the tests need, build, and run every suite. Ends with the line
# "N passed, N failed, N skipped" summed over all suites; exits non-zero on any
# failure (and, under CI=true, on any skipped test).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> installing test dependencies"
if ! scripts/install-deps.sh test; then
  echo "installing the test dependencies failed (see above); no suite ran"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "the namespace and firewall suites need root, and sudo is not installed: run this as root"
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
  fi
  echo "==> the namespace and firewall suites need root; re-running under sudo"
  exec sudo --preserve-env=CI,FUZZ_SECONDS,PYTEST_ADDOPTS,AGENT_SANDBOX_TEST_TAG "$0" "$@"
fi
exec /usr/bin/python3 tests/runner.py "$@"
