#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The name gate, on the fake internet of tests/firewall/fakenet.py, side
by side with HAProxy routing TLS by its server name in TCP mode
(`req.ssl_sni`, no decryption) in the same run.
agent-sandbox-init is PID 1 of the sandbox namespace with the policy
`domains: [tls-ok.test]`, `cidrs: [198.51.100.10/32]`; the "net" namespace
runs tests/firewall/nameserver.py (TLS on 443 and HTTP on 80 on every
address, a certificate from a CA made here) for all three paths:

  direct   the sandbox user to 198.51.100.10 (under cidrs:, so the
           firewall lets it through unchecked)
  ours     the sandbox user to 203.0.113.5, tls-ok.test's address: the
           connection goes direct, nftables queues its packets to the name
           gate until it has checked the server name (the ClientHello and
           the server's first record), then the kernel carries the rest
  haproxy  the sandbox user to HAProxy on 127.0.0.1:8443 in the sandbox
           namespace (root), which waits for the ClientHello, accepts only
           req.ssl_sni tls-ok.test and forwards to 198.51.100.10:443

Every client is tests/bench/proxyload.py as uid 65534, verifying the
server's certificate against the test CA. Rows:
  1. connection setup: TCP connect + TLS handshake + one request and its
     answer, --setup-n connections per side in blocks, the side that goes
     first changing every block; the median added over direct (target
     <= 0.3 ms for ours), and each one's CPU time per connection (ours:
     the gate's child and PID 1, which hands it the packets)
  2. a --bulk-bytes download (1 GiB) over TLS, and over HTTP spliced at
     both ends, --bulk-rounds times per side in turn; the median
     throughput as a share of direct (target >= 90%), each one's CPU
     time per GiB and the whole machine's
  3. the TLS download once more per side with the server's side of the
     link shaped to --capped-mbit (tbf): the pace of a real network
     rather than of loopback on 2 vCPUs (an added row, not the target's)
  4. --hold-n (1,000) TLS connections held open and idle through each: its
     private dirty memory (target <= 16 MiB; ours: the gate's child and
     PID 1 together), its wake-ups over --idle-s seconds idle (target 0)
  5. --silent-n connections that never send a byte: the gate's memory with
     them open (they hold nothing in it: each is a flow of a few hundred
     bytes until its idle timeout)

HAProxy runs with `option splice-auto`, the peer at its best.
Rows go to stdout as JSON lines (see tests/bench/run); progress to stderr.

  sudo /usr/bin/python3 tests/bench/bench_proxy.py [--setup-n N] [--bulk-bytes N] [--hold-n N] ...
"""
import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "firewall"))
from fakenet import FakeNet, RunningInit  # noqa: E402
from bench_firewall import row, memory_kib, describe, wakeups  # noqa: E402

LOAD = HERE / "proxyload.py"
NAMESERVER = HERE.parent / "firewall" / "nameserver.py"
USER = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--inh-caps=-all"]
SHARED, DIRECT = "203.0.113.5", "198.51.100.10"
NAME = "tls-ok.test"
POLICY = f"domains: [{NAME}]\ncidrs: [{DIRECT}/32]\n"
HAPROXY_PORT = 8443
HAPROXY_HTTP_PORT = 8080
HAPROXY_CFG = f"""
global
    maxconn 4096
defaults
    mode tcp
    # HAProxy splices where it can: the peer at its best
    option splice-auto
    timeout connect 10s
    timeout client 30m
    timeout server 30m
frontend sni
    bind 127.0.0.1:{HAPROXY_PORT}
    tcp-request inspect-delay 10s
    tcp-request content accept if {{ req.ssl_hello_type 1 }}
    use_backend allowed if {{ req.ssl_sni -i {NAME} }}
    default_backend refuse
backend allowed
    server origin {DIRECT}:443
backend refuse
    tcp-request content reject
frontend host
    bind 127.0.0.1:{HAPROXY_HTTP_PORT}
    tcp-request inspect-delay 10s
    tcp-request content accept if HTTP
    use_backend allowed80 if {{ req.hdr(host) -i {NAME} }}
    default_backend refuse
backend allowed80
    server origin {DIRECT}:80
"""


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(d):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=agent-sandbox bench CA", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", f"/CN={NAME}", cwd=d)
    (d / "san.ext").write_text(f"subjectAltName=DNS:{NAME}\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.ext", cwd=d)
    for f in d.iterdir():
        os.chmod(f, 0o644)


class Bench:
    def __init__(self, tmp):
        self.tmp = tmp
        self.shared = Path(tempfile.mkdtemp(prefix="asb-bench-proxy-"))
        os.chmod(self.shared, 0o755)
        make_certs(self.shared)
        self.ca = str(self.shared / "ca.pem")
        self.fn = FakeNet(tmp)
        i = self.fn.listener_args.index("443")
        del self.fn.listener_args[i - 1:i + 1]
        self.fn.setup({NAME: [SHARED]})
        self.server = self.fn.popen(self.fn.net, [sys.executable, str(NAMESERVER), "--cert",
                                                  str(self.shared / "server.pem"), "--key",
                                                  str(self.shared / "server.key"), "--log", "/dev/null"],
                                    stdout=subprocess.PIPE, text=True)
        assert self.server.stdout.readline().strip() == "ready"
        self.init = RunningInit(self.fn, self.fn.write_policy(POLICY), denials_dir=self.shared / "record")
        self.init.wait_for("sandbox ready")
        self.init.wait_for("name gate started")
        cfg = tmp / "haproxy.cfg"
        cfg.write_text(HAPROXY_CFG)
        self.haproxy = self.fn.popen(self.fn.sbx, ["haproxy", "-db", "-f", str(cfg)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while f"127.0.0.1:{HAPROXY_HTTP_PORT}" not in self.fn.run(self.fn.sbx, ["ss", "-tln"]).stdout:
            assert time.monotonic() < deadline and self.haproxy.poll() is None, "haproxy did not start"
            time.sleep(0.05)

    def side(self, which):
        return {"direct": (DIRECT, "443"), "ours": (SHARED, "443"), "haproxy": ("127.0.0.1", str(HAPROXY_PORT))}[which]

    def load(self, *args, timeout=600):
        r = self.fn.run(self.fn.sbx, USER + [sys.executable, str(LOAD), *map(str, args)], check=False,
                        timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"proxyload {args[0]} failed: {r.stderr[-2000:]}")
        return json.loads(r.stdout.splitlines()[-1])

    def load_popen(self, *args):
        return self.fn.popen(self.fn.sbx, USER + [sys.executable, str(LOAD), *map(str, args)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def gate_pids(self):
        """The gate's child, and PID 1, which reads the queue and gives the
        kernel the child's verdicts: both do the gate's work."""
        init = self.init.init_pid()
        for child in Path(f"/proc/{init}/task/{init}/children").read_text().split():
            if Path(f"/proc/{child}/comm").read_text().strip() == "name-gate":
                return [int(child), init]
        raise RuntimeError("no name-gate process")

    def close(self):
        for p in (self.haproxy, self.server):
            p.kill()
            p.wait()
        self.init.stop()
        self.fn.teardown()
        shutil.rmtree(self.shared, ignore_errors=True)


def cpu_ns(pids):
    """CPU time (user + system) of every thread of the pids so far, in ns."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except FileNotFoundError:
                pass
    return total


def machine_s():
    """CPU time the whole machine spent so far, in s (all CPUs): busy, and
    of that in interrupts (softirq: where much of the kernel's network
    work is done, and accounted to no process)."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(f[:8]) - f[3] - f[4]) / tick, (f[5] + f[6]) / tick


def process_cpu_s(pid):
    """CPU time of pid so far, its ended threads included (utime + stime)."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def pids_of(b, side):
    """The processes doing the side's work: none for direct."""
    return {"ours": b.gate_pids, "haproxy": lambda: [b.haproxy.pid]}.get(side, lambda: [])()


def measured(b, side, *args):
    """b.load(*args), with the CPU time the side's processes and the whole
    machine spent meanwhile."""
    pids = pids_of(b, side)
    cpu0, (busy0, irq0), server0 = cpu_ns(pids), machine_s(), process_cpu_s(b.server.pid)
    r = b.load(*args)
    busy1, irq1 = machine_s()
    r["proxy_cpu_s"] = (cpu_ns(pids) - cpu0) / 1e9
    r["machine_cpu_s"] = busy1 - busy0
    # What the transfer itself cost, whatever else runs on the machine: its
    # three processes, and the interrupt time (all of it: others' too).
    r["work_cpu_s"] = r.get("cpu_s", 0.0) + (process_cpu_s(b.server.pid) - server0) + r["proxy_cpu_s"] + (irq1 - irq0)
    return r


def rotated(sides, i):
    """sides, starting at the i-th: which side goes first changes every
    round, so that none always follows the same one."""
    i %= len(sides)
    return sides[i:] + sides[:i]


def bench_setup(b, n, blocks):
    ms = {"direct": [], "ours": [], "haproxy": []}
    cpu = {s: 0.0 for s in ms}
    for block in range(blocks):
        for side in rotated(list(ms), block):
            addr, port = b.side(side)
            r = measured(b, side, "setup", addr, port, NAME, b.ca, n // blocks)
            ms[side] += r["ms"]
            cpu[side] += r["proxy_cpu_s"]
    med = {s: statistics.median(v) for s, v in ms.items()}
    for side in ("ours", "haproxy"):
        added = med[side] - med["direct"]
        per_conn_us = cpu[side] / len(ms[side]) * 1e6
        log(f"setup {side}: median {med[side]:.3f} ms, direct {med['direct']:.3f} ms, added {added:.3f} ms; "
            f"proxy CPU {per_conn_us:.0f} us per connection")
        row("proxy", f"connection setup (connect, TLS handshake, one answer): median added over direct, {side}",
            added, None, "ms", "<= 0.3 ms" if side == "ours" else "peer", added <= 0.3 if side == "ours" else True)
        row("proxy", f"connection setup: CPU time per connection of the gate (its child and PID 1) or the proxy, {side}", per_conn_us, None, "us",
            "-", True)
    row("proxy", "connection setup, direct (the reference), median", med["direct"], None, "ms", "-", True)


def bulk_rows(kind, n, speed, cpu, label=""):
    """label: a download other than the target's (its rows say so, and
    are not held to it)."""
    gib = n / 2**30
    for side in ("ours", "haproxy"):
        target = "peer" if side != "ours" else "reported (not the target's case)" if label else ">= 90% of direct"
        row("proxy", f"one {n >> 20} MiB {kind}{label}, {side} (MiB/s; baseline direct)", speed[side],
            speed["direct"], "MiB/s", target,
            speed[side] >= 0.9 * speed["direct"] if side == "ours" and not label else True)
        row("proxy", f"one {n >> 20} MiB {kind}{label}: the proxy's CPU time per GiB, {side}",
            cpu[side]["proxy_cpu_s"] / gib, None, "s/GiB", "-", True)
    for side in ("direct", "ours", "haproxy"):
        row("proxy", f"one {n >> 20} MiB {kind}{label}: CPU time per GiB of client, server, proxy and "
            f"interrupts, {side}", cpu[side]["work_cpu_s"] / gib, None, "s/GiB", "-", True)


def downloads(b, kind, n, rounds):
    """rounds downloads per side, the sides in turn and the first one
    changing every round; the median of each side's throughput and CPU."""
    ends = {"TLS": {s: b.side(s) for s in ("direct", "ours", "haproxy")},
            "HTTP": {"direct": (DIRECT, 80), "ours": (SHARED, 80), "haproxy": ("127.0.0.1", HAPROXY_HTTP_PORT)}}[kind]
    runs = {s: [] for s in ends}
    for i in range(rounds):
        for side in rotated(list(ends), i):
            addr, port = ends[side]
            if kind == "TLS":
                r = measured(b, side, "bulk", addr, port, NAME, b.ca, n)
                assert r["bytes"] == n, r
            else:
                r = measured(b, side, "httpbulk", addr, port, NAME, n)
                assert r["bytes"] > n, r
            r["speed"] = r["bytes"] / r["s"] / 2**20
            runs[side].append(r)
            log(f"{kind} bulk {side}: {r['speed']:.0f} MiB/s, proxy CPU {r['proxy_cpu_s']:.2f} s, "
                f"transfer CPU {r['work_cpu_s']:.2f} s, machine CPU {r['machine_cpu_s']:.2f} s")
    speed = {s: statistics.median(r["speed"] for r in v) for s, v in runs.items()}
    cpu = {s: {k: statistics.median(r[k] for r in v) for k in ("proxy_cpu_s", "work_cpu_s", "machine_cpu_s")}
           for s, v in runs.items()}
    return speed, cpu


def bench_bulk(b, n, rounds):
    speed, cpu = downloads(b, "TLS", n, rounds)
    bulk_rows("TLS download", n, speed, cpu)
    speed, cpu = downloads(b, "HTTP", n, rounds)
    bulk_rows("HTTP download, spliced at both ends", n, speed, cpu)


def bench_capped(b, n, mbit):
    """The TLS download again, the server's side of the link shaped to mbit
    (tbf on its veth): a download as it comes over a real network, where
    the link, not the 2 vCPUs, sets the pace."""
    b.fn.run(b.fn.net, ["tc", "qdisc", "add", "dev", "veth-n", "root", "tbf", "rate", f"{mbit}mbit",
                        "burst", "256kb", "latency", "50ms"])
    try:
        speed, cpu = downloads(b, "TLS", n, 1)
    finally:
        b.fn.run(b.fn.net, ["tc", "qdisc", "del", "dev", "veth-n", "root"], check=False)
    bulk_rows("TLS download", n, speed, cpu, label=f" over a link capped at {mbit} Mbit/s")


def memory_of(pids):
    """Private dirty memory of the pids together (describe()'s fields)."""
    mems = [memory_kib(pid) for pid in pids]
    return {k: sum(m[k] for m in mems) for k in mems[0]}


def held(b, side, n, idle_s):
    addr, port = b.side(side)
    p = b.load_popen("hold", addr, port, NAME, b.ca, n)
    try:
        assert json.loads(p.stdout.readline())["open"] == n
        pids = pids_of(b, side)
        time.sleep(1)
        mem = memory_of(pids)
        before = sum(wakeups(pid) for pid in pids)
        time.sleep(idle_s)
        woke = sum(wakeups(pid) for pid in pids) - before
        return mem, woke
    finally:
        p.stdin.write("\n")
        p.stdin.flush()
        p.wait(timeout=60)


def bench_hold(b, n, idle_s):
    for side in ("ours", "haproxy"):
        mem, woke = held(b, side, n, idle_s)
        log(f"{n} held through {side}: {describe(mem)}, {woke} wake-ups in {idle_s} s")
        ok = side != "ours" or mem["dirty"] <= 16 * 1024
        row("proxy", f"{n} open idle connections: private dirty memory (ours: the gate's child and PID 1), {side}",
            mem["dirty"] / 1024, None, "MiB", "<= 16 MiB" if side == "ours" else "peer", ok)
        row("proxy", f"{n} open idle connections: wake-ups in {idle_s} s idle, {side}", woke, None, "count",
            "0" if side == "ours" else "peer", woke == 0 if side == "ours" else True)


def bench_silent(b, n):
    p = b.load_popen("silent", SHARED, 443, n)
    try:
        assert json.loads(p.stdout.readline())["open"] == n
        time.sleep(1)
        mem = memory_of(b.gate_pids())
        log(f"{n} silent: {describe(mem)}")
        row("proxy", f"{n} connections that send nothing: private dirty memory (the gate's child and PID 1), ours",
            mem["dirty"] / 1024, None, "MiB", "<= 16 MiB", mem["dirty"] <= 16 * 1024)
    finally:
        p.stdin.close()
        p.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--setup-n", type=int, default=1500)
    ap.add_argument("--setup-blocks", type=int, default=5)
    ap.add_argument("--bulk-bytes", type=int, default=1 << 30)
    ap.add_argument("--bulk-rounds", type=int, default=11)
    ap.add_argument("--capped-mbit", type=int, default=1000)
    ap.add_argument("--hold-n", type=int, default=1000)
    ap.add_argument("--silent-n", type=int, default=1000)
    ap.add_argument("--idle-s", type=int, default=5)
    ap.add_argument("--only", action="append", choices=["setup", "bulk", "capped", "hold", "silent"], default=[])
    args = ap.parse_args()
    only = set(args.only) or {"setup", "bulk", "capped", "hold", "silent"}
    tmp = Path(tempfile.mkdtemp(prefix="asb-bench-proxy-tmp-"))
    b = Bench(tmp)
    try:
        if "setup" in only:
            bench_setup(b, args.setup_n, args.setup_blocks)
        if "bulk" in only:
            bench_bulk(b, args.bulk_bytes, args.bulk_rounds)
        if "capped" in only:
            bench_capped(b, args.bulk_bytes, args.capped_mbit)
        if "hold" in only:
            bench_hold(b, args.hold_n, args.idle_s)
        if "silent" in only:
            bench_silent(b, args.silent_n)
    finally:
        b.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
