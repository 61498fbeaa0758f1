# SPDX-License-Identifier: MIT
"""Agent images build from the npm registry with images/build.sh and their
CLI runs: `<command> --version` prints the catalog's pinned version, on the
pinned Node.js, whose declared engine the installed package agrees with. The CA npm
trusted during the build, npm and its cache stay out of the final image.

The images are built once for the module. The CLIs run with --network none
and without the init (which would resolve the agent's real public domains)."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from agentcatalog import agent_policy, catalog, runtime_pin
from buildpaths import AGENTBOX
from dockerenv import ROOT, TEST_TAG, docker

pytestmark = [pytest.mark.needs_images, pytest.mark.agent_images]

# Building every agent image takes long (docs/testing.md has the times):
# the default run builds a representative few, AGENT_SANDBOX_ALL_AGENTS=1
# builds every agent of the catalog. The few: claude (a Bun-built native
# binary chosen by npm's optional dependencies, node >=22 declared), codex (a
# Rust binary behind a JavaScript launcher), qwen (a Node.js bundle, node
# >=22 declared).
# AGENT_SANDBOX_AGENTS=pi,cline (with ALL_AGENTS) narrows that to the agents
# named, to work on a few without building the whole catalog.
DEFAULT_AGENTS = ("claude", "codex", "qwen")
ALL_AGENTS = os.environ.get("AGENT_SANDBOX_ALL_AGENTS") == "1"
CATALOG = {a.name: a for a in catalog()}
ONLY = [n for n in os.environ.get("AGENT_SANDBOX_AGENTS", "").split(",") if n]
assert all(n in CATALOG for n in ONLY), f"AGENT_SANDBOX_AGENTS names an agent not in the catalog: {ONLY}"
AGENTS = (tuple(n for n in CATALOG if n in ONLY) if ONLY else tuple(CATALOG)) if ALL_AGENTS else DEFAULT_AGENTS
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
def agent_images(dockerenv):
    """dockerenv first: it starts the engine when none runs (a fresh CI
    machine has none) and makes the Debian base images build.sh starts from."""
    # GITHUB_META_URL empty: build.sh would fetch GitHub's meta document,
    # and tests never reach a real host (only npm, inside the build).
    env = dict(os.environ, TAG=TAG, BUILD_CA_FILE=TEST_CA, GITHUB_META_URL="")
    r = subprocess.run([os.path.join(ROOT, "images", "build.sh"), *AGENTS], env=env,
                       capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stdout + r.stderr
    for agent in AGENTS:
        assert re.search(rf"^{re.escape(image(agent))}\s+\S+", r.stdout, re.M), r.stdout
    return r.stdout


def prints_version(text, version):
    """The version as a word: "1.0.102" in "CLI 1.0.102." but not in
    "1.0.1020" or "11.0.102". Some CLIs print it on stderr (pi)."""
    return re.search(rf"(?<![\w.]){re.escape(version)}(?!\w|\.\d)", text) is not None


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
    assert prints_version(r.stdout + r.stderr, version), f"{package}: expected {version} in: {r.stdout!r} {r.stderr!r}"


@pytest.mark.parametrize("agent", AGENTS)
def test_installed_engine_is_the_catalogs_and_the_runtime_satisfies_it(agent_images, agent):
    """The catalog records the engine with the pin (checked against the
    runtime pin without an image, tests/policy/test_agent_catalog.py); here
    the installed package says the same, and the image's node is the pin."""
    a = CATALOG[agent]
    r = run_in(image(agent), "-e", f"const p = require('/usr/local/lib/node_modules/{a.package}/package.json');"
               "console.log(JSON.stringify({version: p.version, node: (p.engines || {}).node || null,"
               " runtime: process.versions.node}))", entrypoint="node")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got == {"version": a.version, "node": a.node, "runtime": runtime_pin()["version"]}, got


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


# --- The agents inside the sandbox: agentbox run, the init, its firewall and
# resolver, on the fake internet of dockerenv. Each agent image gets a test
# layer: the policy allows only far.test:443 (so the init resolves no real
# name), and a test CA is trusted (system store, and NODE_EXTRA_CA_CERTS
# for Node.js clients, which keep their own roots).

ANSWER = "stub-answer-7f3a9c"
TEST_CA_PATH = "/usr/local/share/ca-certificates/agent-sandbox-test-ca.crt"
TEST_POLICY = "domains: [far.test]\nports: [443]\n"

# Agents whose client documents an API base-URL override: how to send one
# prompt non-interactively to the stub. The default run prompts claude
# (Anthropic Messages), codex (OpenAI Responses) and qwen (OpenAI Chat
# Completions): three APIs, and clients that take the test CA from
# NODE_EXTRA_CA_CERTS (Bun, Node.js) and from the system store (Rust), each
# a few seconds. The others run with AGENT_SANDBOX_ALL_AGENTS=1: their
# images are not built by default, and gemini takes about 90 s (its model
# router retries first). amp and auggie have none: their clients speak only
# to their vendor's own service (docs/images.md).
STUB_OPENCODE_CONFIG = json.dumps({"provider": {"anthropic": {"options": {"baseURL": "https://far.test/v1"}}},
                                   "model": "anthropic/claude-sonnet-4-5"})
