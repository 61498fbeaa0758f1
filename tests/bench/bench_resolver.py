#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The sandbox's DNS resolver, on the fake internet
of tests/firewall/fakenet.py. agent-sandbox-init is PID 1 of the sandbox
namespace with the policy `*.wild.test` (dns.min_ttl 1, dns.grace 1); the
upstream on 192.0.2.1 is dnsmasq serving a hosts file of names
n<i>.wild.test, each with its own address in 198.18.0.0/15 (TTL 1 s), which
the "net" namespace accepts connections to (a local route, port 443). Every
query of the sandbox user goes to the resolver, whose every new answer is a
set update of learned_v4 made by PID 1 before the answer is released.
Nothing leaves the namespaces this creates; every name is .test.

  1. latency: one query at a time as the sandbox user (uid 65534) through
     the resolver, each name new (so each answer waits for its set
     update), against the same names asked directly of the same upstream
     from the same namespace as the resolver's own uid 902 (whose DNS the
     firewall lets through unredirected). Blocks of each side
     alternate. Upstream: dnsmasq answering at once, then
     tests/firewall/slowdns.py answering after --delay-ms. Also one name
     asked again and again: each answer extends the name's element.
  2. throughput: --burst-count queries of new names, --window outstanding,
     no retries, against dnsmasq --nftset as a forwarder in a namespace of
     its own (its own upstream dnsmasq, table and set) doing the same work:
     forward, add each address to an nftables set, answer. Rounds alternate.
  3. first connections: resolve then connect at once, for --connects new
     names, as the sandbox user.
  4. footprint: Private_Dirty of the dns-resolver child and of PID 1 after
     --memory-queries more queries; their wake-ups over --idle-s idle.

Rows go to stdout as JSON lines (see tests/bench/run); progress to stderr.

  sudo /usr/bin/python3 tests/bench/bench_resolver.py [--latency-queries N] [--burst-count N] ...
"""
import argparse
import ipaddress
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "firewall"))
from fakenet import FakeNet  # noqa: E402
from bench_firewall import row, memory_kib, describe, wakeups, init_pid  # noqa: E402

DNSLOAD = HERE / "dnsload.py"
USER = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--inh-caps=-all"]
# The resolver's own uid: the firewall lets it ask the configured servers
# directly, so its queries take the sandbox's path without the resolver.
DIRECT = ["setpriv", "--reuid", "902", "--regid", "902", "--clear-groups", "--inh-caps=-all"]
POLICY = 'domains: ["*.wild.test"]\ndns: {min_ttl: 1, grace: 1}\n'
WILD = ipaddress.IPv4Network("198.18.0.0/15")
AGAIN = "again.wild.test"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def name_addr(i):
    return f"n{i}.wild.test", str(WILD.network_address + 1 + i)


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


class Side:
    """One fake internet: a sandbox namespace and a "net" namespace whose
    dnsmasq on 192.0.2.1 serves the hosts file (no query log: it would be
    the slow part)."""

    def __init__(self, tmp, hosts):
        tmp.mkdir()
        self.fn = FakeNet(tmp)
        self.fn.setup(dns=False)
        self.hosts = hosts
        self.dnsmasq = None
        self.fn.ip(self.fn.net, "route", "add", "local", str(WILD), "dev", "lo")

    def start_upstream(self):
        self.dnsmasq = self.fn.popen(self.fn.net, [
            "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
            "--bind-interfaces", "--listen-address=192.0.2.1", "--except-interface=lo",
            f"--addn-hosts={self.hosts}", "--local-ttl=1", "--user=root", "--dns-forward-max=4096",
            # What the init resolves of "*.wild.test" itself; a TTL of an
            # hour keeps its refresh out of the idle count.
            "--host-record=wild.test,198.51.100.10,3600",
            f"--pid-file={self.fn.tmp / 'dnsmasq.pid'}", "--port=53"])
        wait_udp(self.fn, self.fn.net, "192.0.2.1:53")

    def stop_upstream(self):
        if self.dnsmasq:
            self.dnsmasq.kill()
            self.dnsmasq.wait()
            self.dnsmasq = None

    def load(self, user, *args, timeout=600):
        cmd = (USER if user else DIRECT) + [sys.executable, str(DNSLOAD), *map(str, args)]
        r = self.fn.run(self.fn.sbx, cmd, check=False, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"dnsload {args[0]} failed: {r.stderr[-2000:]}")
        return json.loads(r.stdout)

    def close(self):
        self.stop_upstream()
        self.fn.teardown()


def wait_udp(fn, ns, addr):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if addr in fn.run(ns, ["ss", "-uln"], check=False).stdout:
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {addr}")


class Sandbox:
    """agent-sandbox-init as PID 1 of the side's sandbox namespace."""

    def __init__(self, side):
        policy = side.fn.write_policy(POLICY)
        self.proc = side.fn.init_popen("--policy", str(policy), "--policy-dir", "/nonexistent",
                                       "--user", "65534:65534", stderr=subprocess.PIPE, text=True)
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for("DNS resolver started")
        self.wait_for("sandbox ready")
        self.booted = len(self.lines)
        self.pid = init_pid(self.proc)

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"no {text!r} from the init:\n" + "\n".join(self.lines[-20:]))
            time.sleep(0.02)

    def resolver_pid(self):
        for k in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split():
            if Path(f"/proc/{k}/comm").read_text().strip() == "dns-resolver":
                return int(k)
        raise RuntimeError("PID 1 has no dns-resolver child")

    def errors(self):
        return [line for line in self.lines[self.booted:] if re.search(r"error|refus|fail", line, re.I)]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Baseline:
    """dnsmasq --nftset as the forwarder of a namespace of its own, with its
    own table and set (timeout 2 s, as the init's learned elements here)."""

    def __init__(self, side):
        self.side = side
        fn = side.fn
        fn.run(fn.sbx, ["nft", "add table inet bench; "
                        "add set inet bench learned_v4 { type ipv4_addr; flags timeout; timeout 2s; }"])
        self.proc = fn.popen(fn.sbx, [
            "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
            "--bind-interfaces", "--listen-address=127.0.0.1", "--server=192.0.2.1", "--user=root",
            "--dns-forward-max=4096", "--nftset=/wild.test/4#inet#bench#learned_v4",
            f"--pid-file={fn.tmp / 'forwarder.pid'}", "--port=53"])
        wait_udp(fn, fn.sbx, "127.0.0.1:53")

    def elements(self):
        out = self.side.fn.run(self.side.fn.sbx, ["nft", "-j", "list", "set", "inet", "bench", "learned_v4"])
        for obj in json.loads(out.stdout)["nftables"]:
            if "set" in obj:
                return len(obj["set"].get("elem", []))
        return 0


