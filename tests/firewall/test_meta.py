# SPDX-License-Identifier: MIT
"""GitHub meta ranges: fetched over HTTPS (a test CA, a server inside the
fake internet) by the real init, with the snapshot as the fallback."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from fakenet import HERE, elements

META_ADDR = "203.0.113.80"
HOSTS = {"meta.test": [META_ADDR]}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")

    def ossl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    for name in ("ca", "other-ca"):
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-keyout", f"{name}.key", "-out", f"{name}.pem")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=meta.test",
         "-keyout", "server.key", "-out", "server.csr")
    (d / "ext").write_text("subjectAltName=DNS:meta.test\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "2", "-extfile", "ext", "-out", "server.pem")
    return d


@pytest.fixture
def net(net, pki):
    """The fake internet with GitHub's meta server on META_ADDR."""
    net.ip(net.net, "addr", "add", META_ADDR + "/32", "dev", "lo")
    srv = net.popen(net.net, [sys.executable, os.path.join(HERE, "metaserver.py"), "--listen", META_ADDR,
                              "--cert", str(pki / "server.pem"), "--key", str(pki / "server.key")],
                    stdout=subprocess.PIPE, text=True)
    assert srv.stdout.readline().strip() == "ready"
    return net


def snapshot(tmp_path, ranges):
    p = tmp_path / "snapshot.json"
    p.write_text(json.dumps({"web": ranges, "api": [], "git": []}))
    return p


def apply(net, pki, path, snapshot_path, ca="ca.pem"):
    policy = net.write_policy(
        "services: [github]\n"
        f"github: {{meta_url: \"https://meta.test:8443{path}\", ca_file: \"{pki / ca}\"}}\n")
    return net.init("apply", "--policy", str(policy), "--policy-dir", "/nonexistent",
                    "--meta-snapshot", str(snapshot_path), timeout=60)


def test_live_ranges_are_allowed(net, pki, tmp_path):
    r = apply(net, pki, "/meta", snapshot(tmp_path, ["192.0.2.250/32"]))
    assert r.returncode == 0, r.stderr
    assert "GitHub meta: 4 ranges from https://meta.test:8443/meta" in r.stderr, r.stderr
    v4 = elements(net, "allowed_v4")
    assert "198.51.100.64/26" in v4 and "203.0.113.128/25" in v4
    assert "203.0.113.0/28" not in v4, "only web, api and git ranges are used"
    assert "2001:db8:5::/48" in elements(net, "allowed_v6")


@pytest.mark.parametrize("path,ca,reason", [
    ("/wide", "ca.pem", "not plausible as GitHub's ranges: 0.0.0.0/1 is wider than /12"),
    ("/500", "ca.pem", "HTTP 500"),
    ("/bad", "ca.pem", "not a usable meta document"),
    ("/big", "ca.pem", "larger than 4 MiB"),
    ("/meta", "other-ca.pem", "certificate"),
])
def test_failed_fetch_uses_the_snapshot(net, pki, tmp_path, path, ca, reason):
    r = apply(net, pki, path, snapshot(tmp_path, ["192.0.2.250/32"]), ca=ca)
    assert r.returncode == 0, r.stderr
    assert "using the snapshot" in r.stderr and reason in r.stderr, r.stderr
    assert "192.0.2.250" in elements(net, "allowed_v4")
    assert "198.51.100.64/26" not in elements(net, "allowed_v4")


def test_a_meta_range_over_the_sandboxs_own_side_is_refused(net, pki, tmp_path):
    """The rebinding guard holds for GitHub's ranges as for DNS answers."""
    r = apply(net, pki, "/linklocal", snapshot(tmp_path, ["192.0.2.250/32"]))
    assert r.returncode == 0, r.stderr
    assert "refused the GitHub meta range 169.254.0.0/16: it overlaps link-local" in r.stderr, r.stderr
    v4 = elements(net, "allowed_v4")
    assert "198.51.100.64/26" in v4 and not [e for e in v4 if e.startswith("169.254.")], v4