PROMPTS = {
    "claude": (["claude", "-p", "Say hello."],
               {"ANTHROPIC_BASE_URL": "https://far.test", "ANTHROPIC_API_KEY": "sk-ant-test",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}),
    # GOOGLE_GEMINI_BASE_URL alone selects the "gateway" sign-in, which
    # the non-interactive mode refuses; the system settings pick the API key.
    "gemini": (["gemini", "--skip-trust", "-p", "Say hello."],
               {"GOOGLE_GEMINI_BASE_URL": "https://far.test", "GEMINI_API_KEY": "test-key"}),
    # Codex takes its base URL from a model provider of its configuration
    # (-c), over the Responses API without WebSockets.
    "codex": (["codex", "exec", "--skip-git-repo-check", "-c", 'model_provider="stub"',
               "-c", 'model_providers.stub={name="stub", base_url="https://far.test/v1", env_key="OPENAI_API_KEY",'
               ' wire_api="responses", supports_websockets=false}', "Say hello."],
              {"OPENAI_API_KEY": "sk-test"}),
    "qwen": (["qwen", "-p", "Say hello.", "--auth-type", "openai"],
             {"OPENAI_BASE_URL": "https://far.test/v1", "OPENAI_API_KEY": "sk-test", "OPENAI_MODEL": "stub"}),
    # OpenCode and Kilo (its fork) take configuration as JSON in a variable:
    # the built-in anthropic provider's baseURL. Without the models.dev
    # fetch they use the model list built into the binary.
    "opencode": (["opencode", "run", "Say hello."],
                 {"OPENCODE_CONFIG_CONTENT": STUB_OPENCODE_CONFIG, "OPENCODE_DISABLE_MODELS_FETCH": "1",
                  "ANTHROPIC_API_KEY": "sk-ant-test"}),
    "kilo": (["kilo", "run", "Say hello."],
             {"KILO_CONFIG_CONTENT": STUB_OPENCODE_CONFIG, "KILO_DISABLE_MODELS_FETCH": "1",
              "ANTHROPIC_API_KEY": "sk-ant-test"}),
    # Copilot's "bring your own key" provider: OpenAI Chat Completions, no
    # GitHub sign-in; offline mode turns off its GitHub services.
    "copilot": (["copilot", "-p", "Say hello."],
                {"COPILOT_PROVIDER_BASE_URL": "https://far.test/v1", "COPILOT_PROVIDER_API_KEY": "sk-test",
                 "COPILOT_MODEL": "stub", "COPILOT_OFFLINE": "true"}),
    # Pi reads custom providers from models.json in its agent directory;
    # the test's is read-only, so the session is not saved.
    "pi": (["pi", "--no-session", "-p", "--model", "stub/stub", "Say hello."],
           {"PI_CODING_AGENT_DIR": "/etc/agent-sandbox-test/pi", "PI_OFFLINE": "1", "OPENAI_API_KEY": "sk-test"}),
    # Cline keeps a provider configured by `cline auth` (its documented
    # non-interactive set-up) in its state directory, then runs one turn.
    "cline": (["bash", "-c", 'cline auth -p openai-compatible -k "$OPENAI_API_KEY" -m stub -b https://far.test/v1'
               ' >/dev/null && exec cline "Say hello."'],
              {"OPENAI_API_KEY": "sk-test"}),
    # Continue's headless mode with a local configuration whose model is an
    # OpenAI-compatible endpoint; the key is a secret it finds in the
    # environment.
    "continue": (["cn", "-p", "--config", "/etc/agent-sandbox-test/continue.yaml", "Say hello."],
                 {"OPENAI_API_KEY": "sk-test"}),
}
DEFAULT_PROMPTS = ("claude", "codex", "qwen")
# Files the test layer adds for an agent's client to take the stub.
PROMPT_FILES = {
    "gemini": {"/etc/gemini-cli/settings.json": '{"security": {"auth": {"selectedType": "gemini-api-key"}}}\n'},
    "pi": {"/etc/agent-sandbox-test/pi/models.json": json.dumps({"providers": {"stub": {
        "baseUrl": "https://far.test/v1", "api": "openai-completions", "apiKey": "OPENAI_API_KEY",
        "models": [{"id": "stub"}]}}}) + "\n"},
    "continue": {"/etc/agent-sandbox-test/continue.yaml":
                 "name: stub\nversion: 1.0.0\nschema: v1\nmodels:\n  - name: stub\n    provider: openai\n"
                 "    model: stub\n    apiBase: https://far.test/v1\n    apiKey: ${{ secrets.OPENAI_API_KEY }}\n"
                 "    roles: [chat]\n"},
}
PROMPT_AGENTS = tuple(a for a in PROMPTS if a in AGENTS and (ALL_AGENTS or a in DEFAULT_PROMPTS))


