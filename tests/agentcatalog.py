# SPDX-License-Identifier: MIT
"""images/agents.catalog and images/node-runtime.pin as the tests read them
(the same fields host/agents/gen-agents.c and images/build.sh read)."""
import os
from collections import namedtuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOG = os.path.join(ROOT, "images", "agents.catalog")
RUNTIME_PIN = os.path.join(ROOT, "images", "node-runtime.pin")

Agent = namedtuple("Agent", "name package version node command service state keys")


def catalog():
    """Every agent line, in order."""
    agents = []
    with open(CATALOG) as f:
        for line in f:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split()
            assert len(fields) == 8, line
            name, package, version, node, command, service, state, keys = fields
            agents.append(Agent(name, package, version, None if node == "-" else node, command, service, state,
                                [] if keys == "-" else keys.split(",")))
    return agents


def runtime_pin():
    """{"package": ..., "version": ..., "integrity": ...}"""
    pin = {}
    with open(RUNTIME_PIN) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                key, value = line.split()
                pin[key] = value
    return pin


def agent_policy(agent):
    """The policy images/build.sh bakes into the agent's image."""
    return (f"# {agent.name} (images/agents.catalog): GitHub plus the {agent.service} service.\n"
            f"services:\n  - github\n  - {agent.service}\n")
