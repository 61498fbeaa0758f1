# SPDX-License-Identifier: MIT
"""The sandbox's own DNS resolver, with agent-sandbox-init as PID 1 of the
sandbox namespace and dnsmasq as the upstream on the fake internet, which
logs every query it receives: what the sandbox user asks, over UDP or TCP,
of any server, reaches the upstream only for names the policy allows; the
addresses handed out are allowed before the answer arrives, and expire."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from fakenet import HERE
from test_escapes import USER
from test_firewall import elements
from test_refresh import RunningInit
from fakenet import serving_init

HOSTS = {
    "allowed.test": ["198.51.100.10"], "other.test": ["198.51.100.20"],
    "wild.test": ["198.51.100.10"], "a.wild.test": ["198.51.100.20"], "deep.x.wild.test": ["203.0.113.5"],
    "sub.allowed.test": ["198.51.100.20"], "leak.attacker.test": ["198.51.100.20"],
    "rebind.wild.test": ["192.0.2.1"],          # the sandbox's own network: the guard refuses it
}
# The echo probes on 443 speak neither TLS nor HTTP, which name checking
# refuses (test_namecheck.py): off here, where the subject is something else.
POLICY = 'domains: [allowed.test, "*.wild.test"]\ndns: {min_ttl: 1, grace: 1}\nname_check: {enabled: false}\n'
NET_TTL = 1      # the shared `net` fixture (conftest.py): answers that expire quickly


@pytest.fixture
def sandbox(net):
    with serving_init(net, net.write_policy(POLICY)) as init:
        yield init


def ask(net, name, qtype="A", server="192.0.2.1", tcp=False):
    r = net.run(net.sbx, USER + [sys.executable, os.path.join(HERE, "dnsclient.py")] + (["--tcp"] if tcp else [])
                + [server, name, qtype])
    return json.loads(r.stdout)


def learned(net):
    """The learned_v4 set's addresses (its elements carry timeouts)."""
    for obj in net.ruleset():
        st = obj.get("set")
        if st and st["name"] == "learned_v4":
            return sorted(e["elem"]["val"] if isinstance(e, dict) else e for e in st.get("elem", []))
    raise AssertionError("no learned_v4 set")


def upstream_log(net):
    return net.dns_log.read_text() if net.dns_log.exists() else ""


def probe(net, spec):
    r = net.run(net.sbx, USER + [sys.executable, os.path.join(HERE, "netclient.py"), "probe", spec])
    return json.loads(r.stdout)[0]["result"]