@pytest.fixture
def public_dir():
    """A directory the meta-fetch child (nobody) can read; pytest's own
    tmp tree is private to root."""
    d = tempfile.mkdtemp(prefix="asb-meta-")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def compromised_curl(d, reply):
    """d/libcurl.so.4, whose loading makes the meta-fetch child answer
    `reply` to PID 1 (compromised_curl.c)."""
    c_string = '"' + reply.replace("\n", "\\n") + '"'
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", f"-DMETA_FORGED_REPLY={c_string}", "-o", str(d / "libcurl.so.4"),
                    os.path.join(HERE, "compromised_curl.c")], check=True, capture_output=True)
    return d


def test_pid1_rechecks_the_ranges_a_compromised_fetch_child_sends(net, pki, tmp_path, public_dir):
    """The child's parser refuses implausible ranges itself, so only a child
    that is no longer ours sends them: PID 1 must check them again and fall
    back to the snapshot rather than open 8.0.0.0/5."""
    lib = compromised_curl(public_dir, "P 8.0.0.0/5\nP 198.51.100.64/26\nOK\n")
    policy = net.write_policy(
        "services: [github]\n"
        f"github: {{meta_url: \"https://meta.test:8443/meta\", ca_file: \"{pki / 'ca.pem'}\"}}\n")
    r = net.run(net.sbx, ["env", f"LD_LIBRARY_PATH={lib}", net_init_path(), "apply", "--policy", str(policy),
                          "--policy-dir", "/nonexistent", "--meta-snapshot",
                          str(snapshot(tmp_path, ["192.0.2.250/32"]))], check=False, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "the fetch process answered ranges that not plausible as GitHub's ranges: 8.0.0.0/5 is wider than /12" \
        in r.stderr, r.stderr
    assert "using the snapshot" in r.stderr, r.stderr
    v4 = elements(net, "allowed_v4")
    assert "192.0.2.250" in v4, v4
    assert not [e for e in v4 if e.startswith("8.")] and "198.51.100.64/26" not in v4, v4


def test_hanging_server_times_out_without_threads(net, pki, tmp_path):
    policy = net.write_policy(
        "services: [github]\n"
        f"github: {{meta_url: \"https://meta.test:8443/hang\", ca_file: \"{pki / 'ca.pem'}\"}}\n")
    p = net.popen(net.sbx, [net_init_path(), "apply", "--policy", str(policy), "--policy-dir", "/nonexistent",
                            "--meta-snapshot", str(snapshot(tmp_path, ["192.0.2.250/32"]))],
                  stderr=subprocess.PIPE, text=True, env=dict(os.environ, API_TOKEN="tok-secret-1"))
    t0 = time.monotonic()
    time.sleep(1.5)  # the transfer is under way: the server never answers
    with open(f"/proc/{p.pid}/status") as f:
        threads = [l for l in f if l.startswith("Threads:")][0].split()[1]
    assert threads == "1", "PID 1 must never start a thread (curl's resolver would)"
    check_privilege_separation(p.pid)
    assert p.wait(timeout=30) == 0
    elapsed = time.monotonic() - t0
    err = p.stderr.read()
    assert "using the snapshot" in err and "imed out" in err, err
    assert elapsed < 10, elapsed


TLS_LIBRARIES = ("libcurl", "libssl", "libcrypto", "libgnutls", "libnghttp2")


def check_privilege_separation(init_pid):
    """While the transfer hangs: PID 1 has no TLS library mapped; its child
    "meta-fetch" does the transfer with no capability, no_new_privs, as
    nobody, and not dumpable (another process of that uid cannot read it)."""
    maps = open(f"/proc/{init_pid}/maps").read()
    assert not [lib for lib in TLS_LIBRARIES if lib in maps], "PID 1 must not map libcurl or TLS"
    kids = open(f"/proc/{init_pid}/task/{init_pid}/children").read().split()
    assert len(kids) == 1, kids
    child = kids[0]
    status = dict(line.split(":", 1) for line in open(f"/proc/{child}/status"))
    assert status["Name"].strip() == "meta-fetch"
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap].strip(), 16) == 0, cap
    assert status["NoNewPrivs"].strip() == "1"
    assert status["Uid"].split() == ["65534"] * 4 and status["Gid"].split() == ["65534"] * 4
    assert "libcurl" in open(f"/proc/{child}/maps").read(), "the transfer runs in the child"
    # What the launcher passed for CMD is in PID 1's environment, never in
    # the memory of the process that parses the network's answers.
    assert b"tok-secret-1" in open(f"/proc/{init_pid}/environ", "rb").read()
    assert b"tok-secret-1" not in open(f"/proc/{child}/environ", "rb").read()
    probe = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                            f"import errno\ntry:\n    open('/proc/{child}/environ').read(); print('readable')\n"
                            f"except OSError as e:\n    print(errno.errorcode[e.errno])"],
                           capture_output=True, text=True, timeout=10)
    assert probe.stdout.strip() == "EACCES", (probe.stdout, probe.stderr)


