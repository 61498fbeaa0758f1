# SPDX-License-Identifier: MIT
"""Name checking on a shared address, with agent-sandbox-init as PID 1 of
the sandbox namespace: two names on one address of the fake internet serve
TLS on 443 and HTTP on 80 (nameserver.py, with a certificate from a CA the
test makes). Only the policy's name gets through the name gate, with the
server's own certificate; another name, no name and bytes that are neither
TLS nor HTTP are refused and named in the denial stream; a blocked address
never reaches the gate; cidrs: destinations are not name-checked."""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from buildpaths import INIT
from fakenet import HERE, FakeNet, RunningInit
from test_escapes import USER, health

SHARED = "203.0.113.5"          # tls-ok.test and tls-other.test
BLOCKED = "198.51.100.20"       # no name of the policy
BY_ADDRESS = "198.51.100.10"    # under cidrs:
LEARNED6 = "2001:db8:2::20"     # v6.cdn.test, under a wildcard: only the resolver hands it out
HOSTS = {"tls-ok.test": [SHARED], "tls-other.test": [SHARED], "blocked.test": [BLOCKED],
         "v6.cdn.test": [LEARNED6]}
POLICY = f'domains: [tls-ok.test, "*.cdn.test"]\ncidrs: [{BY_ADDRESS}/32]\n'

KEYS = {"time", "kind", "proto", "dst", "port", "name", "resolved_ago", "uid", "reason", "count"}


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def shared():
    """A directory the sandbox user can read (pytest's are root's alone)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="asb-names-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def certs(shared):
    """A CA of the test's own and a certificate it signs for both names."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=agent-sandbox test CA", cwd=shared)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=tls-ok.test", cwd=shared)
    (shared / "san.ext").write_text("subjectAltName=DNS:tls-ok.test,DNS:tls-other.test\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.ext", cwd=shared)
    for f in shared.iterdir():
        os.chmod(f, 0o644)
    return shared


@pytest.fixture
def net(tmp_path, need_root, certs):
    n = FakeNet(tmp_path)
    # nameserver.py takes 443 (and 80) on every address of the fake internet.
    i = n.listener_args.index("443")
    del n.listener_args[i - 1:i + 1]
    try:
        n.setup(HOSTS)
        n.names_log = tmp_path / "names.log"
        n.names_log.write_text("")
        server = n.popen(n.net, [sys.executable, os.path.join(HERE, "nameserver.py"), "--cert",
                                 str(certs / "server.pem"), "--key", str(certs / "server.key"),
                                 "--log", str(n.names_log)], stdout=subprocess.PIPE, text=True)
        assert server.stdout.readline().strip() == "ready"
        yield n
    finally:
        n.teardown()


@pytest.fixture
def sandbox(net, shared):
    init = RunningInit(net, net.write_policy(POLICY), "--denial-summary-seconds", "1",
                       denials_dir=shared / "record")
    try:
        init.wait_for("sandbox ready")
        init.wait_for("name gate started")
        yield init
    finally:
        init.stop()


def client(net, *args, timeout=60):
    r = net.run(net.sbx, USER + [sys.executable, os.path.join(HERE, "nameclient.py"), *args], timeout=timeout)
    return json.loads(r.stdout)


def server_saw(net):
    return net.names_log.read_text().splitlines()


def records(net, sandbox):
    r = net.run(net.sbx, USER + [INIT, "denials", "--dir", str(sandbox.denials_dir)], check=False)
    assert r.returncode == 0, r.stderr
    out = [json.loads(l) for l in r.stdout.splitlines()]
    for rec in out:
        assert set(rec) == KEYS, rec
    return [rec for rec in out if rec["kind"] == "name"]


