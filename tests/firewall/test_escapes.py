# SPDX-License-Identifier: MIT
"""Attacks on the firewall from inside the sandbox, each performed as the
sandbox user would (a process of another uid, without capabilities, in the
sandbox namespace), against agent-sandbox-init as PID 1 of that namespace:

- forged DNS answers on the loopback, where Docker's embedded DNS is the
  resolver (127.0.0.11 behind a DNAT rule in the namespace itself, and
  ip_unprivileged_port_start=0 as Docker sets it);
- traffic while the init is still resolving, and a flow opened before the
  rules arrived."""
import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest

from fakenet import INIT as INIT_BINARY, FakeNet, HERE, RunningInit, elements
from test_firewall import apply

HOSTS = {"allowed.test": ["198.51.100.10"], "other.test": ["198.51.100.20"]}
USER = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--inh-caps=-all"]
# What Docker puts in a container's namespace for its embedded DNS: the
# resolver address 127.0.0.11:53 translated to the daemon's own port.
DOCKER_DNS_NAT = """
table ip docker_dns {
  chain output {
    type nat hook output priority -100;
    ip daddr 127.0.0.11 udp dport 53 dnat to 127.0.0.11:5353
    ip daddr 127.0.0.11 tcp dport 53 dnat to 127.0.0.11:5353
  }
}
"""


