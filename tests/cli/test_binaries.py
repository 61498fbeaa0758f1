# SPDX-License-Identifier: MIT
import subprocess

from buildpaths import AGENTBOX


def test_init_version(init_binary):
    out = subprocess.run([init_binary, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("agent-sandbox-init ")


def test_agentbox_version():
    out = subprocess.run([AGENTBOX, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("agentbox ")