def wait_for_record(net, sandbox, pred, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [r for r in records(net, sandbox) if pred(r)]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no such record: {records(net, sandbox)}")


def gated(net):
    """Connections the output chain sent through the name gate so far (the
    counters of the rules that take a flow's first packet there)."""
    out = json.loads(net.run(net.sbx, ["nft", "-j", "list", "chain", "inet", "agent_sandbox", "output"]).stdout)
    return sum(e["counter"]["packets"] for o in out["nftables"] if "rule" in o
               and o["rule"].get("comment", "").startswith("name-checked ports of")
               for e in o["rule"]["expr"] if "counter" in e)


def gate_pid(sandbox, other_than=None, timeout=5):
    """The name gate child once it has dropped its privileges (its name
    is set before the drop, which takes a moment after PID 1 logs the
    start)."""
    init = sandbox.init_pid()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in open(f"/proc/{init}/task/{init}/children").read().split():
            try:
                comm = open(f"/proc/{child}/comm").read().strip()
                status = open(f"/proc/{child}/status").read()
            except FileNotFoundError:
                continue
            if comm == "name-gate" and int(child) != other_than and "NoNewPrivs:\t1" in status:
                return int(child)
        time.sleep(0.02)
    return None


def test_ready_line_says_names_are_checked(net, sandbox):
    sandbox.wait_for("sandbox ready")
    ready = [l for l in sandbox.lines if "sandbox ready" in l][0]
    assert "TLS server names checked on port 443, HTTP Host checked on port 80" in ready, ready


def test_name_check_off_lets_any_name_through_and_says_so(net, shared, certs):
    policy = net.write_policy(POLICY + "name_check: {enabled: false}\n")
    init = RunningInit(net, policy, denials_dir=shared / "record")
    try:
        init.wait_for("sandbox ready")
        assert any("names not checked" in l for l in init.lines if "sandbox ready" in l), init.lines
        out = client(net, "tls", SHARED, "443", "tls-other.test", str(certs / "ca.pem"))
        assert out["result"] == "ok" and out["reply"] == "hello tls-other.test", out
    finally:
        init.stop()


def test_allowed_name_passes_with_the_servers_own_certificate(net, sandbox, certs):
    out = client(net, "tls", SHARED, "443", "tls-ok.test", str(certs / "ca.pem"))
    assert out["result"] == "ok", out
    # Verified against the test's own CA: nothing in between re-signed it.
    assert out["issuer"] == "agent-sandbox test CA" and out["reply"] == "hello tls-ok.test", out
    assert server_saw(net) == ["tls tls-ok.test"]
    out = client(net, "http", SHARED, "80", "tls-ok.test", "/")
    assert out["result"] == "ok" and out["body"] == "host tls-ok.test", out


def test_another_name_on_the_same_address_is_refused_and_named(net, sandbox, certs):
    out = client(net, "tls", SHARED, "443", "tls-other.test", str(certs / "ca.pem"))
    assert out["result"] in ("reset", "eof"), out
    out = client(net, "http", SHARED, "80", "tls-other.test", "/")
    assert out["result"] in ("reset", "eof"), out
    assert server_saw(net) == []
    rec = wait_for_record(net, sandbox, lambda r: r["proto"] == "tls")
    assert (rec["name"], rec["dst"], rec["port"], rec["uid"], rec["reason"]) == \
        ("tls-other.test", SHARED, 443, 65534, "not in the policy"), rec
    rec = wait_for_record(net, sandbox, lambda r: r["proto"] == "http")
    assert (rec["name"], rec["port"]) == ("tls-other.test", 80), rec
    sandbox.wait_for(f"refused TLS server name tls-other.test to {SHARED}:443 by uid 65534: not in the policy")


def test_no_name_and_garbage_are_refused(net, sandbox, certs):
    out = client(net, "tls", SHARED, "443", "-", "-")
    assert out["result"] in ("reset", "eof"), out
    out = client(net, "raw", SHARED, "443", "00" * 64)
    assert out["result"] in ("reset", "eof"), out
    out = client(net, "raw", SHARED, "80", "ffd8" + "41" * 62)
    assert out["result"] in ("reset", "eof"), out
    assert server_saw(net) == []
    wait_for_record(net, sandbox, lambda r: r["proto"] == "tls" and r["name"] is None and r["reason"] == "names no server")
    wait_for_record(net, sandbox, lambda r: r["port"] == 443 and r["reason"] == "not a TLS ClientHello or HTTP/1.x request")
    wait_for_record(net, sandbox, lambda r: r["port"] == 80 and r["reason"] == "not a TLS ClientHello or HTTP/1.x request")


def test_addresses_the_resolver_hands_out_are_checked_too_over_ipv6(net, sandbox):
    base = gated(net)
    out = client(net, "tls", "resolve:v6.cdn.test", "443", "v6.cdn.test", "-")
    assert out["result"] == "ok" and out["reply"] == "hello v6.cdn.test", out
    out = client(net, "tls", "resolve:v6.cdn.test", "443", "tls-other.test", "-")
    assert out["result"] in ("reset", "eof"), out
    out = client(net, "http", f"{LEARNED6}", "80", "v6.cdn.test", "/")
    assert out["result"] == "ok" and out["body"] == "host v6.cdn.test", out
    assert gated(net) == base + 3
    assert server_saw(net) == ["tls v6.cdn.test", "http v6.cdn.test"]
    rec = wait_for_record(net, sandbox, lambda r: r["name"] == "tls-other.test")
    assert rec["dst"] == LEARNED6 and rec["port"] == 443, rec


def test_blocked_address_is_refused_by_the_firewall_not_the_gate(net, sandbox, certs):
    base = gated(net)     # the self-check's probe of tls-ok.test went through it
    assert client(net, "tls", SHARED, "443", "tls-ok.test", "-")["result"] == "ok"
    assert gated(net) == base + 1
    out = client(net, "tls", BLOCKED, "443", "tls-ok.test", "-")
    assert out["result"] == "refused" and out["ms"] < 500, out
    assert gated(net) == base + 1
    sandbox.wait_for(f"denied tcp {BLOCKED}:443")
    assert records(net, sandbox) == []
    assert not [l for l in sandbox.lines if "refused TLS" in l]


def test_cidrs_destinations_are_not_name_checked(net, sandbox, certs):
    base = gated(net)     # the self-check's probe of tls-ok.test went through it
    out = client(net, "tls", BY_ADDRESS, "443", "not-in-policy.test", "-")
    assert out["result"] == "ok" and out["reply"] == "hello not-in-policy.test", out
    assert server_saw(net) == ["tls not-in-policy.test"]
    assert gated(net) == base + 0
    # The same name to a name-allowed address is checked.
    assert client(net, "tls", SHARED, "443", "not-in-policy.test", "-")["result"] in ("reset", "eof")
    assert gated(net) == base + 1


def test_half_close_reaches_the_server_and_the_reply_comes_back(net, sandbox):
    base = gated(net)     # the self-check's probe of tls-ok.test went through it
    out = client(net, "halfclose", SHARED, "tls-ok.test", str(4 << 20))
    assert out["result"] == "ok", out
    assert out["body"] == f"read {out['sent']} {out['sent_sha256']}", out
    assert gated(net) == base + 1


def test_one_gib_arrives_intact(net, sandbox):
    base = gated(net)     # the self-check's probe of tls-ok.test went through it
    n = int(os.environ.get("ASB_BULK", 1 << 30))
    direct = client(net, "bulk", BY_ADDRESS, "any.test", str(n), timeout=120)
    gated_ = client(net, "bulk", SHARED, "tls-ok.test", str(n), timeout=120)
    assert gated_["result"] == "ok" and gated_["bytes"] == n, gated_
    assert gated_["sha256"] == direct["sha256"], (gated_, direct)
    assert server_saw(net) == ["http any.test", "http tls-ok.test"]
    assert gated(net) == base + 1


def context_switches(pid):
    status = open(f"/proc/{pid}/status").read()
    return sum(int(l.split()[1]) for l in status.splitlines() if l.endswith("ctxt_switches") or "ctxt_switches:" in l)


def hold(net, certs, n):
    """n TLS connections to tls-ok.test held open by nameclient.py (it has
    said they are): a line on its stdin makes each talk again, and it
    answers with a JSON line."""
    p = net.popen(net.sbx, USER + [sys.executable, os.path.join(HERE, "nameclient.py"), "hold", SHARED,
                                   "tls-ok.test", str(certs / "ca.pem"), str(n)],
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert json.loads(p.stdout.readline()) == {"open": n}
    return p


def talk_again(p):
    p.stdin.write("\n")
    p.stdin.flush()
    return json.loads(p.stdout.readline())


def test_checked_connections_cost_the_gate_nothing_while_they_last(net, sandbox, certs):
    """Once a connection's checks are done, its packets no longer go
    through the gate: connections that have talked and gone quiet wake it
    no more, and talk again all the same."""
    pid = gate_pid(sandbox)
    n = 200
    p = hold(net, certs, n)
    try:
        time.sleep(0.5)
        before = context_switches(pid)
        time.sleep(2)
        assert context_switches(pid) == before, "the gate woke while every connection was idle"
        out = talk_again(p)
        assert out["result"] == "ok" and out["again"] == n, out
        # Talking again went past it: still not a wake-up.
        assert context_switches(pid) == before
    finally:
        p.kill()
        p.wait()


def test_a_flood_of_refused_connections_leaves_pid1_answering(net, sandbox):
    out = client(net, "flood", SHARED, "443", "500")
    assert out["result"] == "ok" and out["resets"] == 500, out
    h = health(net, sandbox)
    assert h.returncode == 0, h.stdout + h.stderr
    rec = wait_for_record(net, sandbox, lambda r: r["reason"] == "not a TLS ClientHello or HTTP/1.x request")
    # One destination: the first refusal is a line of its own, the rest
    # are counted for the summary, not logged one by one.
    assert rec["count"] == 1 and len([l for l in sandbox.lines if "refused TLS connection" in l]) == 1
    # The rest in one summary line.
    summary = wait_for_record(net, sandbox, lambda r: r["reason"] == rec["reason"] and r["count"] > 1)
    assert 250 <= summary["count"] <= 499, summary


def test_an_init_started_again_in_the_namespace_binds_the_queue_again(net, shared):
    """The queue is bound by PID 1's socket: an init started again in the
    same namespace (split mode's firewall, restarted by the engine) binds
    it again, and checks as before."""
    first = RunningInit(net, net.write_policy(POLICY), denials_dir=shared / "record")
    try:
        first.wait_for("sandbox ready")
        assert client(net, "http", SHARED, "80", "tls-ok.test", "/")["result"] == "ok"
    finally:
        first.stop()
    again = RunningInit(net, net.write_policy(POLICY), denials_dir=shared / "record")
    try:
        again.wait_for("sandbox ready")
        assert client(net, "http", SHARED, "80", "tls-ok.test", "/")["result"] == "ok"
        assert client(net, "http", SHARED, "80", "tls-other.test", "/")["result"] in ("reset", "eof")
    finally:
        again.stop()


def test_killed_gate_is_restarted_and_fails_closed_meanwhile(net, sandbox, certs):
    pid = gate_pid(sandbox)
    assert pid
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
    assert status["Uid"].split() == ["903"] * 4 and status["Gid"].split() == ["903"] * 4, status["Uid"]
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[key], 16) == 0, (key, status[key])
    assert status["NoNewPrivs"].strip() == "1"
    r = subprocess.run(["setpriv", "--reuid", "903", "--regid", "903", "--clear-groups", "cat", f"/proc/{pid}/environ"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Permission denied" in r.stderr, r
    # Stopped, not killed: the window in which nothing decides is held
    # open. The connection's SYN waits in the queue for a verdict; nothing
    # reaches the server.
    os.kill(pid, signal.SIGSTOP)
    out = client(net, "tls", SHARED, "443", "tls-ok.test", str(certs / "ca.pem"), "1")
    assert out["result"] == "timeout", out
    os.kill(pid, signal.SIGKILL)
    sandbox.wait_for("name-checked connections are refused until it is restarted")
    assert gate_pid(sandbox, other_than=pid), "the name gate was not restarted"
    out = client(net, "tls", SHARED, "443", "tls-ok.test", str(certs / "ca.pem"))
    assert out["result"] == "ok", out
    assert server_saw(net) == ["tls tls-ok.test"]


def test_checked_connections_outlive_the_gate(net, sandbox, certs):
    """A connection whose checks are done is the kernel's alone: the gate
    killed and started again, it talks on."""
    pid = gate_pid(sandbox)
    n = 20
    p = hold(net, certs, n)
    try:
        os.kill(pid, signal.SIGKILL)
        assert gate_pid(sandbox, other_than=pid, timeout=10), "the name gate was not restarted"
        out = talk_again(p)
        assert out["result"] == "ok" and out["again"] == n, out
    finally:
        p.kill()
        p.wait()
