# SPDX-License-Identifier: MIT
"""The whole firewall of agent-sandbox-init, end to end in a fake internet:
policy → concurrent resolution (dnsmasq / a delaying responder) → nftables →
self-checks, run by the real binary inside a network namespace."""
import json
import re
import subprocess
import time

import pytest

from fakenet import INIT, elements  # noqa: F401 (elements: for the other modules)

HOSTS = {
    "allowed.test": ["198.51.100.10", "2001:db8:2::10"],
    "other.test": ["198.51.100.20", "2001:db8:2::20"],
    "evil-loopback.test": ["127.0.0.1"],
    "evil-metadata.test": ["169.254.169.254"],
    "evil-gateway.test": ["192.0.2.1"],
}

# An A query for allowed.test to another DNS server (OTHER_DNS), which
# answers it when nothing is in the way.
OTHER_DNS = "203.0.113.5"
DIG_OTHER = f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.connect(("{OTHER_DNS}", 53))
query = bytes.fromhex("5a5a01000001000000000000") + b"\\x07allowed\\x04test\\x00" + bytes.fromhex("00010001")
try:
    s.send(query)
    answer = s.recv(512)
    print("answered", answer[:2].hex(), len(answer))
except OSError as e:
    print("blocked", e)
"""

BASE_POLICY = """
domains: [allowed.test]
ports: [443, 8080]
selfcheck: {allowed: "allowed.test:443"}
"""


def apply(net, policy_text, *extra):
    policy = net.write_policy(policy_text)
    return net.init("apply", "--policy", str(policy), "--policy-dir", str(net.tmp / "none"), *extra)


def test_apply_allows_exactly_the_policy(net):
    r = apply(net, BASE_POLICY)
    assert r.returncode == 0, r.stderr
    assert "self-check passed" in r.stderr
    assert "sandbox ready" in r.stderr
    probes = net.probe("tcp:198.51.100.10:443", "tcp:2001:db8:2::10:443",
                       "tcp:198.51.100.20:443", "tcp:2001:db8:2::20:443", "tcp:203.0.113.5:443",
                       "tcp:198.51.100.10:9")
    assert probes["tcp:198.51.100.10:443"]["result"] == "ok", probes
    assert probes["tcp:2001:db8:2::10:443"]["result"] == "ok", probes
    for spec in ("tcp:198.51.100.20:443", "tcp:2001:db8:2::20:443", "tcp:203.0.113.5:443",
                 "tcp:198.51.100.10:9"):
        assert probes[spec]["result"] in ("refused", "reset"), probes[spec]
        assert probes[spec]["ms"] < 100, probes[spec]


def test_installed_ruleset_matches_policy(net):
    r = apply(net, BASE_POLICY + "cidrs: [203.0.113.0/25]\n")
    assert r.returncode == 0, r.stderr
    assert elements(net, "allowed_v4") == ["198.51.100.10", "203.0.113.0/25"]
    assert elements(net, "allowed_v6") == ["2001:db8:2::10"]
    assert elements(net, "allowed_tcp_ports") == ["443", "8080"]
    assert elements(net, "dns_v4") == ["192.0.2.1"]
    tables = [o["table"] for o in net.ruleset() if "table" in o]
    assert [t["name"] for t in tables] == ["agent_sandbox"]


def test_dns_only_to_the_configured_resolver(net):
    # A second DNS server, which answers before the rules are in: without
    # it, "blocked" would only mean that nothing listens there.
    net.popen(net.net, [
        "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
        "--bind-interfaces", f"--listen-address={OTHER_DNS}", "--port=53", f"--addn-hosts={net.hosts_file}",
        "--user=root", f"--pid-file={net.tmp / 'other-dns.pid'}"])
    deadline = time.monotonic() + 5
    while True:
        out = net.run(net.sbx, ["python3", "-c", DIG_OTHER], check=False)
        if out.stdout.startswith("answered 5a5a"):
            break
        assert time.monotonic() < deadline, "the other DNS server never answered: " + out.stdout + out.stderr
    assert apply(net, BASE_POLICY).returncode == 0
    probes = net.probe("udp:198.51.100.10:9999", "udp:203.0.113.5:9999", "tcp:198.51.100.10:7",
                       "icmp:198.51.100.20")
    assert probes["udp:198.51.100.10:9999"]["result"] != "reply", probes
    assert probes["udp:203.0.113.5:9999"]["result"] != "reply", probes
    assert probes["tcp:198.51.100.10:7"]["result"] in ("refused", "reset"), probes
    assert probes["icmp:198.51.100.20"]["result"] != "reply", probes
    # The same query to the server that answered it a moment ago goes nowhere.
    out = net.run(net.sbx, ["python3", "-c", DIG_OTHER], check=False)
    assert out.stdout.startswith("blocked"), out.stdout + out.stderr
    out = net.run(net.sbx, ["getent", "ahosts", "allowed.test"], check=False)
    assert "198.51.100.10" in out.stdout, "DNS through the configured resolver must keep working"


def test_rebinding_answers_are_refused_and_logged(net):
    policy = BASE_POLICY.replace("domains: [allowed.test]",
                                 "domains: [allowed.test, evil-loopback.test, evil-metadata.test, evil-gateway.test]")
    r = apply(net, policy)
    assert r.returncode == 0, r.stderr
    assert re.search(r"refused 127\.0\.0\.1/32 for evil-loopback\.test: loopback", r.stderr), r.stderr
    assert re.search(r"refused 169\.254\.169\.254/32 for evil-metadata\.test: link-local", r.stderr), r.stderr
    assert re.search(r"refused 192\.0\.2\.1/32 for evil-gateway\.test", r.stderr), r.stderr
    assert elements(net, "allowed_v4") == ["198.51.100.10"]


def test_rebinding_exception_through_cidrs(net):
    policy = BASE_POLICY.replace("domains: [allowed.test]", "domains: [allowed.test, evil-gateway.test]")
    r = apply(net, policy + "cidrs: [192.0.2.1/32]\n")
    assert r.returncode == 0, r.stderr
    assert "refused 192.0.2.1" not in r.stderr
    assert "192.0.2.1" in elements(net, "allowed_v4")


def test_unresolvable_name_is_reported_and_not_fatal(net):
    policy = BASE_POLICY.replace("domains: [allowed.test]", "domains: [allowed.test, missing.test]")
    r = apply(net, policy)
    assert r.returncode == 0, r.stderr
    assert "missing.test did not resolve" in r.stderr


def test_allowed_check_down_is_a_warning_unless_strict(net):
    # Port 8081 is allowed but nothing listens there: the service is down.
    policy = "domains: [allowed.test]\nports: [443, 8081]\nselfcheck: {allowed: \"allowed.test:8081\"}\n"
    r = apply(net, policy)
    assert r.returncode == 0, r.stderr
    assert "warning: self-check" in r.stderr and "allowed.test:8081" in r.stderr, r.stderr
    r = apply(net, policy.replace("}", ", strict: true}"))
    assert r.returncode != 0
    assert "self-check failed" in r.stderr


def test_blocked_target_that_the_policy_allows_is_fatal(net):
    r = apply(net, BASE_POLICY.replace("}", ", blocked: \"allowed.test\"}"))
    assert r.returncode != 0
    assert "selfcheck.blocked allowed.test resolves to 198.51.100.10" in r.stderr


def test_apply_twice_leaves_one_table(net):
    assert apply(net, BASE_POLICY).returncode == 0
    assert apply(net, BASE_POLICY).returncode == 0
    tables = [o["table"]["name"] for o in net.ruleset() if "table" in o]
    assert tables == ["agent_sandbox"]


def test_bad_policy_fails_closed_with_location(net):
    r = apply(net, "domains: [allowed.test]\nportz: [443]\n")
    assert r.returncode != 0
    assert re.search(r"policy\.yaml:2:1: error: unknown key \"portz\"", r.stderr), r.stderr
    assert not [o for o in net.ruleset() if "table" in o], "no rules may be installed from a bad policy"


def test_resolution_is_concurrent(net, tmp_path):
    # Replace dnsmasq with a responder that answers each query after 100 ms.
    net.dnsmasq.kill()
    net.dnsmasq.wait()
    names = [f"n{i}.test" for i in range(50)]
    table = {n: {"a": [f"198.51.100.{i + 100}"], "ttl": 300} for i, n in enumerate(names)}
    table["allowed.test"] = {"a": ["198.51.100.10"], "ttl": 300}
    (tmp_path / "table.json").write_text(json.dumps(table))
    net.start_slowdns(tmp_path / "table.json", delay_ms=100)
    policy = "domains: [allowed.test, " + ", ".join(names) + "]\nselfcheck: {allowed: \"allowed.test:443\"}\n"
    r = apply(net, policy)
    assert r.returncode == 0, r.stderr
    m = re.search(r"resolve done in ([0-9.]+) ms", r.stderr)
    assert m, r.stderr
    # 51 names × (A + AAAA) × 100 ms would take over 5 s one after another.
    assert float(m.group(1)) < 600, r.stderr
    # The 50 consecutive addresses arrive merged into one interval.
    assert elements(net, "allowed_v4") == ["198.51.100.10", "198.51.100.100-198.51.100.149"]


def test_the_resolver_socket_holds_a_burst_of_answers(net, tmp_path):
    """All answers of a start arrive on one UDP socket within a few
    milliseconds, while the default receive buffer (208 KiB, about 400
    small datagrams) drops part of a burst of 400 and each answer lost costs
    a retry after the resolver's timeout: PID 1 sizes the socket for
    thousands."""
    net.replace_dns_with_slowdns({"allowed.test": {"a": ["198.51.100.10"], "ttl": 300}}, delay_ms=1500)
    policy = net.write_policy("domains: [allowed.test]\nselfcheck: {allowed: \"allowed.test:443\"}\n")
    p = net.popen(net.sbx, [INIT, "apply", "--policy", str(policy), "--policy-dir", str(net.tmp / "none")],
                  stderr=subprocess.PIPE, text=True)
    mine = []
    deadline = time.monotonic() + 5
    while not mine and time.monotonic() < deadline:
        time.sleep(0.05)
        mine = [line for line in net.run(net.sbx, ["ss", "-uanmpO"]).stdout.splitlines()
                if f"pid={p.pid}," in line]
    assert p.wait(timeout=30) == 0, p.stderr.read()
    assert mine, "the init's DNS socket was not seen"
    m = re.search(r"\brb(\d+)", mine[0])
    assert m, mine
    assert int(m.group(1)) >= 4 << 20, f"receive buffer of {m.group(1)} bytes: {mine[0]}"


def test_json_log_lines(net):
    r = apply(net, BASE_POLICY, "--log-format", "json")
    assert r.returncode == 0, r.stderr
    entries = [json.loads(line) for line in r.stderr.splitlines()]
    steps = {e["step"]: e["duration_ms"] for e in entries if "step" in e}
    assert {"policy", "resolve", "nftables"} <= set(steps), entries
    assert all(isinstance(v, float) for v in steps.values())
    assert any(e["message"].startswith("sandbox ready") for e in entries)