def write_hosts(path, count):
    with open(path, "w") as f:
        for i in range(count):
            name, addr = name_addr(i)
            f.write(f"{addr} {name}\n")


def latency_rounds(ours, first, per_block, blocks, repeat=False, pids=()):
    """Alternating blocks: the sandbox user through the resolver, the
    resolver's uid directly. Returns (ours rtts, direct rtts, lost, wrong) in ms.
    With pids (PID 1's, the resolver's), logs their context switches per
    query of the resolver's blocks: a count the machine's load does not
    change, unlike the times."""
    o, d, lost, wrong = [], [], 0, 0
    switches = [0] * len(pids)
    for b in range(blocks):
        start = first if repeat else first + b * per_block
        extra = ["--repeat"] if repeat else []
        for user, server, out in ((True, "192.0.2.1", o), (False, "192.0.2.1", d)):
            before = [wakeups(p) for p in pids] if user else []
            r = ours.load(user, "latency", server, ours.hosts, start, per_block, *extra)
            for i, p in enumerate(pids if user else ()):
                switches[i] += wakeups(p) - before[i]
            if r["lost"] or r["wrong"]:
                log(f"  block {b} {'resolver' if user else 'direct'}: {r['lost']} lost, {r['wrong']} wrong")
            out += [us / 1000 for us in r["rtt_us"]]
            lost += r["lost"]
            wrong += r["wrong"]
    if pids:
        n = per_block * blocks
        log("  context switches per query: " + ", ".join(f"{what} {s / n:.2f}" for what, s in
                                                       zip(("PID 1", "dns-resolver"), switches)))
    return o, d, lost, wrong


def latency_rows(case, o, d, lost, wrong):
    om, dm = statistics.median(o), statistics.median(d)
    o99, d99 = pct(o, 99), pct(d, 99)
    log(f"latency {case}: resolver median {om:.3f} p99 {o99:.3f} max {max(o):.3f} ms; direct median {dm:.3f} "
        f"p99 {d99:.3f} max {max(d):.3f} ms; n={len(o)}/{len(d)}, lost {lost}, wrong {wrong}")
    row("resolver latency", f"{case}: added median", om - dm, dm, "ms", "<= 0.3 ms, 0 lost",
        om - dm <= 0.3 and lost == 0 and wrong == 0)
    row("resolver latency", f"{case}: added p99", o99 - d99, d99, "ms", "<= 2 ms", o99 - d99 <= 2)