class DockerDnsNet(FakeNet):
    """The fake internet, with name resolution as on a user-defined docker
    network: /etc/resolv.conf names 127.0.0.11, and "dockerd" (dnsmasq) answers
    on 127.0.0.11:5353 inside the sandbox namespace."""

    def setup(self):
        super().setup(HOSTS, ttl=60, dns=False)
        with open(os.path.join(self.etc_dir, "resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.11\noptions timeout:1 attempts:2\n")
        for key, value in (("net.ipv4.ip_unprivileged_port_start", "0"),
                           ("net.ipv4.ip_local_port_range", "40000 40999")):
            self.run(self.sbx, ["sysctl", "-qw", f"{key}={value}"])
        subprocess.run(["ip", "netns", "exec", self.sbx, "nft", "-f", "-"], input=DOCKER_DNS_NAT,
                       text=True, check=True, capture_output=True)
        self.popen(self.sbx, [
            "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
            "--bind-interfaces", "--listen-address=127.0.0.11", "--port=5353",
            f"--addn-hosts={self.hosts_file}", "--local-ttl=60", "--user=root",
            "--log-queries", f"--log-facility={self.tmp / 'dockerdns.log'}",
            f"--pid-file={self.tmp / 'dockerdns.pid'}"])
        deadline = time.monotonic() + 5
        while "127.0.0.11:5353" not in self.run(self.sbx, ["ss", "-uln"]).stdout:
            assert time.monotonic() < deadline, "the embedded DNS stand-in did not start"
            time.sleep(0.02)

    def attacker(self, bind="127.0.0.11", ports="40000-40999"):
        p = self.popen(self.sbx, USER + [sys.executable, os.path.join(HERE, "forgedns.py"),
                                         "--bind", bind, "--ports", ports,
                                         "--answer", "198.51.100.20"],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline().strip()
        assert line == "ready", line + p.stderr.read()
        return p


def queries_seen(attacker):
    attacker.kill()
    out, _ = attacker.communicate(timeout=5)
    return [l for l in out.splitlines() if l.startswith("query")]


@pytest.fixture
def dnet(tmp_path, need_root):
    n = DockerDnsNet(tmp_path)
    try:
        n.setup()
        yield n
    finally:
        n.teardown()


def test_forged_answers_on_the_loopback_never_reach_the_init(dnet):
    """The attack as found: with the rules in place, the user prepares
    conntrack entries from 127.0.0.11:53 and waits for the init to re-resolve
    (a reload here, the TTL refresh in real life)."""
    policy = dnet.write_policy("domains: [allowed.test]\n")
    init = RunningInit(dnet, policy)
    try:
        init.wait_for("sandbox ready")
        assert elements(dnet, "allowed_v4") == ["198.51.100.10"]
        attacker = dnet.attacker()
        mark = len(init.lines)
        os.kill(init.init_pid(), signal.SIGHUP)
        init.wait_for("sandbox ready", after=mark)
        assert elements(dnet, "allowed_v4") == ["198.51.100.10"], "\n".join(init.lines)
        probe = dnet.probe("tcp:198.51.100.20:443")["tcp:198.51.100.20:443"]
        assert probe["result"] in ("refused", "reset"), probe
        assert queries_seen(attacker) == [], "the init's queries reached the user's socket"
    finally:
        init.stop()


def test_conntrack_entries_prepared_before_the_start_carry_no_answer(dnet):
    attacker = dnet.attacker()
    r = apply(dnet, "domains: [allowed.test]\n")
    assert "198.51.100.20" not in elements(dnet, "allowed_v4"), r.stderr
    assert queries_seen(attacker) == [], r.stderr


def test_a_local_resolver_address_the_user_listens_on_gets_no_answer_through(dnet):
    """resolv.conf names a loopback address where nothing of the system's
    listens: the user takes it and answers the init's queries itself."""
    with open(os.path.join(dnet.etc_dir, "resolv.conf"), "w") as f:
        f.write("nameserver 127.0.0.53\noptions timeout:1 attempts:1\n")
    attacker = dnet.attacker(bind="127.0.0.53", ports="1-0")
    r = apply(dnet, "domains: [allowed.test]\n")
    assert "198.51.100.20" not in elements(dnet, "allowed_v4"), r.stderr
    assert queries_seen(attacker), "the attack did not run: the init never asked 127.0.0.53"


def test_the_user_cannot_send_from_port_53(dnet):
    apply(dnet, "domains: [allowed.test]\n")
    r = dnet.run(dnet.sbx, USER + [sys.executable, "-c", """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.11", 53))
try:
    s.sendto(b"x", ("127.0.0.1", 40000))
    print("sent")
except PermissionError:
    print("refused")
"""], check=False)
    assert r.stdout.strip() == "refused", r.stdout + r.stderr


def test_nothing_gets_out_while_the_init_resolves(net, tmp_path):
    net.replace_dns_with_slowdns({"allowed.test": {"a": ["198.51.100.10"], "ttl": 300}}, delay_ms=1500)
    # The echo probe on 443 is no TLS: name checking would refuse it.
    policy = net.write_policy("domains: [allowed.test]\nname_check: {enabled: false}\n")
    init = RunningInit(net, policy)
    try:
        init.wait_for("lockdown")
        probes = net.run(net.sbx, USER + [sys.executable, os.path.join(HERE, "netclient.py"), "probe",
                                          "tcp:198.51.100.20:443", "tcp:198.51.100.10:443",
                                          "udp:198.51.100.20:9999", "tcp:192.0.2.1:8080"])
        assert not any("sandbox ready" in l for l in init.lines), "the probe came too late to test the window"
        results = {p["spec"]: p["result"] for p in json.loads(probes.stdout)}
        assert all(r not in ("ok", "reply") for r in results.values()), results
        init.wait_for("sandbox ready")
        assert net.probe("tcp:198.51.100.10:443")["tcp:198.51.100.10:443"]["result"] == "ok"
    finally:
        init.stop()


def test_a_flow_opened_before_the_rules_does_not_survive_them(dnet):
    """dnet: Docker's NAT table makes conntrack follow the connection from
    its first packet, as in a container."""
    net = dnet
    held = net.popen(net.sbx, USER + [sys.executable, os.path.join(HERE, "netclient.py"), "hold",
                                      "198.51.100.20", "443"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert held.stdout.readline().strip() == "connected"
    policy = net.write_policy("domains: [allowed.test]\n")
    init = RunningInit(net, policy)
    try:
        init.wait_for("sandbox ready")
        held.stdin.write("after-the-rules\n")
        held.stdin.flush()
        ready, _, _ = select.select([held.stdout], [], [], 3)
        assert not ready or held.stdout.readline().strip() != "after-the-rules", \
            "a connection opened before the rules still works"
    finally:
        init.stop()


def health(net, init):
    """agent-sandbox-init health as the sandbox user, in the init's pid and
    network namespaces, as `docker exec` runs it."""
    return subprocess.run(["nsenter", "-t", str(init.init_pid()), "-p", "-n", "--"] + USER +
                          [INIT_BINARY, "health"], capture_output=True, text=True, timeout=10)


def test_health_passes_only_once_the_init_is_ready(net, tmp_path):
    net.replace_dns_with_slowdns({"allowed.test": {"a": ["198.51.100.10"], "ttl": 300}}, delay_ms=1500)
    init = RunningInit(net, net.write_policy("domains: [allowed.test]\n"))
    try:
        init.wait_for("lockdown")
        r = health(net, init)
        assert not any("sandbox ready" in l for l in init.lines), "too late to test the window"
        assert r.returncode == 1 and "not ready" in r.stderr, (r.returncode, r.stdout, r.stderr)
        init.wait_for("sandbox ready")
        r = health(net, init)
        assert r.returncode == 0 and r.stdout.strip() == "ready", (r.returncode, r.stdout, r.stderr)
    finally:
        init.stop()


def test_health_cannot_be_answered_by_the_sandbox_user(net):
    """The user takes the socket's name before the init starts (in a
    container nothing of the user's runs that early: the init then holds the
    name from its first moment, see the next test)."""
    squatter = net.popen(net.sbx, USER + [sys.executable, "-c", """
import socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\\0agent-sandbox/ready")
s.listen(16)
print("listening", flush=True)
while True:
    s.accept()[0].close()
"""], stdout=subprocess.PIPE, text=True)
    assert squatter.stdout.readline().strip() == "listening"
    init = RunningInit(net, net.write_policy("domains: [allowed.test]\n"))
    try:
        init.wait_for("sandbox ready")
        init.wait_for("readiness socket @agent-sandbox/ready")
        r = health(net, init)
        assert r.returncode == 1 and "other than the init" in r.stderr, (r.returncode, r.stdout, r.stderr)
    finally:
        init.stop()


def test_the_init_holds_the_readiness_name_while_it_resolves(net, tmp_path):
    net.replace_dns_with_slowdns({"allowed.test": {"a": ["198.51.100.10"], "ttl": 300}}, delay_ms=1500)
    init = RunningInit(net, net.write_policy("domains: [allowed.test]\n"))
    try:
        init.wait_for("lockdown")
        r = net.run(net.sbx, USER + [sys.executable, "-c", """
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.bind("\\0agent-sandbox/ready")
    print("bound")
except OSError as e:
    print("refused", e.errno)
"""], check=False)
        assert not any("sandbox ready" in l for l in init.lines), "too late to test the window"
        assert r.stdout.startswith("refused"), r.stdout + r.stderr
        init.wait_for("sandbox ready")
        assert health(net, init).returncode == 0
    finally:
        init.stop()


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_the_embedded_dns_own_port_skips_nothing(dnet, tcp):
    """Docker's embedded DNS listens on a port of its own behind 127.0.0.11,
    which its NAT rule for port 53 leads to. A query sent there directly
    would reach a DNS server without the sandbox's resolver."""
    init = RunningInit(dnet, dnet.write_policy("domains: [allowed.test]\n"))
    try:
        init.wait_for("sandbox ready")
        r = dnet.run(dnet.sbx, USER + [sys.executable, os.path.join(HERE, "dnsclient.py")] + (["--tcp"] if tcp else [])
                     + ["--port", "5353", "127.0.0.11", "leak-5.other.test"], check=False)
        assert "answers" not in r.stdout, r.stdout
        log = (dnet.tmp / "dockerdns.log").read_text()
        assert "leak-5" not in log, log
        # The same name through port 53 reaches the sandbox's resolver: NXDOMAIN.
        r = dnet.run(dnet.sbx, USER + [sys.executable, os.path.join(HERE, "dnsclient.py"), "127.0.0.11",
                                       "leak-6.other.test"], check=False)
        assert '"rcode": 3' in r.stdout, r.stdout
        assert "leak-6" not in (dnet.tmp / "dockerdns.log").read_text()
    finally:
        init.stop()
