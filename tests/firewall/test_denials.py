# SPDX-License-Identifier: MIT
"""The denial stream, with agent-sandbox-init as PID 1 of the sandbox
namespace: every connection the firewall refuses (reported by the kernel
over nfnetlink_log) and every DNS query the resolver refuses is one line in
the init's log, naming the destination and the name the sandbox resolved to
it, and one JSON line in the denial record that `agent-sandbox-init
denials` prints. Repeats are counted, the log as a whole is rate-limited,
and a flood of refused connects leaves PID 1 responsive and its memory
bounded."""
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
from fakenet import HERE, serving_init
from test_escapes import USER, health

HOSTS = {"allowed.test": ["198.51.100.10"], "a.wild.test": ["198.51.100.20"]}
# The echo probes on 443 speak neither TLS nor HTTP, which name checking
# refuses (test_namecheck.py): off here, where the subject is something else.
POLICY = 'domains: [allowed.test, "*.wild.test"]\ndns: {min_ttl: 1, grace: 1}\nname_check: {enabled: false}\n'
SUMMARY_S = 2
KEYS = {"time", "kind", "proto", "dst", "port", "name", "resolved_ago", "uid", "reason", "count"}
HALF = 256 * 1024       # denial_file.h: DENIAL_FILE_HALF


@pytest.fixture
def sandbox(net):
    # Where the sandbox user can read it, as in a container's /tmp (pytest's
    # own directories are root's alone).
    shared = tempfile.mkdtemp(prefix="asb-denials-")
    os.chmod(shared, 0o755)
    try:
        with serving_init(net, net.write_policy(POLICY), "--denial-summary-seconds", str(SUMMARY_S),
                          denials_dir=pathlib.Path(shared) / "record") as init:
            yield init
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def probe(net, *specs):
    r = net.run(net.sbx, USER + [sys.executable, os.path.join(HERE, "netclient.py"), "probe", *specs])
    return [p["result"] for p in json.loads(r.stdout)]


def ask(net, name, qtype="A"):
    r = net.run(net.sbx, USER + [sys.executable, os.path.join(HERE, "dnsclient.py"), "192.0.2.1", name, qtype])
    return json.loads(r.stdout)


def denial_lines(sandbox, text):
    return [l for l in sandbox.lines if text in l]


def records(net, sandbox, *args):
    """What `agent-sandbox-init denials` prints, run as the sandbox user."""
    r = net.run(net.sbx, USER + [INIT, "denials", "--dir", str(sandbox.denials_dir), *args], check=False)
    assert r.returncode == 0, r.stderr
    out = [json.loads(l) for l in r.stdout.splitlines()]
    for rec in out:
        assert set(rec) == KEYS, rec
    return out


