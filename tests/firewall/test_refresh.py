# SPDX-License-Identifier: MIT
"""The firewall over time, with agent-sandbox-init as PID 1 of the sandbox
namespace: answers that change are followed after their TTL without cutting
established connections; SIGHUP reloads the policy, and a broken one keeps
the rules in place."""
import os
import signal
import subprocess
import time

import pytest

from fakenet import RunningInit, elements

HOSTS = {"allowed.test": ["198.51.100.10"], "other.test": ["198.51.100.20"]}
NET_TTL = 1
# The echo probes on 443 speak neither TLS nor HTTP, which name checking
# refuses (test_namecheck.py): off here, where the subject is something else.
POLICY = "domains: [allowed.test]\nname_check: {enabled: false}\n"
POLICY_TTL1 = POLICY + "dns: {min_ttl: 1}\n"


def test_changed_answer_is_followed_and_old_connection_survives(net):
    policy = net.write_policy(POLICY_TTL1)
    init = RunningInit(net, policy)
    try:
        init.wait_for("sandbox ready")
        held = net.client("hold", "198.51.100.10", "443", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True)
        assert held.stdout.readline().strip() == "connected"

        net.reload_dns({"allowed.test": ["198.51.100.20"]})
        init.wait_for("allowed sets updated", timeout=10)
        assert elements(net, "allowed_v4") == ["198.51.100.20"]
        probes = net.probe("tcp:198.51.100.20:443", "tcp:198.51.100.10:443")
        assert probes["tcp:198.51.100.20:443"]["result"] == "ok", probes
        assert probes["tcp:198.51.100.10:443"]["result"] in ("refused", "reset"), probes

        held.stdin.write("still-there\n")
        held.stdin.flush()
        assert held.stdout.readline().strip() == "still-there", "the established connection was cut"
        held.stdin.close()
        held.wait(timeout=5)
    finally:
        init.stop()


def test_a_reload_that_cannot_be_built_keeps_the_rules_and_their_refresh(net):
    """A policy that parses but whose rules cannot be built: its
    selfcheck.blocked host resolves to an address the policy allows, which
    only the answers reveal. Nothing may change: the old rules stay, no
    "blocked" fallback, and they keep following DNS; a good reload then
    works."""
    policy = net.write_policy(POLICY_TTL1)
    init = RunningInit(net, policy)
    try:
        init.wait_for("sandbox ready")
        pid = init.init_pid()
        assert elements(net, "allowed_v4") == ["198.51.100.10"]

        policy.write_text("domains: [allowed.test, other.test]\nselfcheck: {blocked: other.test}\n"
                          "dns: {min_ttl: 1}\n")
        mark = len(init.lines)
        os.kill(pid, signal.SIGHUP)
        init.wait_for("reload rejected", after=mark)
        assert any("selfcheck.blocked other.test resolves to 198.51.100.20" in l for l in init.lines[mark:])
        assert not any("sandbox ready" in l or "now blocked" in l for l in init.lines[mark:]), \
            "\n".join(init.lines[mark:])
        assert elements(net, "allowed_v4") == ["198.51.100.10"]
        probes = net.probe("tcp:198.51.100.10:443", "tcp:198.51.100.20:443")
        assert probes["tcp:198.51.100.10:443"]["result"] == "ok", probes
        assert probes["tcp:198.51.100.20:443"]["result"] in ("refused", "reset"), probes

        # The rules in place still follow their names.
        net.reload_dns({"allowed.test": ["198.51.100.20"], "other.test": ["198.51.100.20"]})
        init.wait_for("allowed sets updated", after=mark, timeout=10)
        assert elements(net, "allowed_v4") == ["198.51.100.20"]
        probes = net.probe("tcp:198.51.100.20:443", "tcp:198.51.100.10:443")
        assert probes["tcp:198.51.100.20:443"]["result"] == "ok", probes
        assert probes["tcp:198.51.100.10:443"]["result"] in ("refused", "reset"), probes

        net.reload_dns(HOSTS)
        policy.write_text("domains: [other.test]\ndns: {min_ttl: 1}\n")
        mark = len(init.lines)
        os.kill(pid, signal.SIGHUP)
        init.wait_for("sandbox ready", after=mark)
        assert elements(net, "allowed_v4") == ["198.51.100.20"]
        assert init.proc.poll() is None
    finally:
        init.stop()


def test_sighup_reloads_and_a_broken_policy_keeps_the_rules(net):
    policy = net.write_policy(POLICY)
    init = RunningInit(net, policy)
    try:
        init.wait_for("sandbox ready")
        pid = init.init_pid()
        before = elements(net, "allowed_v4")
        assert before == ["198.51.100.10"]

        policy.write_text("domains: [allowed.test\nports: 443\n")
        mark = len(init.lines)
        os.kill(pid, signal.SIGHUP)
        init.wait_for("reload rejected", after=mark)
        assert elements(net, "allowed_v4") == before
        assert net.probe("tcp:198.51.100.10:443")["tcp:198.51.100.10:443"]["result"] == "ok"

        policy.write_text("domains: [allowed.test, other.test]\nname_check: {enabled: false}\n")
        mark = len(init.lines)
        os.kill(pid, signal.SIGHUP)
        init.wait_for("sandbox ready", after=mark)
        assert elements(net, "allowed_v4") == ["198.51.100.10", "198.51.100.20"]
        assert net.probe("tcp:198.51.100.20:443")["tcp:198.51.100.20:443"]["result"] == "ok"

        policy.write_text("domains: [other.test]\nname_check: {enabled: false}\n")
        mark = len(init.lines)
        os.kill(pid, signal.SIGHUP)
        init.wait_for("sandbox ready", after=mark)
        assert elements(net, "allowed_v4") == ["198.51.100.20"]
        assert net.probe("tcp:198.51.100.10:443")["tcp:198.51.100.10:443"]["result"] in ("refused", "reset")
        assert init.proc.poll() is None
    finally:
        init.stop()
