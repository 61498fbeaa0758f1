# SPDX-License-Identifier: MIT
"""Attacks on the name-checking splice proxy, as the sandbox user, against
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

from fakenet import FakeNet, RunningInit, pipes_of
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
    """Only the first request head of a port-80 connection is checked; the
    rest is spliced unread. A second request on the same connection (after
    the first answer, or in the same write) names any Host, and a shared
    front end routes it there."""
    init = start(net)
    try:
        # The refused name alone is refused: the check works for a first request.
        alone = attack(net, "http", addr, "80", "evil.test", "evil.test", "keepalive")
        assert alone["error"] and not reached(net, "evil.test"), alone
        out = attack(net, "http", addr, "80", "allowed.test", "evil.test", mode)
        # Pipelined, a proxy that refuses the second request may reset the
        # connection before the first answer is read.
        if mode == "keepalive":
            assert out["replies"][:1] == ["vhost=allowed.test"], out
        assert reached(net, "allowed.test"), vhost_lines(net)
        assert "vhost=evil.test" not in out["replies"], out
        assert not reached(net, "evil.test"), vhost_lines(net)
    finally:
        init.stop()


def test_requests_after_a_body_are_checked_and_upgrades_refused(net):
    """The proxy follows request framing on a checked HTTP connection: the
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
    encrypted inner ClientHello; the proxy checks the outer one, the only
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


def test_a_sandbox_user_with_the_proxy_uid_is_refused_or_name_checked(net):
    """The name_check chain exempts the proxy's uid (903, or the uid of
    agent-sandbox-proxy). A sandbox user with that uid (a DEV_UID of 903,
    --user 903:903, an image whose own user has the fallback uid) is
    exempt too: every name reaches every allowed address. The init should
    refuse to start such a user, as it does for its own uid."""
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
        as_proxy_uid = ["setpriv", "--reuid", "903", "--regid", "903", "--clear-groups"]
        out = attack(net, "tls", SHARED4, "443", "evil.test", as_user=as_proxy_uid)
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


# More connections than the proxy ever holds (SPLICEPROXY_CONNS_MAX).
CROWD = 8300


