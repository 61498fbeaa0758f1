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
from fakenet import FakeNet, HERE, RunningInit
from test_escapes import USER

HOSTS = {"allowed.test": ["198.51.100.10"], "a.wild.test": ["198.51.100.20"]}
POLICY = 'domains: [allowed.test, "*.wild.test"]\ndns: {min_ttl: 1, grace: 1}\n'
SUMMARY_S = 2
KEYS = {"time", "kind", "proto", "dst", "port", "name", "resolved_ago", "uid", "reason", "count"}
HALF = 256 * 1024       # denial_file.h: DENIAL_FILE_HALF


@pytest.fixture
def net(tmp_path, need_root):
    n = FakeNet(tmp_path)
    try:
        n.setup(HOSTS, ttl=60)
        yield n
    finally:
        n.teardown()


@pytest.fixture
def sandbox(net):
    # Where the sandbox user can read it, as in a container's /tmp (pytest's
    # own directories are root's alone).
    shared = tempfile.mkdtemp(prefix="asb-denials-")
    os.chmod(shared, 0o755)
    init = RunningInit(net, net.write_policy(POLICY), "--denial-summary-seconds", str(SUMMARY_S),
                       denials_dir=pathlib.Path(shared) / "record")
    try:
        init.wait_for("sandbox ready")
        init.wait_for("DNS resolver started")
        yield init
    finally:
        init.stop()
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
