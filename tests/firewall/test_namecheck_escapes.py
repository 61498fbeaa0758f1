# SPDX-License-Identifier: MIT
"""Attacks on the name gate, as the sandbox user, against
a name-based virtual host that serves an allowed and a refused name on one
shared address (a CDN front end): namecheck_vhost.py in the network
namespace, namecheck_attack.py in the sandbox's.

  allowed.test  198.51.100.10, 2001:db8:2::10  (in the policy)
  evil.test     198.51.100.10, 2001:db8:2::10  (not in it)

Each test performs one attack and asserts that the refused name was not
reached."""
import json
import os
import subprocess
import sys
import time

import pytest

from fakenet import FakeNet, RunningInit
from nft_netpair import HERE

SHARED4 = "198.51.100.10"
SHARED6 = "2001:db8:2::10"
HOSTS = {"allowed.test": [SHARED4, SHARED6], "evil.test": [SHARED4, SHARED6]}
POLICY = """domains:
  - allowed.test
ports: [443, 80]
selfcheck:
  allowed: allowed.test:443
"""
NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


def fake_internet(tmp_path, raw_tls=True):
    n = FakeNet(tmp_path)
    # Ports 80 and 443 belong to the virtual host below; the echo
    # listeners keep 8080 and 7.
    n.listener_args = ["--tcp", "8080", "--tcp", "7"]
    n.setup(HOSTS)
    n.vhost_log = tmp_path / "vhost.log"
    n.vhost_log.write_text("")
    p = n.popen(n.net, [sys.executable, os.path.join(HERE, "namecheck_vhost.py"), "--http", "80",
                        *(["--raw", "443"] if raw_tls else []), "--log", str(n.vhost_log)],
                stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return n


@pytest.fixture
def net(tmp_path, need_root):
    n = None
    try:
        n = fake_internet(tmp_path)
        yield n
    finally:
        if n:
            n.teardown()


@pytest.fixture
def tls_net(tmp_path, need_root):
    """The same, with a real TLS server on port 443 of the shared address:
    OpenSSL's s_server with a certificate of its own for each name (made
    here, self-signed), logging the server name of each ClientHello and
    switching to evil.test's certificate when that is the name asked for."""
    n = None
    try:
        n = fake_internet(tmp_path, raw_tls=False)
        for name in ("allowed", "evil"):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", str(tmp_path / f"{name}.key"), "-out", str(tmp_path / f"{name}.pem"),
                            "-days", "2", "-subj", f"/CN={name}.test", "-addext", f"subjectAltName=DNS:{name}.test"],
                           check=True, capture_output=True)
        n.tls_log = tmp_path / "s_server.log"
        out = open(n.tls_log, "w")
        n.popen(n.net, ["openssl", "s_server", "-accept", "443", "-tls1_3", "-msg",
                        "-cert", str(tmp_path / "allowed.pem"), "-key", str(tmp_path / "allowed.key"),
                        "-servername", "evil.test",
                        "-cert2", str(tmp_path / "evil.pem"), "-key2", str(tmp_path / "evil.key")],
                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while "ACCEPT" not in n.tls_log.read_text():
            assert time.monotonic() < deadline, n.tls_log.read_text()
            time.sleep(0.05)
        yield n
    finally:
        if n:
            n.teardown()


def start(net, policy=POLICY, user="65534:65534"):
    init = RunningInit(net, net.write_policy(policy), "--user", user)
    init.wait_for("sandbox ready")
    return init


def attack(net, *args, as_user=NOBODY):
    out = net.run(net.sbx, as_user + [sys.executable, os.path.join(HERE, "namecheck_attack.py"), *args],
                  timeout=30)
    return json.loads(out.stdout)


def vhost_lines(net):
    time.sleep(0.2)
    return net.vhost_log.read_text().splitlines()


def reached(net, host):
    return [l for l in vhost_lines(net) if l == f"http 80 host={host}"]


@pytest.mark.parametrize("addr,mode", [(SHARED4, "keepalive"), (SHARED6, "pipeline")])
def test_a_second_http_request_on_a_checked_connection_cannot_name_a_refused_host(net, addr, mode):
    """Every request head of a port-80 connection is checked, not only the
    first: a second request on the same connection (after the first answer,
    or in the same write) naming another Host would be routed there by a
    shared front end. Written together, the two travel in one packet, which
    passes whole or not at all: neither reaches the server."""
    init = start(net)
    try:
        # The refused name alone is refused: the check works for a first request.
        alone = attack(net, "http", addr, "80", "evil.test", "evil.test", "keepalive")
        assert alone["error"] and not reached(net, "evil.test"), alone
        out = attack(net, "http", addr, "80", "allowed.test", "evil.test", mode)
        if mode == "keepalive":
            assert out["replies"][:1] == ["vhost=allowed.test"], out
            assert reached(net, "allowed.test"), vhost_lines(net)
        assert "vhost=evil.test" not in out["replies"], out
        assert not reached(net, "evil.test"), vhost_lines(net)
    finally:
        init.stop()


def test_requests_after_a_body_are_checked_and_upgrades_refused(net):
    """The gate follows request framing on a checked HTTP connection: the
    head after a Content-Length or chunked body is checked like the first;
    a body on a method that has none in practice (GET, HEAD, OPTIONS) is refused, since a server
    that does not read it takes it for the next request; a request asking for an upgrade (WebSocket, h2c) is refused, since the
    bytes after a 101 are no longer requests."""
    head = lambda h, extra="": f"POST / HTTP/1.1\r\nHost: {h}\r\n{extra}\r\n"
    get = lambda h: f"GET / HTTP/1.1\r\nHost: {h}\r\n\r\n"
    chunked = "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"
    send = lambda text: attack(net, "raw", SHARED4, "80", text.encode().hex())
    init = start(net)
    try:
        ok = send(head("allowed.test", "Content-Length: 5\r\n") + "hello" + get("allowed.test"))
        assert ok["data"].count("vhost=allowed.test") == 2, ok
        ok = send(head("allowed.test", "Transfer-Encoding: chunked\r\n") + chunked + get("allowed.test"))
        assert ok["data"].count("vhost=allowed.test") >= 2, ok
        for text in (head("allowed.test", "Content-Length: 5\r\n") + "hello" + get("evil.test"),
                     head("allowed.test", "Transfer-Encoding: chunked\r\n") + chunked + get("evil.test"),
                     # a request hidden in what would be a body, had there been a length
                     head("allowed.test") + get("evil.test"),
                     # a chunk that is longer than it says
                     head("allowed.test", "Transfer-Encoding: chunked\r\n") + "3\r\nhello\r\n0\r\n\r\n" + get("evil.test"),
                     head("allowed.test", "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n") + "0\r\n\r\n" + get("evil.test"),
                     # a body on GET, which many servers do not read: they
                     # would take it for the next request (CL.0 smuggling)
                     f"GET / HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: {len(get('evil.test'))}\r\n\r\n"
                     + get("evil.test"),
                     "HEAD / HTTP/1.1\r\nHost: allowed.test\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
                     + get("evil.test"),
                     f"OPTIONS /api HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: {len(get('evil.test'))}\r\n\r\n"
                     + get("evil.test")):
            out = send(text)
            assert out["result"] == "reset" and "vhost=evil.test" not in out["data"], (text, out)
        up = send("GET / HTTP/1.1\r\nHost: allowed.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        assert up["result"] == "reset" and not up["data"], up
        assert not reached(net, "evil.test"), vhost_lines(net)
        init.wait_for("evil.test")         # the later head's refusal is reported, named
    finally:
        init.stop()


def test_keep_alive_requests_for_the_allowed_name_go_through(net):
    init = start(net)
    try:
        for addr, mode in ((SHARED4, "keepalive"), (SHARED6, "pipeline")):
            out = attack(net, "http", addr, "80", "allowed.test", "allowed.test", mode)
            assert out["replies"] == ["vhost=allowed.test"] * 2 and not out["error"], out
    finally:
        init.stop()


# An HTTPS record (RFC 9460) for allowed.test: priority 1, target ".",
# alpn "h2", and an ech SvcParam (key 5) with four bytes of configuration.
HTTPS_RR_WITH_ECH = "0001" "00" "0001" "0003" "026832" "0005" "0004" "01020304"


def test_the_resolver_hands_out_no_ech_configuration(tmp_path, need_root):
    """With Encrypted Client Hello the name a front end serves is in the
    encrypted inner ClientHello; the gate checks the outer one, the only
    one it can read. A client gets the front end's ECH configuration from
    the name's HTTPS (or SVCB) record: the sandbox's resolver answers those
    queries with no record, even where the upstream has one, so no client
    learns a configuration through the sandbox's DNS (a hard-coded one is
    domain fronting: docs/security.md, Not covered)."""
    n = FakeNet(tmp_path)
    try:
        n.dnsmasq_args = [f"--dns-rr=allowed.test,65,{HTTPS_RR_WITH_ECH}"]
        n.setup(HOSTS)
        client = [sys.executable, os.path.join(HERE, "dnsclient.py"), "192.0.2.1", "allowed.test", "HTTPS"]
        # Before the sandbox starts, the upstream itself answers with the record.
        upstream = json.loads(n.run(n.sbx, client).stdout)
        assert upstream.get("other") == [65], upstream
        init = start(n)
        try:
            for tcp in ([], ["--tcp"]):
                out = json.loads(n.run(n.sbx, NOBODY + client[:2] + tcp + client[2:]).stdout)
                assert out.get("rcode") == 0 and out["answers"] == [] and "other" not in out, (tcp, out)
        finally:
            init.stop()
    finally:
        n.teardown()


def test_a_sandbox_user_with_the_gates_uid_is_refused_or_name_checked(net):
    """The gate runs as uid 903 (or the uid of agent-sandbox-proxy). A
    sandbox user with that uid (a DEV_UID of 903, --user 903:903, an image
    whose own user has the fallback uid) could signal or trace the gate.
    The init should refuse to start such a user, as it does for its own
    uid; if it runs, its connections are checked like any other."""
    init = RunningInit(net, net.write_policy(POLICY), "--user", "903:903")
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if any("sandbox ready" in l for l in init.lines) or init.proc.poll() is not None:
                break
            time.sleep(0.05)
        if init.proc.poll() is not None:
            return          # refused to start: fails closed
        assert any("sandbox ready" in l for l in init.lines), init.lines
        as_gate_uid = ["setpriv", "--reuid", "903", "--regid", "903", "--clear-groups"]
        out = attack(net, "tls", SHARED4, "443", "evil.test", as_user=as_gate_uid)
        hellos = [l for l in vhost_lines(net) if l.startswith("raw 443 ")
                  and "6576696c2e74657374" in l]      # "evil.test"
        assert out["result"] == "reset" and not hellos, (out, hellos)
    finally:
        init.stop()


def test_the_name_check_and_its_limits_are_documented():
    """docs/ must stay true: the policy reference names the name_check key,
    and the security model no longer calls the proxy a later release."""
    root = os.path.dirname(os.path.dirname(HERE))
    with open(os.path.join(root, "docs", "policy.md")) as f:
        policy = f.read()
    with open(os.path.join(root, "docs", "security.md")) as f:
        security = f.read()
    assert "name_check" in policy
    assert "name-checking proxy of a later release" not in " ".join(security.split())


# More connections than the gate ever follows (NAMEGATE_FLOWS_MAX).
CROWD = 8300


def test_a_refused_name_sends_no_byte_upstream(net):
    """The connection goes direct, its handshake done before any name is
    seen: a refused ClientHello or request head must still never reach the
    server, not even in part (the server here logs the first bytes of
    every connection on 443, and every request head on 80)."""
    init = start(net)
    try:
        raw = lambda: [l for l in vhost_lines(net) if l.startswith("raw 443 ")]
        assert attack(net, "tls", SHARED4, "443", "allowed.test")["result"] == "open"
        assert len(raw()) == 1 and raw()[0].startswith("raw 443 16030"), vhost_lines(net)
        for addr in (SHARED4, SHARED6):
            assert attack(net, "tls", addr, "443", "evil.test")["result"] == "reset"
            head = b"GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n".hex()
            assert attack(net, "raw", addr, "80", head)["result"] == "reset"
        assert len(raw()) == 1 and not reached(net, "evil.test"), vhost_lines(net)
    finally:
        init.stop()


def test_connections_that_say_nothing_do_not_keep_out_a_well_formed_one(net):
    """The gate follows a fixed number of connections (8192). One user who
    opens that many and says nothing must not have every later
    name-checked connection of every user (root's terminals too) refused:
    the quietest one that holds nothing makes way for a new one, and PID 1
    says so in a bounded number of lines."""
    import resource
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < CROWD + 100:
        pytest.skip(f"needs a descriptor limit above {CROWD + 100}")
    init = start(net)
    try:
        assert attack(net, "tls", SHARED4, "443", "allowed.test")["result"] == "open"
        out = attack(net, "crowd", SHARED4, "443", str(CROWD), "allowed.test")
        assert out["result"] == "open", (out, init.lines[-3:])
        # PID 1 says why the silent ones were ended, in a bounded number of lines.
        init.wait_for("at its limit of followed connections")
        assert sum("at its limit" in l for l in init.lines) <= 10, init.lines[-12:]
    finally:
        init.stop()


def test_a_second_clienthello_naming_the_same_host_goes_through(tls_net):
    """A client that is asked again and names the same server (any honest
    one) gets the server's answer to its second ClientHello."""
    net = tls_net
    init = start(net)
    try:
        out = attack(net, "hrr", SHARED4, "443", "allowed.test", "ALLOWED.test")
        assert out == {"hrr": True, "second": "reply"}, out
    finally:
        init.stop()


def test_a_second_clienthello_after_a_hello_retry_request_cannot_name_a_refused_host(tls_net):
    """TLS 1.3 lets the server ask for a second ClientHello
    (HelloRetryRequest). OpenSSL takes the server name of the second, and a
    server that picks its site by name (s_server -servername here; nginx,
    HAProxy with crt-list) serves the refused one: the gate reads the
    server's first record and then the second ClientHello. (s_server serves
    one connection at a time, and a refused connection is reset on the
    client's side only: the attempt alone comes last.)"""
    net = tls_net
    init = start(net)
    try:
        out = attack(net, "hrr", SHARED4, "443", "allowed.test", "evil.test")
        time.sleep(0.3)
        seen = [l for l in net.tls_log.read_text().splitlines() if "Hostname in TLS extension" in l]
        assert out["hrr"] is True and seen[:1] == ['Hostname in TLS extension: "allowed.test"'], (out, seen)
        assert 'Hostname in TLS extension: "evil.test"' not in seen, (out, seen)
        alone = attack(net, "tls", SHARED4, "443", "evil.test")
        assert alone["result"] == "reset", alone
    finally:
        init.stop()


# The end of a client script with its socket s and what it read first: how
# the connection ends within the socket's timeout, and what came until then.
HOW_IT_ENDS = r"""
rest, after = b"", "open"
t0 = time.monotonic()
try:
    while True:
        data = s.recv(4096)
        if not data:
            after = "closed"
            break
        rest += data
except ConnectionResetError:
    after = "reset"
except socket.timeout:
    pass
print(json.dumps({"first": first, "rest": rest.decode(errors="replace"), "after": after,
                  "seconds": round(time.monotonic() - t0, 2)}))
"""

# One request for allowed.test on port 80, then a byte of TCP urgent data
# where the next request head would begin; then how the connection ends
# within 5 s.
URGENT_CLIENT = r"""
import json, socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
first = s.recv(4096).decode(errors="replace")
s.send(b"G", socket.MSG_OOB)
""" + HOW_IT_ENDS


def test_urgent_data_where_a_check_is_due_is_refused(net):
    """A server that does not read urgent data inline takes the urgent byte
    out of the stream the check read: where a check is due (every request
    head of a port-80 connection) urgent data resets the connection, and
    the server sees no second request."""
    init = start(net)
    try:
        out = json.loads(net.run(net.sbx, NOBODY + [sys.executable, "-c", URGENT_CLIENT, SHARED4],
                                 timeout=30).stdout)
        assert "vhost=allowed.test" in out["first"], out
        assert out["after"] == "reset" and out["seconds"] < 2, out
        assert len(reached(net, "allowed.test")) == 1, vhost_lines(net)
        # and the gate still serves the next connection
        assert attack(net, "http", SHARED4, "80", "allowed.test", "allowed.test", "keepalive")["replies"][:1] == \
            ["vhost=allowed.test"]
    finally:
        init.stop()


PARTIAL_SECOND_HEAD = r"""
import json, socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
first = s.recv(4096).decode(errors="replace")
s.sendall(b"GET / HTTP/1.1\r\nHost: allo")
time.sleep(float(sys.argv[2]))
try:
    s.sendall(b"wed.test\r\n\r\n")
except OSError:
    pass
""" + HOW_IT_ENDS


def test_a_later_request_head_that_stops_halfway_is_given_the_hellos_deadline(net):
    """Each request head of a keep-alive connection is checked, and the
    check waits for the rest of a head as it does for a ClientHello: at
    most its 10 s deadline, restarted by each check that passes, not the
    30-minute idle timeout. What the client sends after the deadline is
    refused, and the head is never complete at the server."""
    init = start(net)
    try:
        out = json.loads(net.run(net.sbx, NOBODY + [sys.executable, "-c", PARTIAL_SECOND_HEAD, SHARED4, "12"],
                                 timeout=40).stdout)
        assert "vhost=allowed.test" in out["first"], out
        assert out["after"] == "reset", out
        assert len(reached(net, "allowed.test")) == 1 and not [l for l in vhost_lines(net) if "allowed.testwed" in l]
        init.wait_for("incomplete when the wait ran out")
    finally:
        init.stop()


SLOW_PIPELINE_CLIENT = r"""
import json, socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
head = b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n"
writes = int(sys.argv[2])
answers, error = b"", None
try:
    s.sendall(head[:8])
    for _ in range(writes):
        time.sleep(0.8)
        s.sendall(head[8:] + head[:8])
        s.setblocking(False)
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                answers += data
        except BlockingIOError:
            pass
        s.setblocking(True)
    s.sendall(head[8:])
    s.settimeout(5)
    while answers.count(b"vhost=allowed.test") < writes + 1:
        data = s.recv(65536)
        if not data:
            break
        answers += data
except OSError as e:
    error = type(e).__name__
print(json.dumps({"answers": answers.count(b"vhost=allowed.test"), "error": error}))
"""


def test_an_honest_pipelining_client_is_not_cut_off_by_the_checks_deadline(net):
    """The deadline of a check waiting for part of a head runs from when
    that part came, and restarts when a check passes: a client that keeps
    completing heads is never reset, however long it pipelines."""
    init = start(net)
    try:
        writes = 16     # 12.8 s with a head always partial: past the 10 s deadline
        out = json.loads(net.run(net.sbx, NOBODY + [sys.executable, "-c", SLOW_PIPELINE_CLIENT, SHARED4, str(writes)],
                                 timeout=60).stdout)
        assert out == {"answers": writes + 1, "error": None}, out
    finally:
        init.stop()


# A second request on a checked connection in small pieces, one per
# packet (one of a single byte): every packet with a byte in it must still
# go to the gate (the rules let a plain HTTP flow's packets without one
# pass it by), and the pieces before the last are dropped and sent again.
PIECES_CLIENT = r"""
import json, socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.sendall(b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
first = s.recv(4096).decode(errors="replace")
for piece in (b"G", b"ET / HTTP/1.1\r\n", b"Host: " + sys.argv[2].encode(), b"\r\n\r\n"):
    try:
        s.send(piece)
    except OSError:
        break
    time.sleep(float(sys.argv[3]))
""" + HOW_IT_ENDS


@pytest.mark.parametrize("host", ["evil.test", "allowed.test"])
def test_a_second_request_in_small_pieces_is_checked_all_the_same(net, host):
    init = start(net)
    try:
        out = json.loads(net.run(net.sbx, NOBODY + [sys.executable, "-c", PIECES_CLIENT, SHARED4, host, "0.05"],
                                 timeout=30).stdout)
        assert "vhost=allowed.test" in out["first"], out
        if host == "evil.test":
            assert out["after"] == "reset", out
            assert not reached(net, "evil.test"), vhost_lines(net)
        else:
            assert "vhost=allowed.test" in out["rest"], out
            assert len(reached(net, "allowed.test")) == 2, vhost_lines(net)
    finally:
        init.stop()


# A ClientHello in two writes with a pause between, Nagle's algorithm on:
# the second waits for the server to acknowledge the first, so the first
# must pass while the name is not known yet; the second completes the
# hello and passes with it, or is refused.
# How a client script's connection s goes on within 3 s: an answer, its
# end, a reset, or nothing.
WHAT_CAME = r"""
s.settimeout(3)
try:
    data = s.recv(4096)
    after = "closed" if not data else "data"
except socket.timeout:
    after = "open"
except ConnectionResetError:
    after = "reset"
"""

SPLIT_HELLO_CLIENT = r"""
import json, socket, sys, time
sys.path.insert(0, sys.argv[2])
from namecheck_attack import client_hello
hello = client_hello(sys.argv[3], False)
s = socket.create_connection((sys.argv[1], 443), timeout=5)
s.sendall(hello[:40])
time.sleep(0.3)
s.sendall(hello[40:])
""" + WHAT_CAME + r"""
print(json.dumps({"after": after, "hello": hello.hex()}))
"""


@pytest.mark.parametrize("name", ["allowed.test", "evil.test"])
def test_a_clienthello_in_two_writes_is_checked_whole(net, name):
    init = start(net)
    try:
        out = json.loads(net.run(net.sbx, NOBODY + [sys.executable, "-c", SPLIT_HELLO_CLIENT, SHARED4, HERE, name],
                                 timeout=30).stdout)
        raw = lambda: [l for l in vhost_lines(net) if l.startswith("raw 443 ")]
        if name == "allowed.test":
            assert out["after"] == "open", out
            deadline = time.monotonic() + 5
            while not raw() and time.monotonic() < deadline:
                pass
            assert raw() == [f"raw 443 {out['hello']}"], (out, raw())
        else:
            assert out["after"] == "reset", out
            init.wait_for("refused TLS server name evil.test")
            # The server saw its first part at most, never the whole.
            assert all(len(l) < len(f"raw 443 {out['hello']}") for l in raw()), raw()
    finally:
        init.stop()


# A keep-alive connection that asked once, then waits for its next line
# on stdin, asks again and says how that went.
ASK_TWICE_CLIENT = r"""
import json, socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=5)
req = b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n"
s.sendall(req)
first = s.recv(4096).decode(errors="replace")
print(json.dumps({"first": first}), flush=True)
sys.stdin.readline()
try:
    s.sendall(req)
    data = s.recv(4096)
    second = "closed" if not data else data.decode(errors="replace")
except ConnectionResetError:
    second = "reset"
except socket.timeout:
    second = "timeout"
print(json.dumps({"second": second}), flush=True)
"""


def test_a_restarted_gate_refuses_the_flows_it_did_not_see_begin(net):
    """A new gate knows nothing of where the streams of flows begun before
    it stand: a plain HTTP connection still being checked is refused at
    its next request rather than let through unread; new ones are checked
    as before."""
    from test_namecheck import gate_pid
    init = start(net)
    try:
        p = net.popen(net.sbx, NOBODY + [sys.executable, "-c", ASK_TWICE_CLIENT, SHARED4],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert "vhost=allowed.test" in json.loads(p.stdout.readline())["first"]
        pid = gate_pid(init)
        os.kill(pid, 9)
        assert gate_pid(init, other_than=pid, timeout=10), "the name gate was not restarted"
        p.stdin.write("\n")
        p.stdin.flush()
        second = json.loads(p.stdout.readline())["second"]
        p.wait(timeout=10)
        assert second == "reset", second
        assert len(reached(net, "allowed.test")) == 1, vhost_lines(net)
        assert attack(net, "http", SHARED4, "80", "allowed.test", "allowed.test", "keepalive")["replies"][:1] == \
            ["vhost=allowed.test"]
    finally:
        init.stop()


def test_a_connection_that_misses_the_gate_is_refused_by_the_filter(net):
    """The gate's rule and the accept rules after it look the allowed and
    learned sets up apart for the same SYN: an address the resolver adds
    between the two lookups (or any other gap) must not let a connection
    to a name-checked port past the gate. With the gate's rules gone, the
    sandbox user's connection is reset at its SYN rather than accepted
    unchecked."""
    init = start(net)
    try:
        assert attack(net, "tls", SHARED4, "443", "allowed.test")["result"] == "open"
        out = json.loads(net.run(net.sbx, ["nft", "-j", "-a", "list", "chain", "inet", "agent_sandbox", "output"]).stdout)
        gate_rules = [o["rule"]["handle"] for o in out["nftables"] if "rule" in o
                      and o["rule"].get("comment", "").endswith(": through the name gate")
                      and o["rule"]["comment"].startswith("name-checked ports of")]
        assert len(gate_rules) == 4, out
        for handle in gate_rules:
            net.run(net.sbx, ["nft", "delete", "rule", "inet", "agent_sandbox", "output", "handle", str(handle)])
        before = len(vhost_lines(net))
        for addr in (SHARED4, SHARED6):
            out = attack(net, "tls", addr, "443", "evil.test")
            assert out["result"] == "ConnectionRefusedError", (addr, out)     # the SYN was reset
        out = attack(net, "http", SHARED4, "80", "evil.test", "evil.test", "keepalive")
        assert out["error"] and not out["replies"], out
        assert not vhost_lines(net)[before:], vhost_lines(net)
    finally:
        init.stop()


# Both ClientHellos in one write, before the server has said anything: the
# first (no key share) makes the server ask again, and a server that reads
# on takes the second, which names another host, as the answer.
BOTH_HELLOS_CLIENT = r"""
import json, os, socket, sys
sys.path.insert(0, sys.argv[2])
from namecheck_attack import client_hello
sid = os.urandom(32)
first = client_hello("allowed.test", False, key_share=False, session_id=sid)
second = client_hello("evil.test", False, session_id=sid)
s = socket.create_connection((sys.argv[1], 443), timeout=5)
s.sendall(first + b"\x14\x03\x03\x00\x01\x01" + second)
""" + WHAT_CAME + r"""
print(json.dumps({"after": after}))
"""


def test_a_second_clienthello_sent_before_the_server_asks_does_not_reach_it(tls_net):
    """The client's bytes after its ClientHello wait for the server's first
    record: only then is it known whether a second ClientHello may come,
    and whether it must name the first's server. Sent at once with the
    first, they would reach a server that asks again before the gate could
    check them."""
    net = tls_net
    init = start(net)
    try:
        out = json.loads(net.run(net.sbx, NOBODY + [sys.executable, "-c", BOTH_HELLOS_CLIENT, SHARED4, HERE],
                                 timeout=30).stdout)
        time.sleep(0.3)
        seen = [l for l in net.tls_log.read_text().splitlines() if "Hostname in TLS extension" in l]
        assert 'Hostname in TLS extension: "evil.test"' not in seen, (out, seen)
        assert out["after"] != "data", out
    finally:
        init.stop()


# A request whose bytes the sender rewrites right after handing them over:
# sendfile() from a file, or vmsplice() from its own memory, gives the
# kernel pages the sender can still write, read again when the packet
# leaves. Each try first opens a burst of connections, so that the gate is
# busy for a moment with their SYNs when the request comes.
REWRITE_CLIENT = r"""
import ctypes, json, os, socket, sys, tempfile, time
addr, mode, tries = sys.argv[1], sys.argv[2], int(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
req = b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n"
at = req.index(b"allowed")
replies = []
for _ in range(tries):
    s = socket.create_connection((addr, 80), timeout=3)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    burst = []
    for _ in range(100):
        b = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        b.setblocking(False)
        try:
            b.connect((addr, 80))
        except BlockingIOError:
            pass
        burst.append(b)
    if mode == "sendfile":
        with tempfile.TemporaryFile() as f:
            f.write(req)
            f.flush()
            os.sendfile(s.fileno(), f.fileno(), 0, len(req))
            os.pwrite(f.fileno(), b"evil123", at)
            time.sleep(0.05)
    else:
        # vmsplice(2) through ctypes: the pages of buf go into the pipe.
        buf = ctypes.create_string_buffer(req, 4096)
        iov = (ctypes.c_void_p * 2)(ctypes.addressof(buf), len(req))
        r, w = os.pipe()
        assert libc.vmsplice(w, iov, 1, 0) == len(req)
        os.splice(r, s.fileno(), len(req))
        ctypes.memmove(ctypes.addressof(buf) + at, b"evil123", 7)
        time.sleep(0.05)
        os.close(r)
        os.close(w)
    try:
        replies.append(s.recv(4096).decode(errors="replace"))
    except OSError as e:
        replies.append(type(e).__name__)
    for b in burst:
        b.close()
    s.close()
print(json.dumps({"replies": replies}))
"""


@pytest.mark.parametrize("mode", ["sendfile", "vmsplice"])
def test_bytes_rewritten_after_the_check_do_not_reach_the_server(net, mode):
    """The gate reads a packet's bytes when it is queued; the packet goes
    on with those bytes, not with what its pages hold by the time it
    leaves."""
    init = start(net)
    try:
        out = json.loads(net.run(net.sbx, NOBODY + [sys.executable, "-c", REWRITE_CLIENT, SHARED4, mode, "30"],
                                 timeout=120).stdout)
        assert not [l for l in vhost_lines(net) if "evil123" in l], vhost_lines(net)
        assert any("vhost=allowed.test" in r for r in out["replies"]), out
    finally:
        init.stop()