def test_a_refused_name_sends_no_byte_upstream(net):
    """The proxy connects upstream as soon as it accepts, while it waits for
    the name: a refused ClientHello or request head must still never reach
    the server, not even in part (the server here logs the first bytes of
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
    """The proxy holds a fixed number of connections (8192, or fewer as its
    descriptor limit allows), and a connection that has sent nothing keeps
    its place for the whole hello timeout. One user who opens that many and
    says nothing has every later name-checked connection of every user
    (root's terminals too) reset, with no denial entry and no log line; by
    reconnecting every 10 s it keeps it so. The oldest silent connection
    should make way for a new one."""
    import resource
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < CROWD + 100:
        pytest.skip(f"needs a descriptor limit above {CROWD + 100}")
    init = start(net)
    try:
        assert attack(net, "tls", SHARED4, "443", "allowed.test")["result"] == "open"
        out = attack(net, "crowd", SHARED4, "443", str(CROWD), "allowed.test")
        assert out["result"] == "open", (out, init.lines[-3:])
        # PID 1 says why the silent ones were ended, in a bounded number of lines.
        init.wait_for("at its limit of name-checked connections")
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
    (HelloRetryRequest). The proxy checks the first and splices the rest
    unread; OpenSSL takes the server name of the second, and a server that
    picks its site by name (s_server -servername here; nginx, HAProxy with
    crt-list) serves the refused one."""
    net = tls_net
    init = start(net)
    try:
        alone = attack(net, "tls", SHARED4, "443", "evil.test")
        assert alone["result"] == "reset", alone
        out = attack(net, "hrr", SHARED4, "443", "allowed.test", "evil.test")
        time.sleep(0.3)
        seen = [l for l in net.tls_log.read_text().splitlines() if "Hostname in TLS extension" in l]
        assert out["hrr"] is True and seen[:1] == ['Hostname in TLS extension: "allowed.test"'], (out, seen)
        assert 'Hostname in TLS extension: "evil.test"' not in seen, (out, seen)
    finally:
        init.stop()


def test_a_connection_that_missed_the_redirect_is_refused_by_the_filter(net):
    """The redirect (nat chain name_check) and the filter's accept rules
    look the allowed and learned sets up apart for the same SYN; an address
    the resolver adds between the two lookups (or any gap in the redirect)
    would let a connection to a name-checked port past the proxy. The
    filter takes such a connection only from the proxy's uid or the init's
    marked sockets. With the redirect rules gone, the sandbox user's
    connection must be reset rather than reach the server unchecked."""
    init = start(net)
    try:
        assert attack(net, "tls", SHARED4, "443", "allowed.test")["result"] == "open"
        net.run(net.sbx, ["nft", "flush", "chain", "inet", "agent_sandbox", "name_check"])
        before = len(vhost_lines(net))
        for addr in (SHARED4, SHARED6):
            out = attack(net, "tls", addr, "443", "evil.test")
            assert out["result"] == "ConnectionRefusedError", (addr, out)     # the SYN was reset
        out = attack(net, "http", SHARED4, "80", "evil.test", "evil.test", "keepalive")
        assert out["error"] and not out["replies"], out
        got = vhost_lines(net)[before:]
        assert not got, got
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

# One request for allowed.test on port 80, then (client) a byte of TCP
# urgent data from the client, or (server) the answer to /urgent, which the
# server follows with one; then how the connection ends within 5 s.
URGENT_CLIENT = r"""
import json, socket, sys, time
addr, who = sys.argv[1], sys.argv[2]
s = socket.create_connection((addr, 80), timeout=5)
path = "/urgent" if who == "server" else "/"
s.sendall(f"GET {path} HTTP/1.1\r\nHost: allowed.test\r\n\r\n".encode())
first = s.recv(4096).decode(errors="replace")
if who == "client":
    s.send(b"!", socket.MSG_OOB)
""" + HOW_IT_ENDS


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("who", ["client", "server"])
def test_urgent_data_ends_the_connection_instead_of_wedging_the_proxy(net, who):
    """splice() stops at TCP urgent data for good while the socket stays
    readable: a proxy that only splices then spins on the level-triggered
    readiness at full CPU until the 30-minute idle timeout, and the
    connection carries nothing more. Either end can send it (the sandbox
    user, or any server the policy allows)."""
    from test_namecheck import proxy_pid
    init = start(net)
    try:
        out = json.loads(net.run(net.sbx, NOBODY + [sys.executable, "-c", URGENT_CLIENT, SHARED4, who],
                                 timeout=30).stdout)
        assert "vhost=allowed.test" in out["first"], out
        assert out["after"] in ("reset", "closed") and out["seconds"] < 2, out
        pid = proxy_pid(init)
        before = cpu_seconds(pid)
        time.sleep(1)
        assert cpu_seconds(pid) - before < 0.3, "the proxy is spinning"
        # and it still serves the next connection
        assert attack(net, "http", SHARED4, "80", "allowed.test", "allowed.test", "keepalive")["replies"][:1] == \
            ["vhost=allowed.test"]
    finally:
        init.stop()


PARTIAL_SECOND_HEAD = r"""
import json, socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=20)
s.sendall(b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
first = s.recv(4096).decode(errors="replace")
s.sendall(b"GET / HTTP/1.1\r\nHost: allo")
""" + HOW_IT_ENDS


def test_a_later_request_head_that_stops_halfway_is_given_the_hellos_deadline(net):
    """Checks after the first (each request head of a keep-alive
    connection) peek and wait for the rest of the head. A receive queue can
    fill with a part whose rest the kernel then has no room to take (a zero
    window: pipelined heads did it), and a client can stop halfway: the wait
    must end as the first hello's does, at its 10 s deadline, not after the
    30-minute idle timeout."""
    init = start(net)
    try:
        out = json.loads(net.run(net.sbx, NOBODY + [sys.executable, "-c", PARTIAL_SECOND_HEAD, SHARED4],
                                 timeout=40).stdout)
        assert "vhost=allowed.test" in out["first"], out
        assert out["after"] == "reset" and 8 <= out["seconds"] <= 14, out
        init.wait_for("incomplete when the wait ran out")
    finally:
        init.stop()


# As the proxy's user: pipes grown to 1 MiB until the kernel refuses, which
# spends the user's host-wide pipe quota (fs.pipe-user-pages-soft); held
# until stdin closes.
PIPE_HOG = r"""
import fcntl, os, sys
pipes = []
while True:
    r, w = os.pipe()
    pipes.append((r, w))
    try:
        fcntl.fcntl(w, 1031, 1 << 20)   # F_SETPIPE_SZ
    except PermissionError:
        break
print(len(pipes), flush=True)
sys.stdin.read()
"""


# In the network namespace: answers each request head on ADDR:PORT with
# N bytes (blocking writes, one connection at a time).
BULK_SERVER = r"""
import socket, sys
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((addr, port))
l.listen(4)
print("ready", flush=True)
chunk = b"x" * 65536
while True:
    c, _ = l.accept()
    head = b""
    while b"\r\n\r\n" not in head:
        more = c.recv(4096)
        if not more:
            break
        head += more
    c.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n".encode())
    left = n
    while left > 0:
        left -= c.send(chunk[:left])
    c.close()
"""

# Prints how many bytes one request for allowed.test on ADDR:PORT got back.
BULK_CLIENT = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
s.sendall(b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
got = 0
while True:
    data = s.recv(1 << 20)
    if not data:
        break
    got += len(data)
print(got)
"""


def proxy_pipe_sizes(pid):
    """F_GETPIPE_SZ of every pipe whose both ends the proxy holds (its
    splice pipes, not its standard error), each reopened through /proc,
    which root may do."""
    import fcntl
    sizes = []
    for fds in pipes_of(pid).values():
        if len(fds) < 2:
            continue
        f = os.open(f"/proc/{pid}/fd/{fds[0]}", os.O_RDONLY | os.O_NONBLOCK)
        try:
            sizes.append(fcntl.fcntl(f, 1032))      # F_GETPIPE_SZ
        finally:
            os.close(f)
    return sorted(sizes)


def test_pipes_made_while_the_pipe_quota_was_spent_are_not_kept(net):
    """While the proxy user's pipe quota is spent (every sandbox's proxy on
    a host runs as that user), new pipes keep the kernel's smallest size.
    Kept as spares, they would slow every later transfer of this proxy long
    after the quota is back."""
    from test_namecheck import proxy_pid
    bulk = 128 << 20
    server = net.popen(net.net, [sys.executable, "-c", BULK_SERVER, SHARED4, "8081", str(bulk)],
                       stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready"
    init = start(net, POLICY.replace("ports: [443, 80]", "ports: [443, 80, 8081]") +
                 "name_check: {http_ports: [80, 8081]}\n")
    hog = None
    try:
        pid = proxy_pid(init)
        hog = net.popen(net.sbx, ["setpriv", "--reuid", "903", "--regid", "903", "--clear-groups",
                                  sys.executable, "-c", PIPE_HOG],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert int(hog.stdout.readline()) > 1
        for _ in range(6):
            out = attack(net, "http", SHARED4, "80", "allowed.test", "allowed.test", "keepalive")
            assert out["replies"][:1] == ["vhost=allowed.test"], out
        # A download through small pipes, each closed when empty: thousands
        # of them, and the log says so once (at most once a minute).
        got = net.run(net.sbx, NOBODY + [sys.executable, "-c", BULK_CLIENT, SHARED4, "8081"], timeout=120).stdout
        assert int(got) > bulk, got
        said = [l for l in init.lines if "F_SETPIPE_SZ" in l]
        assert len(said) == 1, said
        small = proxy_pipe_sizes(pid)
        hog.stdin.close()
        hog.wait(timeout=10)
        hog = None
        for _ in range(2):
            out = attack(net, "http", SHARED4, "80", "allowed.test", "allowed.test", "keepalive")
            assert out["replies"][:1] == ["vhost=allowed.test"], out
        sizes = proxy_pipe_sizes(pid)
        assert sizes and all(s == 1 << 20 for s in sizes), (small, sizes)
    finally:
        if hog:
            hog.stdin.close()
            hog.wait(timeout=10)
        init.stop()
        server.kill()


CRAFTED_URGENT_CLIENT = r"""
import json, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
first = ""
""" + HOW_IT_ENDS


def test_urgent_data_the_kernel_never_marks_valid_still_ends_the_connection(net):
    """A server that sends the urgent byte's segment before the one whose
    urgent pointer names it leaves the receiver's urgent data never valid:
    no EPOLLPRI, while splice() still stops at the mark. Only the mark
    (SIOCATMARK) tells the proxy why the readable source gives nothing."""
    from test_namecheck import proxy_pid
    server = net.popen(net.net, [sys.executable, os.path.join(HERE, "urgent_server.py"), SHARED4, "8081"],
                       stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready"
    init = start(net, POLICY.replace("ports: [443, 80]", "ports: [443, 80, 8081]") +
                 "name_check: {http_ports: [80, 8081]}\n")
    try:
        out = json.loads(net.run(net.sbx, NOBODY + [sys.executable, "-c", CRAFTED_URGENT_CLIENT, SHARED4, "8081"],
                                 timeout=30).stdout)
        assert out["rest"].startswith("AAAA") and out["after"] in ("reset", "closed") and out["seconds"] < 2, out
        pid = proxy_pid(init)
        before = cpu_seconds(pid)
        time.sleep(1)
        assert cpu_seconds(pid) - before < 0.3, "the proxy is spinning"
    finally:
        init.stop()
        server.kill()


# Pipelined requests written so that every write ends inside the next head:
# a check is always waiting for part of a head, and one passes every 0.8 s.
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