def test_no_snapshot_either_is_reported(net, pki, tmp_path):
    r = apply(net, pki, "/500", tmp_path / "missing.json")
    assert "GitHub meta ranges unavailable" in r.stderr, r.stderr


def net_init_path():
    from fakenet import INIT
    return INIT


def fetch_meta(net, pki, path, output, ca="ca.pem"):
    return net.init("fetch-meta", "--url", f"https://meta.test:8443{path}", "--ca-file", str(pki / ca),
                    "--output", str(output), timeout=60)


def test_fetch_meta_writes_a_snapshot_the_init_uses(net, pki, tmp_path):
    """images/build.sh bakes what fetch-meta wrote: when the live fetch then
    fails at startup, the ranges are exactly the ones fetched at build time."""
    out = tmp_path / "github-meta.json"
    r = fetch_meta(net, pki, "/meta", out)
    assert r.returncode == 0, r.stderr
    assert f"wrote {out}: 4 ranges of the web, api and git keys" in r.stderr, r.stderr
    assert json.loads(out.read_text())["git"] == ["203.0.113.128/25"]
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    r = apply(net, pki, "/500", out)
    assert r.returncode == 0, r.stderr
    assert "using the snapshot" in r.stderr, r.stderr
    v4 = elements(net, "allowed_v4")
    assert "198.51.100.64/26" in v4 and "203.0.113.128/25" in v4
    assert "2001:db8:5::/48" in elements(net, "allowed_v6")


@pytest.mark.parametrize("path,ca,reason", [
    ("/wide", "ca.pem", "not plausible as GitHub's ranges: 0.0.0.0/1 is wider than /12"),
    ("/500", "ca.pem", "HTTP 500"),
    ("/bad", "ca.pem", "not a usable meta document"),
    ("/meta", "other-ca.pem", "certificate"),
])
def test_fetch_meta_failure_keeps_the_old_snapshot(net, pki, tmp_path, path, ca, reason):
    out = tmp_path / "github-meta.json"
    out.write_text('{"web": ["192.0.2.250/32"], "api": [], "git": []}')
    r = fetch_meta(net, pki, path, out, ca=ca)
    assert r.returncode == 1, r.stderr
    assert f"fetching https://meta.test:8443{path} failed" in r.stderr and reason in r.stderr, r.stderr
    assert "snapshot" not in r.stderr, "fetch-meta never falls back to a snapshot"
    assert json.loads(out.read_text())["web"] == ["192.0.2.250/32"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("github-meta.json.")] == []


def test_fetch_meta_refuses_an_unresolvable_host(net, pki, tmp_path):
    r = net.init("fetch-meta", "--url", "https://nowhere.test/meta", "--output", str(tmp_path / "m.json"))
    assert r.returncode == 1
    assert "the meta host nowhere.test did not resolve" in r.stderr, r.stderr
    assert not (tmp_path / "m.json").exists()