def bench_latency(ours, sbx, args, cursor):
    per = args.latency_queries // args.latency_blocks
    o, d, lost, wrong = latency_rounds(ours, cursor, per, args.latency_blocks, pids=(sbx.pid, sbx.resolver_pid()))
    latency_rows("new name each query, dnsmasq upstream", o, d, lost, wrong)
    return cursor + per * args.latency_blocks


def bench_latency_slow(ours, sbx, args, cursor, tmp):
    """slowdns.py as the upstream: the same names (TTL 1), and AGAIN with a
    TTL of 300 s, so each repeated answer extends its element."""
    per = args.latency_queries // args.latency_blocks
    n = per * args.latency_blocks
    table = {name_addr(i)[0]: {"a": [name_addr(i)[1]], "ttl": 1} for i in range(cursor, cursor + n)}
    table[AGAIN] = {"a": ["198.51.100.10"], "ttl": 300}
    table["wild.test"] = {"a": ["198.51.100.10"], "ttl": 3600}
    path = tmp / "slow-table.json"
    path.write_text(json.dumps(table))
    again_hosts = tmp / "again.hosts"
    again_hosts.write_text(f"198.51.100.10 {AGAIN}\n")
    results = []
    for delay in (0, args.delay_ms):
        ours.stop_upstream()
        slow = ours.fn.start_slowdns(path, delay_ms=delay)
        try:
            if delay:
                o, d, lost, wrong = latency_rounds(ours, cursor, per, args.latency_blocks,
                                                   pids=(sbx.pid, sbx.resolver_pid()))
                latency_rows(f"new name each query, upstream after {delay} ms", o, d, lost, wrong)
            saved, ours.hosts = ours.hosts, again_hosts
            try:
                o, d, lost, wrong = latency_rounds(ours, 0, per, args.latency_blocks, repeat=True)
            finally:
                ours.hosts = saved
            latency_rows(f"one name asked again (TTL 300 s), upstream after {delay} ms", o, d, lost, wrong)
        finally:
            slow.kill()
            slow.wait()
    ours.start_upstream()
    return results


def bench_throughput(ours, base, args, cursor):
    count, rounds = args.burst_count, args.burst_rounds
    o_qps, b_qps, o_lost, b_lost, o_wrong, b_wrong, b_elems = [], [], 0, 0, 0, 0, []
    for r in range(rounds):
        first = cursor + r * count
        sides = [("ours", ours, "192.0.2.1"), ("base", base.side, "127.0.0.1")]
        if r % 2:
            sides.reverse()
        for which, side, server in sides:
            res = side.load(True, "burst", server, side.hosts, first, count, "--window", args.window)
            log(f"throughput round {r} {which}: {res}")
            if which == "ours":
                o_qps.append(res["qps"])
                o_lost += res["lost"]
                o_wrong += res["wrong"]
            else:
                b_qps.append(res["qps"])
                b_lost += res["lost"]
                b_wrong += res["wrong"]
                b_elems.append(base.elements())
        time.sleep(2.5)     # the learned elements of the round expire
    o, b = statistics.median(o_qps), statistics.median(b_qps)
    log(f"throughput: ours {o_qps} q/s, lost {o_lost}, wrong {o_wrong}; dnsmasq --nftset {b_qps} q/s, lost {b_lost}, "
        f"wrong {b_wrong}, set elements right after each round {b_elems}")
    row("resolver throughput", f"new names, {count} queries, {args.window} outstanding, q/s", o, b, "q/s",
        ">= 5000 q/s, 0 lost", o >= 5000 and o_lost == 0 and o_wrong == 0)
    row("resolver throughput", f"lost or wrong answers of {rounds * count}", o_lost + o_wrong, b_lost + b_wrong,
        "queries", "0", o_lost + o_wrong == 0)
    return cursor + rounds * count


def bench_connect(ours, args, cursor):
    res = ours.load(True, "connect", "192.0.2.1", ours.hosts, cursor, args.connects)
    log(f"first connections: {res}")
    row("resolver first connection", f"resolve then connect at once, {args.connects} new names",
        res["connected"], None, "connected", f"{args.connects} of {args.connects}", res["connected"] == args.connects)
    return cursor + args.connects