def wait_until(cond, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_literal_address_is_named_once_and_repeats_are_counted(net, sandbox):
    assert probe(net, "tcp:203.0.113.5:443") == ["refused"]
    line = "denied tcp 203.0.113.5:443 (never resolved in the sandbox) by uid 65534: not in the policy"
    sandbox.wait_for(line)
    assert probe(net, *["tcp:203.0.113.5:443"] * 4) == ["refused"] * 4
    sandbox.wait_for(line + "; 4 times in the last", timeout=SUMMARY_S + 5)
    assert len(denial_lines(sandbox, "denied tcp 203.0.113.5:443")) == 2, sandbox.lines
    recs = [r for r in records(net, sandbox) if r["dst"] == "203.0.113.5"]
    assert [r["count"] for r in recs] == [1, 4], recs
    assert recs[0] == {**recs[0], "kind": "connect", "proto": "tcp", "port": 443, "name": None,
                       "resolved_ago": None, "uid": 65534, "reason": "not in the policy"}


def test_a_name_learned_then_dropped_from_the_policy_is_named(net, sandbox):
    assert ask(net, "a.wild.test")["answers"] == ["198.51.100.20"]
    assert probe(net, "tcp:198.51.100.20:443") == ["ok"]
    # The same address on a port the policy does not open: allowed address, refused port.
    assert probe(net, "tcp:198.51.100.20:8080") == ["refused"]
    sandbox.wait_for("denied tcp 198.51.100.20:8080 (a.wild.test, resolved ")
    assert "port not allowed for that address" in denial_lines(sandbox, "198.51.100.20:8080")[0]

    net.write_policy("domains: [allowed.test]\n")
    mark = len(sandbox.lines)
    os.kill(sandbox.init_pid(), signal.SIGHUP)
    sandbox.wait_for("DNS resolver started", after=mark)
    assert probe(net, "tcp:198.51.100.20:443") == ["refused"]
    sandbox.wait_for("denied tcp 198.51.100.20:443 (a.wild.test, resolved ", after=mark)
    lines = denial_lines(sandbox, "denied tcp 198.51.100.20:443")
    assert len(lines) == 1 and lines[0].endswith("by uid 65534: not in the policy"), lines
    rec = [r for r in records(net, sandbox) if r["dst"] == "198.51.100.20" and r["port"] == 443]
    assert len(rec) == 1 and rec[0]["name"] == "a.wild.test" and rec[0]["resolved_ago"] >= 0, rec


def test_the_inits_own_names_are_named(net, sandbox):
    assert probe(net, "tcp:198.51.100.10:8080") == ["refused"]
    sandbox.wait_for("denied tcp 198.51.100.10:8080 (allowed.test, resolved ")
    assert len(denial_lines(sandbox, "198.51.100.10:8080")) == 1


def test_a_refused_query_is_one_line_in_the_same_stream(net, sandbox):
    for _ in range(3):
        assert ask(net, "x.attacker.test")["rcode"] == 3
    sandbox.wait_for("refused DNS query x.attacker.test (A): not in the policy")
    assert len(denial_lines(sandbox, "x.attacker.test")) == 1
    sandbox.wait_for("refused DNS query x.attacker.test (A): not in the policy; 2 times in the last",
                     timeout=SUMMARY_S + 5)
    recs = [r for r in records(net, sandbox) if r["kind"] == "dns"]
    assert [(r["proto"], r["name"], r["dst"], r["port"], r["uid"], r["count"]) for r in recs] == [
        ("A", "x.attacker.test", None, None, None, 1), ("A", "x.attacker.test", None, None, None, 2)], recs
    # --since: the last hour has them, a record from the future none.
    assert len(records(net, sandbox, "--since", "3600")) == len(records(net, sandbox))


def test_the_record_never_exceeds_its_size(net, sandbox):
    """Thousands of distinct refused names: the log keeps to its limit and
    says how much it left out; the record drops its oldest lines and stays
    within two files of DENIAL_FILE_HALF."""
    script = ("import socket, struct, sys\n"
              "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
              "s.settimeout(2)\n"
              "for i in range(int(sys.argv[1])):\n"
              "    name = b''.join(bytes([len(l)]) + l for l in (b'leak-%06d-' % i + b'x' * 40, b'attacker', b'test'))\n"
              "    s.sendto(struct.pack('!HHHHHH', i & 0xffff, 0x100, 1, 0, 0, 0) + name + b'\\0' + struct.pack('!HH', 16, 1),\n"
              "             ('192.0.2.1', 53))\n"
              "    s.recv(600)\n")
    net.run(net.sbx, USER + [sys.executable, "-c", script, "4000"], timeout=120)
    older = sandbox.denials_dir / "denials.jsonl.1"
    current = sandbox.denials_dir / "denials.jsonl"
    wait_until(lambda: older.exists(), what="a rotation")
    # The resolver answers before PID 1 has written the refusal down: wait
    # for the last one to be on record.
    dns_names = lambda: [r["name"] for r in records(net, sandbox) if r["kind"] == "dns"]
    names = wait_until(lambda: (lambda n: n if n and "leak-003999-" in n[-1] else None)(dns_names()),
                       what="the last refusal on record")
    assert older.stat().st_size <= HALF and current.stat().st_size <= HALF
    assert names == sorted(names), "oldest first"
    assert "leak-003999-" in names[-1] and not any("leak-000000-" in n for n in names), "the oldest were dropped"
    logged = denial_lines(sandbox, "refused DNS query leak-")
    assert 10 <= len(logged) <= 20, len(logged)
    sandbox.wait_for("left out of this log", timeout=SUMMARY_S + 5)


def private_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        fields = dict(l.split(":", 1) for l in f if ":" in l)
    return sum(int(fields[k].split()[0]) for k in ("Private_Clean", "Private_Dirty"))


def test_a_flood_of_refused_connects_leaves_pid1_responsive_and_bounded(net, sandbox):
    pid = sandbox.init_pid()
    assert probe(net, "tcp:203.0.113.5:443") == ["refused"]      # the stream's tables in use
    before = private_kib(pid)
    mark = len(sandbox.lines)
    t0 = time.monotonic()
    r = net.run(net.sbx, USER + [sys.executable, os.path.join(HERE, "netclient.py"), "flood", "198.18.0.1",
                                 "100000", "443"], timeout=300)
    elapsed = time.monotonic() - t0
    counts = json.loads(r.stdout)
    assert sum(counts.values()) == 100000 and set(counts) <= {"ECONNREFUSED", "EINPROGRESS"}, counts
    # Still answering: the health check, a new probe, and a reload.
    h = health(net, sandbox)
    assert h.returncode == 0, h.stderr
    assert probe(net, "tcp:198.51.100.10:443") == ["ok"]
    os.kill(pid, signal.SIGHUP)
    sandbox.wait_for("sandbox ready", after=mark)
    sandbox.wait_for("left out of this log", after=mark, timeout=SUMMARY_S + 5)
    flood_lines = [l for l in sandbox.lines[mark:] if "denied tcp 198.1" in l]
    # The log's burst, then one line per 6 s, whatever the flood's length.
    assert 1 <= len(flood_lines) <= 10 + elapsed / 6 + 2, (len(flood_lines), elapsed)
    grown = private_kib(pid) - before
    assert grown < 1024, f"PID 1's private memory grew {grown} KiB"
    for f in sandbox.denials_dir.iterdir():
        assert f.stat().st_size <= HALF, f
    print(f"flood of 100000 connects in {elapsed:.1f} s: {len(flood_lines)} lines, "
          f"PID 1 private memory {before} -> {before + grown} KiB, {len(records(net, sandbox))} records")
