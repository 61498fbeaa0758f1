# SPDX-License-Identifier: MIT
"""Ports a catalog service adds reach only that service's destinations
(docs/policy.md, "The service catalog"): with github, port 22 opens to the
addresses GitHub's names resolve to and to the GitHub meta ranges, not to
every allowed host; ports: of the policy keeps applying to everything. The
real init in a fake internet: github.com is a name of the fake DNS, and the
meta ranges come from a snapshot (the live URL names a host that does not
resolve), so nothing real is contacted."""
import json
import os
import re
import subprocess
import sys

import pytest

from fakenet import HERE, RunningInit, elements
from test_meta import META_ADDR, pki  # noqa: F401 (a fixture)

# github.com is one of the github service's names; other.test is the
# policy's own. 203.0.113.5 stands for a GitHub meta range.
HOSTS = {"github.com": ["198.51.100.10", "2001:db8:2::10"], "other.test": ["198.51.100.20", "2001:db8:2::20"]}
META_URL = "https://meta-unresolvable.test/meta"


NET_TTL = 1
NET_LISTENERS = ["--tcp", "22"]


def policy_text(extra=""):
    return ("services: [github]\ndomains: [other.test]\n"
            f"github: {{meta_url: \"{META_URL}\"}}\ndns: {{min_ttl: 1}}\n" + extra)


def snapshot(net):
    path = net.tmp / "snapshot.json"
    path.write_text(json.dumps({"web": ["203.0.113.5/32"], "api": [], "git": []}))
    return path


def apply(net, text):
    policy = net.write_policy(text)
    return net.init("apply", "--policy", str(policy), "--policy-dir", str(net.tmp / "none"),
                    "--meta-snapshot", str(snapshot(net)), timeout=60)


def results(probes):
    return {spec: p["result"] for spec, p in probes.items()}


GITHUB_22 = ["tcp:198.51.100.10:22", "tcp:2001:db8:2::10:22", "tcp:203.0.113.5:22"]
OTHER_22 = ["tcp:198.51.100.20:22", "tcp:2001:db8:2::20:22"]
BOTH_443 = ["tcp:198.51.100.10:443", "tcp:2001:db8:2::10:443", "tcp:203.0.113.5:443",
            "tcp:198.51.100.20:443", "tcp:2001:db8:2::20:443"]


def test_github_port_22_reaches_github_only(net):
    r = apply(net, policy_text())
    assert r.returncode == 0, r.stderr
    assert "using the snapshot" in r.stderr, r.stderr
    probes = net.probe(*GITHUB_22, *OTHER_22, *BOTH_443)
    for spec in GITHUB_22 + BOTH_443:
        assert probes[spec]["result"] == "ok", (spec, probes[spec])
    for spec in OTHER_22:
        # A listener is there: only the firewall refuses, with a reset.
        assert probes[spec]["result"] == "refused", (spec, probes[spec])
        assert probes[spec]["ms"] < 100, (spec, probes[spec])
    assert not [l for l in net.server_log() if l.startswith("tcp 22 198.51.100.20")
                or l.startswith("tcp 22 2001:db8:2::20")]
    # The summary says the port is narrower than the others.
    ready = [l for l in r.stderr.splitlines() if "sandbox ready" in l]
    assert ready and re.search(r", 2 TCP ports; port 22 only to github's own \d+ addresses and ranges$",
                               ready[0]), ready
    assert sorted(elements(net, "allowed_tcp_ports")) == ["443", "80"]
    assert elements(net, "svc_github_tcp_ports") == ["22"]
    assert elements(net, "svc_github_v4") == ["198.51.100.10", "203.0.113.5"]
    assert elements(net, "svc_github_v6") == ["2001:db8:2::10"]


def test_ports_of_the_policy_still_open_everywhere(net):
    r = apply(net, policy_text("ports: [22, 443]\n"))
    assert r.returncode == 0, r.stderr
    assert results(net.probe(*GITHUB_22, *OTHER_22, *BOTH_443)) == {s: "ok" for s in GITHUB_22 + OTHER_22 + BOTH_443}
    assert "only to github" not in r.stderr, "22 is the policy's here, not github's alone"


def test_refresh_moves_the_service_port_with_the_address(net, pki):
    # As PID 1 the init has no snapshot option: the meta server of
    # test_meta answers instead, inside the fake internet.
    hosts = dict(HOSTS, **{"meta.test": [META_ADDR]})
    net.reload_dns(hosts)
    net.ip(net.net, "addr", "add", META_ADDR + "/32", "dev", "lo")
    srv = net.popen(net.net, [sys.executable, os.path.join(HERE, "metaserver.py"), "--listen", META_ADDR,
                              "--cert", str(pki / "server.pem"), "--key", str(pki / "server.key")],
                    stdout=subprocess.PIPE, text=True)
    assert srv.stdout.readline().strip() == "ready"
    policy = net.write_policy(policy_text().replace(
        f"{{meta_url: \"{META_URL}\"}}",
        f"{{meta_url: \"https://meta.test:8443/meta\", ca_file: \"{pki / 'ca.pem'}\"}}"))
    init = RunningInit(net, policy)
    try:
        init.wait_for("sandbox ready")
        after = len(init.lines)
        # github.com moves to other.test's address: port 22 follows it there.
        net.reload_dns(dict(hosts, **{"github.com": ["198.51.100.20"]}))
        init.wait_for("allowed sets updated", timeout=10, after=after)
        v4 = elements(net, "svc_github_v4")
        assert "198.51.100.20" in v4 and "198.51.100.10" not in v4 and "198.51.100.64/26" in v4, v4
        assert results(net.probe("tcp:198.51.100.20:22", "tcp:198.51.100.10:22")) == {
            "tcp:198.51.100.20:22": "ok", "tcp:198.51.100.10:22": "refused"}
        line = [l for l in init.lines[after:] if "allowed sets updated" in l][0]
        assert "2 service sets" in line, line

        # A change of a name that is not github's leaves github's sets alone.
        after = len(init.lines)
        net.reload_dns(dict(hosts, **{"github.com": ["198.51.100.20"], "other.test": ["198.51.100.10"]}))
        init.wait_for("allowed sets updated", timeout=10, after=after)
        line = [l for l in init.lines[after:] if "allowed sets updated" in l][0]
        # BEGIN, two flushes, the elements of allowed_v4 and of allowed_v6, END.
        assert "0 service sets, 6 netlink messages" in line, line
    finally:
        init.stop()