@pytest.fixture(scope="module")
def stub_api(dockerenv, tmp_path_factory):
    """HTTPS on far.test:443 (dockerenv's host outside the sandbox's
    subnet), with a certificate from a CA made here."""
    d = tmp_path_factory.mktemp("stubapi")
    ssl = lambda *a: subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True, timeout=60)
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=agent-sandbox test CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=far.test", "-keyout", "far.key", "-out", "far.csr")
    (d / "ext").write_text("subjectAltName=DNS:far.test\nbasicConstraints=CA:FALSE\n"
                           "extendedKeyUsage=serverAuth\n")
    ssl("x509", "-req", "-in", "far.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
        "-extfile", "ext", "-out", "far.crt")
    log = d / "requests.log"
    log.write_text("")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "e2e", "stubapi.py"),
                             "--bind", dockerenv.far_ip, "--port", "443", "--cert", str(d / "far.crt"),
                             "--key", str(d / "far.key"), "--answer", ANSWER, "--log", str(log)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield {"ca": d / "ca.crt", "log": log}
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def sandbox_images(agent_images, stub_api, tmp_path_factory):
    """agent -> the agent's image with the test policy and the test CA."""
    ctx = tmp_path_factory.mktemp("agent-test-layer")
    (ctx / "policy.yaml").write_text(TEST_POLICY)
    shutil.copy(stub_api["ca"], ctx / "ca.crt")
    built = {}
    try:
        for agent in AGENTS:
            extra = ""
            for i, (path, content) in enumerate(PROMPT_FILES.get(agent, {}).items()):
                (ctx / f"extra-{i}").write_text(content)
                extra += f"COPY extra-{i} {path}\nRUN chmod 0755 {os.path.dirname(path)} && chmod 0644 {path}\n"
            (ctx / "Dockerfile").write_text(
                f"FROM {image(agent)}\nUSER root\nCOPY ca.crt {TEST_CA_PATH}\nCOPY policy.yaml /etc/agent-sandbox/policy.yaml\n"
                "RUN chmod 0644 /etc/agent-sandbox/policy.yaml " + TEST_CA_PATH + " && update-ca-certificates >/dev/null\n"
                + extra + "USER dev\n")
            tag = f"agent-sandbox-{agent}-e2e:{TAG}"
            docker("build", "-q", "-t", tag, str(ctx), timeout=600)
            built[agent] = tag
        yield built
    finally:
        for tag in built.values():
            docker("rmi", "-f", tag, check=False)


def agentbox_run(dockerenv, tmp_path, agent, img, *args, env=None, timeout=300):
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    os.chmod(project, 0o777)
    e = dict(os.environ, HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
             AGENTBOX_ENGINE="/usr/bin/docker", AGENTBOX_READY_TIMEOUT="60", **(env or {}))
    return subprocess.run([AGENTBOX, "run", agent, "--image", img, "--network", dockerenv.network,
                           "--dns", dockerenv.dns_ip, *args], cwd=project, env=e, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("agent", AGENTS)
def test_agentbox_runs_the_agent_in_the_sandbox(dockerenv, sandbox_images, tmp_path, agent):
    a = CATALOG[agent]
    r = agentbox_run(dockerenv, tmp_path, agent, sandbox_images[agent], "--", a.command, "--version")
    assert r.returncode == 0, f"rc={r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "sandbox ready" in r.stderr, r.stderr
    assert prints_version(r.stdout + r.stderr, a.version), r.stdout + r.stderr


@pytest.mark.parametrize("agent", PROMPT_AGENTS)
def test_agent_answers_a_prompt_through_the_sandbox(dockerenv, sandbox_images, stub_api, tmp_path, agent):
    """The real client, in the sandbox, resolves far.test through the
    sandbox's resolver, passes the firewall, trusts the test CA and prints
    the stub's canned answer. Its key variables pass because the catalog
    names them, the others (base URL, settings) with -e; the stub sees the
    test's key, so the key reached the client through the sandbox."""
    cmd, env = PROMPTS[agent]
    keys = set(CATALOG[agent].keys)
    extra = [x for name in env if name not in keys for x in ("-e", name)]
    before = len(stub_api["log"].read_text().splitlines())
    r = agentbox_run(dockerenv, tmp_path, agent, sandbox_images[agent], "-e", "NODE_EXTRA_CA_CERTS", *extra,
                     "--", *cmd, env=dict(env, NODE_EXTRA_CA_CERTS=TEST_CA_PATH), timeout=300)
    requests = [json.loads(line) for line in stub_api["log"].read_text().splitlines()[before:]]
    assert ANSWER in r.stdout, f"rc={r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr[-3000:]}\nrequests: {requests}"
    assert any(q["method"] == "POST" for q in requests), requests
    test_keys = {v for k, v in env.items() if k.endswith(("_KEY", "_TOKEN"))}
    assert any(q["method"] == "POST" and q.get("key") in test_keys for q in requests), (test_keys, requests)
