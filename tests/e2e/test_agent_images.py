# SPDX-License-Identifier: MIT
"""Agent images build from the npm registry with images/build.sh and their
CLI runs: `<command> --version` prints the catalog's pinned version, on the
pinned Node.js, whose declared engine the installed package agrees with. The CA npm
trusted during the build, npm and its cache stay out of the final image.

The images are built once for the module. The CLIs run with --network none
and without the init (which would resolve the agent's real public domains)."""
import os
import re
import subprocess

import pytest

from agentcatalog import agent_policy, catalog, runtime_pin
from dockerenv import ROOT, TEST_TAG, docker

pytestmark = [pytest.mark.needs_images, pytest.mark.agent_images]

# Building every agent image takes long (docs/testing.md has the times):
# the default run builds a representative few, AGENT_SANDBOX_ALL_AGENTS=1
# builds every agent of the catalog. The few: claude (a native binary
# chosen by npm's optional dependencies, Node 22 declared), codex (a native
# binary behind a JS launcher), gemini (a plain JS bundle, node >=20).
DEFAULT_AGENTS = ("claude", "codex", "gemini")
ALL_AGENTS = os.environ.get("AGENT_SANDBOX_ALL_AGENTS") == "1"
CATALOG = {a.name: a for a in catalog()}
AGENTS = tuple(CATALOG) if ALL_AGENTS else DEFAULT_AGENTS
TAG = os.environ.get("AGENT_IMAGES_TAG") or TEST_TAG
BASE_IMAGE = f"agent-sandbox-base:{TAG}"
# A certificate whose private key was thrown away when it was made: given to
# the build as an extra CA on every machine, so the leak check below always
# has something to look for.
TEST_CA = os.path.join(ROOT, "tests", "e2e", "test-build-ca.pem")
LOCAL_CA_DIR = "/usr/local/share/ca-certificates"


def image(agent):
    return f"agent-sandbox-{agent}:{TAG}"


@pytest.fixture(scope="module")
def agent_images():
    if os.geteuid() != 0:
        pytest.skip("needs root to run the Docker engine")
    # GITHUB_META_URL empty: build.sh would fetch GitHub's meta document,
    # and tests never reach a real host (only npm, inside the build).
    env = dict(os.environ, TAG=TAG, BUILD_CA_FILE=TEST_CA, GITHUB_META_URL="")
    r = subprocess.run([os.path.join(ROOT, "images", "build.sh"), *AGENTS], env=env,
                       capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stdout + r.stderr
    for agent in AGENTS:
        assert re.search(rf"^{re.escape(image(agent))}\s+\S+", r.stdout, re.M), r.stdout
    return r.stdout


def run_in(img, *cmd, user=None, entrypoint="bash", stdin=None, timeout=120):
    args = ["run", "--rm", "-i", "--pull", "never", "--network", "none", "--entrypoint", entrypoint]
    if user is not None:
        args += ["-u", user]
    return docker(*args, img, *cmd, check=False, input=stdin, timeout=timeout)


@pytest.mark.parametrize("agent", AGENTS)
def test_agent_cli_runs_and_is_the_pinned_version(agent_images, agent):
    a = CATALOG[agent]
    package, version = a.package, a.version
    r = run_in(image(agent), "--version", entrypoint=a.command)
    assert r.returncode == 0, f"{agent} --version: rc={r.returncode}\n{r.stdout}{r.stderr}"
    assert re.search(rf"(?<![\w.]){re.escape(version)}(?![\w.])", r.stdout), \
        f"{package}: expected {version} in: {r.stdout!r}"


@pytest.mark.parametrize("agent", AGENTS)
def test_agent_image_is_locked_down(agent_images, agent):
    state = CATALOG[agent].state
    parts = state.split("/")
    dirs = " ".join("/home/dev/" + "/".join(parts[:i + 1]) for i in range(len(parts)))
    r = run_in(image(agent), "-c",
               "id -un; node --version; command -v sudo || echo no-sudo; command -v npm || echo no-npm;"
               f"stat -c '%U:%G %n' {dirs}; getcap /usr/sbin/agent-sandbox-init;"
               "echo writable:$(find /usr/local/lib/node_modules /usr/local/bin -writable -print -quit)")
    lines = r.stdout.splitlines()
    assert r.returncode == 0, r.stdout + r.stderr
    assert lines[0] == "dev"
    assert lines[1] == "v" + runtime_pin()["version"], lines[1]
    assert lines[2] == "no-sudo" and lines[3] == "no-npm", r.stdout
    owners = lines[4:4 + len(parts)]
    assert owners == [f"dev:dev {d}" for d in dirs.split()], r.stdout
    assert re.search(r"cap_(setpcap,cap_net_admin|net_admin,cap_setpcap)=p", r.stdout), r.stdout
    assert lines[-1] == "writable:", "dev can change the installed CLI: " + lines[-1]

    config = docker("image", "inspect", "-f", "{{json .Config.Entrypoint}} {{json .Config.Env}} {{.Config.User}}",
                    image(agent)).stdout
    label = docker("image", "inspect", "-f", '{{index .Config.Labels "org.agent-sandbox.agent-version"}}',
                   image(agent)).stdout.strip()
    assert label == CATALOG[agent].version, "agentbox agents tells a stale image by this label"
    assert '["/usr/sbin/agent-sandbox-init"]' in config and config.strip().endswith(" dev"), config
    assert "NODE_EXTRA_CA_CERTS" not in config and "npm_config" not in config.lower(), config

    policy = run_in(image(agent), "/etc/agent-sandbox/policy.yaml", entrypoint="cat").stdout
    assert policy == agent_policy(CATALOG[agent])


def ca_fingerprint_lines():
    """One line of base64 from each CA the build was given that is ours or
    this machine's own addition: the last full line, inside the signature."""
    files = [TEST_CA]
    if os.path.isdir(LOCAL_CA_DIR):
        files += [os.path.join(d, n) for d, _, names in os.walk(LOCAL_CA_DIR) for n in names if n.endswith(".crt")]
    lines = []
    for path in files:
        with open(path) as f:
            for pem in re.findall(r"-----BEGIN CERTIFICATE-----\n(.*?)-----END CERTIFICATE-----", f.read(), re.S):
                lines.append([ln for ln in pem.split("\n") if len(ln) == 64][-1])
    return lines


def files_containing(img, patterns):
    """Every file of the image (as root, its own filesystem only) that holds
    one of the patterns."""
    r = run_in(img, "-c", "cat >/tmp/.patterns; find / -xdev -type f ! -path /tmp/.patterns -print0"
                          " | xargs -0 grep -lF -f /tmp/.patterns; true",
               user="0", stdin="\n".join(patterns) + "\n", timeout=600)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def test_no_build_ca_npm_or_npm_cache_in_agent_images(agent_images):
    patterns = ca_fingerprint_lines()
    assert len(patterns) >= 1
    in_base = files_containing(BASE_IMAGE, patterns)   # a public root also added locally is fine
    for agent in AGENTS:
        leaked = files_containing(image(agent), patterns) - in_base
        assert not leaked, f"{image(agent)}: the build's CA is in {sorted(leaked)}"
        r = run_in(image(agent), "-c", "find / -xdev \\( -name _cacache -o -name build-ca.pem -o -name .npm"
                                       " -o -name npm-cache -o -name .npmrc \\) -print", user="0")
        assert r.returncode == 0 and r.stdout == "", f"{image(agent)}: npm leftovers: {r.stdout}{r.stderr}"
