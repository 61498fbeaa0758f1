# SPDX-License-Identifier: MIT
"""Where the binaries under test are. One variable chooses the build
directory, as crun's tests take OCI_RUNTIME and bubblewrap's take BWRAP:

  AGENT_SANDBOX_BUILD   meson build directory, absolute or relative to the
                        source root (default: build)

The runner sets it to build-asan/ for the second pass of the PID 1 and
firewall suites, under AddressSanitizer and UBSan."""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.normpath(os.path.join(ROOT, os.environ.get("AGENT_SANDBOX_BUILD") or "build"))
INIT = os.path.join(BUILD, "guest-init", "agent-sandbox-init")
AGENTBOX = os.path.join(BUILD, "host", "agentbox")
NFT_APPLY = os.path.join(BUILD, "tests", "tools", "nft-apply")


def build_option(name):
    """A meson option of BUILD as configured (b_sanitize, optimization...)."""
    with open(os.path.join(BUILD, "meson-info", "intro-buildoptions.json")) as f:
        for opt in json.load(f):
            if opt["name"] == name:
                return opt["value"]
    raise KeyError(name)


def sanitized():
    """Whether BUILD is an AddressSanitizer build."""
    try:
        return "address" in str(build_option("b_sanitize"))
    except (OSError, KeyError):
        return False