def bench_footprint(ours, sbx, args):
    rpid = sbx.resolver_pid()
    before = memory_kib(rpid), memory_kib(sbx.pid)
    done, lost = 0, 0
    while done < args.memory_queries:
        n = min(args.burst_count, args.memory_queries - done)
        # From the first name on: what earlier phases learned expired long ago.
        res = ours.load(True, "burst", "192.0.2.1", ours.hosts, done, n, "--window", args.window)
        lost += res["lost"] + res["wrong"]
        done += n
        time.sleep(2.5)     # the slice's elements expire: PID 1 follows at most 16,384 at once
    time.sleep(1)
    res_mem, pid1_mem = memory_kib(rpid), memory_kib(sbx.pid)
    log(f"footprint: resolver {describe(before[0])} before, {describe(res_mem)} after {done} more queries "
        f"({lost} lost or wrong); PID 1 {describe(before[1])} before, {describe(pid1_mem)} after")
    row("resolver footprint", f"lost or wrong answers of the {done} queries", lost, None, "queries", "0", lost == 0)
    row("resolver footprint", f"dns-resolver private dirty memory after {done} more queries", res_mem["dirty"] / 1024,
        None, "MiB", "<= 2 MiB", res_mem["dirty"] <= 2048)
    row("resolver footprint", f"PID 1 private dirty memory after {done} more queries", pid1_mem["dirty"] / 1024,
        None, "MiB", "< 2 MiB", pid1_mem["dirty"] < 2048)
    time.sleep(3)           # what the queries left (elements, timers) expires first
    a, b = wakeups(rpid), wakeups(sbx.pid)
    time.sleep(args.idle_s)
    ra, pa = wakeups(rpid) - a, wakeups(sbx.pid) - b
    log(f"idle: resolver {ra} and PID 1 {pa} context switches over {args.idle_s} s")
    row("resolver footprint", f"idle wake-ups over {args.idle_s} s: dns-resolver", ra, None, "wake-ups", "0", ra == 0)
    row("resolver footprint", f"idle wake-ups over {args.idle_s} s: PID 1", pa, None, "wake-ups", "0", pa == 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency-queries", type=int, default=500)
    ap.add_argument("--latency-blocks", type=int, default=10)
    ap.add_argument("--delay-ms", type=int, default=20)
    ap.add_argument("--burst-count", type=int, default=10000)
    ap.add_argument("--burst-rounds", type=int, default=3)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--connects", type=int, default=1000)
    ap.add_argument("--memory-queries", type=int, default=100000)
    ap.add_argument("--idle-s", type=int, default=10)
    ap.add_argument("--only", choices=["latency", "throughput", "connect", "footprint"], action="append")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_resolver.py needs root (network namespaces, nftables)")
    only = set(args.only or ["latency", "throughput", "connect", "footprint"])
    need = max(2 * args.latency_queries * ("latency" in only) + args.connects * ("connect" in only) +
               args.burst_count * args.burst_rounds * ("throughput" in only), args.memory_queries * ("footprint" in only))
    if need > WILD.num_addresses - 2:
        sys.exit(f"{need} new names do not fit in {WILD}")
    with tempfile.TemporaryDirectory(prefix="asb-bench-") as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)
        hosts = tmp / "wild.hosts"
        write_hosts(hosts, need)
        ours = Side(tmp / "ours", hosts)
        base = sbx = None
        try:
            ours.start_upstream()
            sbx = Sandbox(ours)
            cursor = 0
            if "latency" in only:
                cursor = bench_latency(ours, sbx, args, cursor)
                bench_latency_slow(ours, sbx, args, cursor, tmp)
                cursor += args.latency_queries
            if "connect" in only:
                cursor = bench_connect(ours, args, cursor)
            if "throughput" in only:
                base_side = Side(tmp / "base", hosts)
                base_side.start_upstream()
                base = Baseline(base_side)
                cursor = bench_throughput(ours, base, args, cursor)
            if "footprint" in only:
                bench_footprint(ours, sbx, args)
            errors = sbx.errors()
            if errors:
                log(f"the init logged {len(errors)} errors or refusals, the first: " + "; ".join(errors[:5]))
            row("resolver", "errors or refusals the init logged", len(errors), None, "lines", "0", not errors)
        except Exception:
            if sbx:
                log("the init's last lines:\n" + "\n".join(sbx.lines[-30:]))
            raise
        finally:
            if sbx:
                sbx.stop()
            ours.close()
            if base:
                base.side.close()


if __name__ == "__main__":
    main()