def resolver_pid(sandbox):
    """The dns-resolver child of this sandbox's init (other sandboxes may
    run on the machine at the same time)."""
    out = subprocess.run(["pgrep", "-x", "-P", str(sandbox.init_pid()), "dns-resolver"],
                         capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("server", ["192.0.2.1", "203.0.113.53"], ids=["configured", "another-server"])
def test_only_allowed_names_reach_the_upstream(net, sandbox, tcp, server):
    assert ask(net, "allowed.test", server=server, tcp=tcp) == {"rcode": 0, "tc": False, "answers": ["198.51.100.10"]}
    for name, qtype in (("leak-1.attacker.test", "A"), ("leak-2.attacker.test", "TXT"),
                        ("sub.allowed.test", "A"), ("leak.attacker.test", "MX")):
        r = ask(net, name, qtype, server=server, tcp=tcp)
        assert r.get("rcode") == 3 and r["answers"] == [], (name, r)   # NXDOMAIN, answered in the sandbox
    log = upstream_log(net)
    assert "allowed.test" in log, "the allowed name was asked upstream"
    assert "attacker" not in log and "sub.allowed" not in log, log


def test_libc_lookups_go_through_the_resolver(net, sandbox):
    r = net.run(net.sbx, USER + ["getent", "ahostsv4", "allowed.test"], check=False)
    assert "198.51.100.10" in r.stdout, r.stdout + r.stderr
    r = net.run(net.sbx, USER + ["getent", "ahostsv4", "secret-data.attacker.test"], check=False)
    assert r.returncode != 0
    assert "secret-data" not in upstream_log(net)
    sandbox.wait_for("refused DNS query secret-data.attacker.test (A): not in the policy")


def test_wildcard_names_are_reachable_on_the_first_connection(net, sandbox):
    assert probe(net, "tcp:203.0.113.5:443") in ("refused", "reset"), "not allowed before the lookup"
    for name, addr in (("a.wild.test", "198.51.100.20"), ("deep.x.wild.test", "203.0.113.5")):
        assert ask(net, name)["answers"] == [addr]
        assert probe(net, f"tcp:{addr}:443") == "ok", name
    assert learned(net) == ["198.51.100.20", "203.0.113.5"]


def test_learned_addresses_expire_while_connections_stay(net, sandbox):
    assert ask(net, "a.wild.test")["answers"] == ["198.51.100.20"]
    held = net.popen(net.sbx, USER + [sys.executable, os.path.join(HERE, "netclient.py"), "hold",
                                      "198.51.100.20", "443"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert held.stdout.readline().strip() == "connected"
    time.sleep(3.5)         # max(TTL 1, min_ttl 1) + grace 1, and some
    assert learned(net) == []
    assert probe(net, "tcp:198.51.100.20:443") in ("refused", "reset")
    held.stdin.write("still-there\n")
    held.stdin.flush()
    assert held.stdout.readline().strip() == "still-there", "the established connection was cut"


def test_the_resolver_is_unprivileged_and_restarted_and_dns_fails_closed_meanwhile(net, sandbox):
    pid = resolver_pid(sandbox)
    assert pid, "no dns-resolver process"
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
    assert status["Uid"].split() == ["902"] * 4 and status["Gid"].split() == ["902"] * 4, status["Uid"]
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[key], 16) == 0, (key, status[key])
    assert status["NoNewPrivs"].strip() == "1"
    # Not dumpable: another process of its own uid cannot read its memory.
    r = subprocess.run(["setpriv", "--reuid", "902", "--regid", "902", "--clear-groups", "cat", f"/proc/{pid}/environ"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Permission denied" in r.stderr, r

    net.run(net.sbx, ["kill", "-STOP", str(pid)])
    r = ask(net, "allowed.test")
    assert r == {"error": "timeout"}, "an answer came from somewhere else: " + json.dumps(r)
    os.kill(pid, signal.SIGKILL)
    sandbox.wait_for("the DNS resolver (pid", timeout=5)
    deadline = time.monotonic() + 10
    while resolver_pid(sandbox) in (None, pid):
        assert time.monotonic() < deadline, "\n".join(sandbox.lines)
        time.sleep(0.05)
    assert ask(net, "allowed.test")["answers"] == ["198.51.100.10"]


def test_a_reload_answers_for_the_new_policy(net, sandbox, tmp_path):
    assert ask(net, "a.wild.test")["answers"] == ["198.51.100.20"]
    policy = tmp_path / "policy.yaml"
    policy.write_text("domains: [allowed.test, other.test]\n")
    mark = len(sandbox.lines)
    os.kill(sandbox.init_pid(), signal.SIGHUP)
    sandbox.wait_for("sandbox ready", after=mark)
    sandbox.wait_for("DNS resolver started", after=mark)
    assert learned(net) == [], "addresses of the old policy stay allowed"
    assert ask(net, "a.wild.test")["rcode"] == 3
    assert ask(net, "other.test")["answers"] == ["198.51.100.20"]


def test_an_answer_into_the_sandboxs_own_network_is_refused(net, sandbox):
    """The rebinding guard holds for the resolver's answers as for the
    init's: no address of the sandbox's own network is opened, and the
    client gets SERVFAIL rather than an address it could not reach."""
    r = ask(net, "rebind.wild.test")
    assert r.get("rcode") == 2 and r["answers"] == [], r
    assert "192.0.2.1" not in learned(net)
    sandbox.wait_for("refused 192.0.2.1/32 for rebind.wild.test")


def test_a_client_that_keeps_an_answer_past_its_ttl_works_during_the_grace(net):
    """dns.grace: clients that cache answers longer than their TTL (curl
    keeps them 60 s) still connect until TTL + grace, then no longer."""
    init = RunningInit(net, net.write_policy('domains: ["*.wild.test"]\ndns: {min_ttl: 1, grace: 3}\nname_check: {enabled: false}\n'))
    try:
        init.wait_for("DNS resolver started")
        assert ask(net, "a.wild.test")["answers"] == ["198.51.100.20"]
        time.sleep(2)       # past the TTL of 1 s, inside the grace
        assert probe(net, "tcp:198.51.100.20:443") == "ok"
        time.sleep(3)       # past TTL + grace
        assert probe(net, "tcp:198.51.100.20:443") in ("refused", "reset")
    finally:
        init.stop()


def test_an_answer_allowed_already_is_released_without_asking_pid1(net):
    """A name asked again while PID 1 still allows its addresses for as
    long as the answer needs is released by the resolver alone: with PID 1
    stopped, the same name still resolves, while a new name, whose
    addresses need a set update, does not."""
    # The echo probe on 443 is no TLS: name checking would refuse it.
    init = RunningInit(net, net.write_policy('domains: ["*.wild.test"]\ndns: {min_ttl: 1, grace: 60}\n'
                                             'name_check: {enabled: false}\n'))
    try:
        init.wait_for("DNS resolver started")
        assert ask(net, "a.wild.test")["answers"] == ["198.51.100.20"]
        os.kill(init.init_pid(), signal.SIGSTOP)
        try:
            assert ask(net, "a.wild.test")["answers"] == ["198.51.100.20"]
            r = ask(net, "deep.x.wild.test")
            assert r.get("answers") != ["203.0.113.5"], "released without PID 1 allowing it: " + json.dumps(r)
        finally:
            os.kill(init.init_pid(), signal.SIGCONT)
        assert ask(net, "deep.x.wild.test")["answers"] == ["203.0.113.5"]
        assert probe(net, "tcp:203.0.113.5:443") == "ok"
    finally:
        init.stop()


def test_the_resolver_asks_upstream_from_ports_no_other_socket_gets(net, tmp_path):
    """conntrack keeps a flow's entry after its socket is gone: were the
    resolver's upstream ports drawn from the range every socket of the
    sandbox draws from, a busy sandbox would soon give a client a port whose
    old entry was the resolver's (its query refused), or the resolver one
    whose old entry was a client's redirected flow (its query sent back to
    itself). Its upstream sockets take ports below the ephemeral range."""
    net.replace_dns_with_slowdns({"a.wild.test": {"a": ["198.51.100.20"], "ttl": 60}}, delay_ms=1500)
    init = RunningInit(net, net.write_policy(POLICY))
    try:
        init.wait_for("DNS resolver started")
        asking = net.popen(net.sbx, USER + [sys.executable, os.path.join(HERE, "dnsclient.py"), "192.0.2.1",
                                            "a.wild.test"], stdout=subprocess.PIPE, text=True)
        time.sleep(0.7)         # the upstream answers after 1.5 s: the resolver's socket is open now
        lo = int(net.run(net.sbx, ["cat", "/proc/sys/net/ipv4/ip_local_port_range"]).stdout.split()[0])
        ports = []
        for line in net.run(net.sbx, ["cat", "/proc/net/udp"]).stdout.splitlines()[1:]:
            fields = line.split()
            port = int(fields[1].split(":")[1], 16)
            if int(fields[7]) == 902 and port != 1053:
                ports.append(port)
        assert ports and all(p < lo for p in ports), (ports, lo)
        assert '"198.51.100.20"' in asking.communicate(timeout=10)[0]
    finally:
        init.stop()


def test_an_answer_whose_set_update_the_kernel_refuses_is_not_released(net):
    """The resolver's set updates ask the kernel for no acknowledgement:
    success is an empty socket after sendmsg(). A batch the kernel refuses
    must still hold the answer back. Here the element of a.wild.test is
    removed behind PID 1's back; when the name is asked again after an
    eighth of its lifetime, PID 1 replaces the element (remove, then add),
    the kernel refuses the removal, rolls the batch back, and the client
    gets SERVFAIL, not an address the firewall does not allow."""
    net.replace_dns_with_slowdns({"a.wild.test": {"a": ["198.51.100.20"], "ttl": 8}}, delay_ms=0)
    init = RunningInit(net, net.write_policy('domains: ["*.wild.test"]\ndns: {min_ttl: 1, grace: 1}\n'
                                             'name_check: {enabled: false}\n'))
    try:
        init.wait_for("DNS resolver started")
        assert ask(net, "a.wild.test")["answers"] == ["198.51.100.20"]
        assert learned(net) == ["198.51.100.20"]
        net.run(net.sbx, ["nft", "delete element inet agent_sandbox learned_v4 { 198.51.100.20 }"])
        time.sleep(1.6)     # past an eighth of the 9 s lifetime: the element is replaced
        r = ask(net, "a.wild.test")
        assert r.get("rcode") == 2 and not r.get("answers"), "released without the element: " + json.dumps(r)
        init.wait_for("removing 1 elements from set learned_v4 failed")
        assert learned(net) == []
        assert probe(net, "tcp:198.51.100.20:443") in ("refused", "reset")
    finally:
        init.stop()


# COUNT A queries for n0.burst.test... (or COUNT times for NAME) sent at
# once from one UDP socket to SERVER, each once (no retry); waits up to 90 s
# for all answers. Prints {"rcode": {rcode: how many}, "with_address": how
# many carried theirs}: 198.18.(i >> 8).(i & 255) for the i-th name, 198.18.0.0 for NAME.
BURST_CLIENT = r"""
import json, select, socket, struct, sys, time
server, count = sys.argv[1], int(sys.argv[2])
one = sys.argv[3] if len(sys.argv) > 3 else None
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.connect((server, 53))
for i in range(count):
    name = b"".join(bytes([len(l)]) + l for l in (one or f"n{i}.burst.test").encode().split(b"."))
    s.send(struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) + name + b"\0\0\1\0\1")
rcodes, with_address, got = {}, 0, set()
deadline = time.monotonic() + 90
while len(got) < count and select.select([s], [], [], max(0, deadline - time.monotonic()))[0]:
    msg = s.recv(4096)
    qid = struct.unpack("!H", msg[:2])[0]
    if qid in got:
        continue
    got.add(qid)
    rcodes[msg[3] & 15] = rcodes.get(msg[3] & 15, 0) + 1
    with_address += bytes([198, 18, 0, 0] if one else [198, 18, qid >> 8, qid & 255]) in msg
print(json.dumps({"rcode": rcodes, "with_address": with_address}))
"""


def test_a_burst_through_a_forwarder_that_drops_beyond_100_is_answered(net):
    """Docker's embedded DNS, the upstream of a sandbox on a user-defined
    network, forwards at most 100 queries at once and drops the rest
    without an answer. When load slows its forwarding, a resolver that keeps
    more than that at it loses the surplus, and c-ares' one retry meets a
    full server again: SERVFAIL. A burst of 800 names through such a server
    (half a second per answer) must be answered, every name with its
    address."""
    count = 800
    table = {f"n{i}.burst.test": {"a": [f"198.18.{i >> 8}.{i & 255}"], "ttl": 60} for i in range(count)}
    net.replace_dns_with_slowdns(table, delay_ms=500, max_concurrent=100, stats=net.tmp / "upstream")
    init = RunningInit(net, net.write_policy('domains: ["*.burst.test"]\nname_check: {enabled: false}\n'))
    try:
        init.wait_for("DNS resolver started")
        r = net.run(net.sbx, USER + [sys.executable, "-c", BURST_CLIENT, "192.0.2.1", str(count)], timeout=120)
        got = json.loads(r.stdout)
        upstream = (net.tmp / "upstream").read_text() if (net.tmp / "upstream").exists() else ""
        assert got == {"rcode": {"0": count}, "with_address": count}, (got, upstream, init.lines[-5:])
    finally:
        init.stop()


def answered_upstream(stats):
    """slowdns.py's count of answers (--stats FILE), as of now: it rewrites
    the file at least once a second."""
    since = time.time()
    deadline = time.monotonic() + 10
    while not (stats.exists() and stats.stat().st_mtime > since) and time.monotonic() < deadline:
        time.sleep(0.1)
    return int(stats.read_text().split()[0])


def test_one_name_asked_by_many_at_once_is_asked_upstream_once(net):
    """Threads of one program resolving the same name at once, or a client
    retrying, ask the same question many times before its answer comes.
    Each copy sent upstream fills the server's queue (Docker's embedded DNS
    drops what is beyond 100): the copies wait for the one query already
    asked and take its answer, each with its own id."""
    stats = net.tmp / "upstream"
    net.replace_dns_with_slowdns({"same.burst.test": {"a": ["198.18.0.0"], "ttl": 60}}, delay_ms=500,
                                 stats=stats)
    init = RunningInit(net, net.write_policy('domains: ["*.burst.test"]\nname_check: {enabled: false}\n'))
    try:
        init.wait_for("DNS resolver started")
        before = answered_upstream(stats)       # the init's own lookups at its start
        r = net.run(net.sbx, USER + [sys.executable, "-c", BURST_CLIENT, "192.0.2.1", "300", "same.burst.test"],
                    timeout=120)
        assert json.loads(r.stdout) == {"rcode": {"0": 300}, "with_address": 300}, (r.stdout, init.lines[-5:])
        # One query; a second only if c-ares retried it on a machine too
        # slow to answer within its timeout.
        assert answered_upstream(stats) - before <= 2, init.lines[-5:]
    finally:
        init.stop()
