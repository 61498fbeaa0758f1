#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The denial stream under a flood of refused SYNs, on the fake internet of
tests/firewall/fakenet.py, with agent-sandbox-init as PID 1 of the sandbox
namespace (`sleep` as CMD). Nothing leaves the namespaces this creates;
every name is .test.

What a flood costs allowed traffic is two things: a CPU busy sending SYNs
(the socket calls, conntrack, the reject path), which any firewall that
refuses them pays, and the denial stream (the log rule, the kernel's nflog
reports, PID 1 reading and summarising them), which is what the sandbox
adds. To tell them apart, one run measures four conditions in short
alternating slices (--slice-s, 0.25 s), the allowed flow running through
all of them:

  quiet  no flood; the flooders' CPU idle
  spin   no flood; the flooders' CPU kept busy by a loop that makes no
         system call (what a busy CPU costs, without a flood)
  off    a flood with the denial stream off: a rule the benchmark inserts
         into the init's output chain just before the log rule refuses
         198.18.0.0/16 with the same TCP reset as the init's reject rule,
         so those SYNs never reach the log rule
  on     the same flood to 198.19.0.0/16, which goes on through the log
         rule (`limit rate 50/second burst 100`, `log group`) to the init's
         reject: the denial stream on

Three processes of tests/bench/denials_flood.c (spin, off, on; one at a
time, the others stopped with SIGSTOP) are pinned with taskset to the last
CPU and run as the sandbox user (uid 65534, no capabilities); a flooder
makes a non-blocking TCP connect to a new refused address each time, as
fast as one process can. A cycle is one slice of each condition, in one of
four orders (a Williams design: each condition first, last and right after
each other equally often); --flood-s seconds of each condition in all (30:
120 cycles, 120 s), rounded up to whole designs.

The allowed flow (tests/bench/denials_flow.c, uid 65534) connects to
allowed.test (198.51.100.10:8443, a server in the "net" namespace; not a
name-checked port) every --period-ms (5), timing the connect, and reads a
1 MiB transfer on each connection, timed. It, its server, PID 1 and PID
1's children run on the other CPUs (taskset), so the denial stream's work
in PID 1 lands on the allowed flow's CPU; the benchmark's own process too
(it wakes only at slice boundaries). Every process of the benchmark runs
at --nice (-10), so that other work on a shared machine interrupts it
less. Connections starting in a slice's first 50 ms (the switch) or ending
after it belong to no condition.

Measured, in one run:
  - the allowed flow per slice: median and p90 connect latency and the
    transfer rate (bytes / transfer time); per condition the median of the
    slices and their p25/p75, and the p99 of all its connections. A ratio
    is the median over cycles of the two conditions' slices of that cycle
    (paired: within one cycle, 1 s), with a 95% bootstrap interval,
    the cycles resampled 2,000 times (seed 1); p99, pooled, is resampled the
    same way. on/off is the denial stream's cost, off/quiet the flood's,
    split into spin/quiet (a busy CPU) and off/spin (the flood's work).
    The target (within 10%) is on the median connect latency, on/off, and
    is met when the interval's upper end is <= 1.10;
  - PID 1's CPU time (/proc/PID/schedstat) and wake-ups (voluntary context
    switches) in the slices of each condition;
  - PID 1's Private_Dirty (smaps_rollup) before, at every slice boundary,
    and after;
  - the init's log lines about denials during the run (and until 2 s after
    it), the lines in the denial record, the refused SYNs (the reject
    rules' counters);
  - where the work ran: each CPU's busy, softirq and steal time
    (/proc/stat), NET_RX/TIMER/RCU softirqs (/proc/softirqs) and local
    timer, rescheduling, function-call and TLB interrupts (/proc/interrupts)
    per condition, and each process's allowed and last CPU;
  - PID 1 still answering afterwards (`agent-sandbox-init health`, an
    allowed connect, a reload by SIGHUP).

Rows go to stdout as JSON lines (see tests/bench/run); progress to stderr.

  sudo /usr/bin/python3 tests/bench/bench_denials.py [--flood-s 30] [--slice-s 0.25] [--period-ms 5]
                                                    [--nice -10] [--slices-json FILE]
"""
import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "firewall"))

USER = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--inh-caps=-all"]
ALLOWED_ADDR = "198.51.100.10"
ALLOWED_PORT = 8443
TRANSFER = 1 << 20
LOG_BURST, LOG_INTERVAL_S = 10, 6   # guest-init/denials.c: the log's own limit
RULE_BURST, RULE_RATE = 100, 50     # guest-init/nft.h: SBX_DENIAL_LOG_BURST, _RATE
SLICE_SETTLE_S = 0.05           # a slice's first moments belong to no condition
BOOTSTRAP = 2000
CONDITIONS = ("quiet", "spin", "off", "on")
LABEL = {"quiet": "no flood, flood CPU idle", "spin": "no flood, flood CPU busy", "off": "flood, denial stream off",
         "on": "flood, denial stream on"}
FLOOD_NET = {"spin": "spin", "off": "198.18.0.0", "on": "198.19.0.0"}
FLOODS = ("off", "on")
OFF_RULE_COMMENT = "benchmark: the flood without the denial stream"
# The flooders have the last CPU to themselves; the allowed flow, its
# server, the init and this process the others.
FLOOD_CPU = os.cpu_count() - 1
FLOW_CPUS = f"0-{FLOOD_CPU - 1}" if FLOOD_CPU > 0 else "0"
POLICY = "domains: [allowed.test]\nports: [443, 8443]\n"


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def row(bench, case, ours, baseline, unit, target, met, ratio=None, **extra):
    """ratio: ours / baseline unless given (the paired ratios of the
    allowed flow are medians over cycles, not a ratio of the two medians)."""
    if ratio is None and baseline and round(baseline, 3):
        ratio = round(ours / baseline, 3)
    r = {"bench": bench, "case": case, "ours": round(ours, 3),
         "baseline": None if baseline is None else round(baseline, 3), "unit": unit,
         "ratio": ratio, "target": target, "met": met}
    r.update(extra)
    print(json.dumps(r), flush=True)


# ---- reading the machine --------------------------------------------------------

def pid1_runtime_ns(pid):
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def status_field(pid, name):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise RuntimeError(f"no {name} in /proc/{pid}/status")


def private_dirty_kib(pid):
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Private_Dirty:"):
            return int(line.split()[1])
    raise RuntimeError("no Private_Dirty")


def softirqs():
    out = {}
    for line in Path("/proc/softirqs").read_text().splitlines()[1:]:
        name, *counts = line.split()
        out[name.rstrip(":")] = [int(c) for c in counts]
    return out


INTERRUPTS = ("LOC", "RES", "CAL", "TLB")


def interrupts():
    lines = Path("/proc/interrupts").read_text().splitlines()
    ncpu = len(lines[0].split())
    out = {}
    for line in lines[1:]:
        name, rest = line.split(":", 1)
        name = name.strip()
        fields = rest.split()
        counts = [int(c) for c in fields[:ncpu] if c.isdigit()]
        if len(counts) != ncpu:
            continue
        key = name if name in INTERRUPTS else "devices"
        out[key] = [a + b for a, b in zip(out.get(key, [0] * ncpu), counts)]
    return out


def cpu_times():
    """Per CPU: (busy, softirq, steal, total) in USER_HZ ticks."""
    out = []
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3].isdigit():
            v = [int(x) for x in line.split()[1:]]
            total = sum(v[:8])                      # guest time is inside user
            out.append((total - v[3] - v[4], v[6], v[7], total))
    return out


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(p / 100 * len(v) + 0.5) - 1))]


# ---- the sandbox ----------------------------------------------------------------

def output_rules(fn):
    out = fn.run(fn.sbx, ["nft", "-a", "-j", "list", "chain", "inet", "agent_sandbox", "output"]).stdout
    return [o["rule"] for o in json.loads(out)["nftables"] if "rule" in o]


def is_log_rule(r):
    return any("log" in e for e in r["expr"])


def insert_stream_off_rule(fn):
    """Just before the init's log rule: 198.18.0.0/16 refused with a TCP
    reset, as the init's own reject rule does, so that a flood there takes
    the same path as the one to 198.19.0.0/16 up to the log rule, and then
    stops short of it."""
    rules = output_rules(fn)
    logs = [r for r in rules if is_log_rule(r)]
    if len(logs) != 1:
        raise RuntimeError(f"the output chain has {len(logs)} log rules, not 1")
    fn.run(fn.sbx, ["nft", "insert", "rule", "inet", "agent_sandbox", "output", "position", str(logs[0]["handle"]),
                    "ip", "daddr", f"{FLOOD_NET['off']}/16", "meta", "l4proto", "tcp", "counter",
                    "reject", "with", "tcp", "reset", "comment", f'"{OFF_RULE_COMMENT}"'])
    rules = output_rules(fn)
    at = [i for i, r in enumerate(rules) if r.get("comment") == OFF_RULE_COMMENT]
    if len(at) != 1 or not is_log_rule(rules[at[0] + 1]):
        raise RuntimeError("the benchmark's rule is not just before the log rule")
    rejects_after = [r for r in rules[at[0] + 2:] if any("reject" in e for e in r["expr"])]
    if not rejects_after:
        raise RuntimeError("no reject rule after the log rule")
    return rules[at[0]]["handle"]


def counters(fn):
    """(packets the benchmark's stream-off rule refused, packets the init's
    reject rules refused)."""
    ours = init = 0
    for r in output_rules(fn):
        packets = sum(e["counter"]["packets"] for e in r["expr"] if "counter" in e)
        if r.get("comment") == OFF_RULE_COMMENT:
            ours += packets
        elif any("reject" in e for e in r["expr"]):
            init += packets
    return ours, init


def record_lines(d, needle=None):
    n = 0
    for f in Path(d).glob("denials.jsonl*"):
        n += sum(1 for line in f.open() if needle is None or needle in line)
    return n


class Sandbox:
    """The fake internet, the transfer server, and the init as PID 1 with
    the benchmark's stream-off rule in its output chain."""

    def __init__(self, tmp, tools, summary_s):
        from fakenet import FakeNet
        self.fn = FakeNet(tmp)
        self.init = None
        try:
            self._start(tmp, tools, summary_s)
        except BaseException:
            self.close()
            raise

    def _start(self, tmp, tools, summary_s):
        from fakenet import RunningInit
        self.fn.setup({"allowed.test": [ALLOWED_ADDR]}, ttl=3600)
        self.server = self.fn.popen(self.fn.net, ["taskset", "-c", FLOW_CPUS, str(tools["flow"]), "serve",
                                                  str(ALLOWED_PORT), str(TRANSFER)], stdout=subprocess.PIPE, text=True)
        assert self.server.stdout.readline().strip() == "ready"
        self.record_dir = tmp / "record"
        extra = ["--denial-summary-seconds", str(summary_s)] if summary_s else []
        self.init = RunningInit(self.fn, self.fn.write_policy(POLICY), *extra, "--", "sleep", "1000000",
                                denials_dir=self.record_dir)
        self.init.wait_for("sandbox ready", timeout=30)
        self.pid = self.init.init_pid()
        deadline = time.monotonic() + 5      # until CMD has exec'd: before, the fork shares PID 1's heap
        while not any(Path(f"/proc/{k}/comm").read_text().strip() == "sleep" for k in self.children()):
            if time.monotonic() > deadline:
                raise RuntimeError("PID 1 never started sleep")
            time.sleep(0.01)
        for task in [self.pid] + [int(k) for k in self.children()]:
            subprocess.run(["taskset", "-a", "-p", "-c", FLOW_CPUS, str(task)], check=True, stdout=subprocess.DEVNULL)
        if not any(is_log_rule(r) for r in output_rules(self.fn)):
            raise RuntimeError("the output chain lacks the log rule: no denial stream to measure")
        self.off_rule = insert_stream_off_rule(self.fn)

    def children(self):
        return Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()

    def flooder(self, tools, cond, count_file):
        p = self.fn.popen(self.fn.sbx, ["taskset", "-c", str(FLOOD_CPU)] + USER +
                          [str(tools["flood"]), FLOOD_NET[cond], str(count_file)], stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 5     # it stops itself before its first connect
        while not (Path(f"/proc/{p.pid}/comm").read_text().strip() == "denials_flood" and
                   Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"):
            if time.monotonic() > deadline or p.poll() is not None:
                raise RuntimeError("the flooder did not start")
            time.sleep(0.001)
        return p

    def client(self, tools, period_ms):
        return self.fn.popen(self.fn.sbx, ["taskset", "-c", FLOW_CPUS] + USER +
                             [str(tools["flow"]), "client", ALLOWED_ADDR, str(ALLOWED_PORT),
                              str(int(period_ms * 1000))], stdout=subprocess.PIPE, text=True)

    def answering(self):
        """health as the sandbox user in PID 1's namespaces, an allowed
        connect, and a reload; True when all three work."""
        from buildpaths import INIT
        h = subprocess.run(["nsenter", "-t", str(self.pid), "-p", "-n", "--"] + USER + [INIT, "health"],
                           capture_output=True, text=True, timeout=10)
        c = self.fn.run(self.fn.sbx, USER + [sys.executable, "-c",
                                             f"import socket; socket.create_connection(('{ALLOWED_ADDR}', "
                                             f"{ALLOWED_PORT}), timeout=3).close()"], check=False)
        mark = len(self.init.lines)
        os.kill(self.pid, signal.SIGHUP)
        try:
            self.init.wait_for("sandbox ready", timeout=15, after=mark)
            reloaded = True
        except AssertionError:
            reloaded = False
        log(f"  answering: health {h.returncode}, allowed connect {c.returncode}, reload {reloaded}")
        return h.returncode == 0 and c.returncode == 0 and reloaded

    def close(self):
        if self.init:
            self.init.stop()
        self.fn.teardown()


# ---- one run ----------------------------------------------------------------------

class Counter:
    """The flooder's count of connects, through its shared mapping."""

    def __init__(self, path):
        path.write_bytes(bytes(8))
        os.chmod(path, 0o666)
        self.path = path

    def read(self):
        return int.from_bytes(self.path.read_bytes()[:8], sys.byteorder)


def stop(p):
    """SIGSTOP, and wait until it has taken effect: what a slice counts
    starts once the flooder of the slice before has stopped."""
    os.kill(p.pid, signal.SIGSTOP)
    deadline = time.monotonic() + 1
    while Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
        if time.monotonic() > deadline:
            raise RuntimeError("a flooder did not stop")
        time.sleep(0.0001)


def snapshot(pid, flood_counts):
    return {"t": time.monotonic_ns(), "pid1_ns": pid1_runtime_ns(pid),
            "pid1_wakeups": int(status_field(pid, "voluntary_ctxt_switches")),
            "mem": private_dirty_kib(pid), "softirqs": softirqs(), "interrupts": interrupts(),
            "cpu": cpu_times(), "flood": {k: c.read() for k, c in flood_counts.items()}}


def placement(sb, flooders, client):
    def where(pid):
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        last = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[36]
        return f"{comm} (pid {pid}) CPUs {status_field(pid, 'Cpus_allowed_list')}, last on {last}"
    tasks = [sb.pid] + [int(k) for k in sb.children()]
    lines = [where(t) for t in tasks]
    lines += [where(p.pid) for p in flooders.values()]
    lines += [where(client.pid), where(sb.server.pid), where(os.getpid())]
    return lines


def balanced_orders(items):
    """A Williams design: len(items) orders in which each item comes first,
    last, and right after each other item equally often (len even)."""
    n = len(items)
    first = [0]
    for k in range(1, n):
        first.append((k + 1) // 2 if k % 2 else n - k // 2)
    return [[items[(i + r) % n] for i in first] for r in range(n)]


def measure(tmp, tools, flood_s, slice_s, period_ms, summary_s):
    sb = Sandbox(tmp, tools, summary_s)
    try:
        pid = sb.pid
        # This process only switches slices and reads /proc at their
        # boundaries; it shares the allowed flow's CPUs, as PID 1 does.
        for t in os.listdir("/proc/self/task"):
            os.sched_setaffinity(int(t), {int(c) for c in range(0, max(1, FLOOD_CPU))})
        time.sleep(1)
        mem_before = private_dirty_kib(pid)
        refused0 = counters(sb.fn)
        records0 = record_lines(sb.record_dir)
        mark = len(sb.init.lines)
        earlier = [l for l in sb.init.lines if "denied " in l or "refused DNS" in l]
        if earlier:
            log(f"  denials before the flood: {earlier}")

        counts = {c: Counter(tmp / f"count-{c}") for c in FLOOD_NET}
        flooders = {c: sb.flooder(tools, c, counts[c].path) for c in FLOOD_NET}
        client = sb.client(tools, period_ms)
        time.sleep(0.5)

        orders = balanced_orders(CONDITIONS)
        cycles = -(-max(1, round(flood_s / slice_s)) // len(orders)) * len(orders)   # whole designs
        slices, snaps = [], []
        running = None
        t_start = time.monotonic()
        k = 0
        for j in range(cycles):
            for cond in orders[j % len(orders)]:
                # The boundary is read between the one stopping and the
                # next starting, so that no condition counts another's work.
                if running:
                    stop(flooders[running])
                snaps.append(snapshot(pid, counts))
                slices.append((j, cond))
                running = cond if cond != "quiet" else None
                if running:
                    os.kill(flooders[running].pid, signal.SIGCONT)
                k += 1
                delay = t_start + k * slice_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        if running:
            stop(flooders[running])
        snaps.append(snapshot(pid, counts))
        wall_s = time.monotonic() - t_start
        for line in placement(sb, flooders, client):
            log(f"  placement at the end: {line}")

        client.send_signal(signal.SIGTERM)
        flow = [[int(x) for x in line.split()] for line in client.communicate()[0].splitlines()]
        flood = {}
        for c, p in flooders.items():
            p.send_signal(signal.SIGTERM)
            os.kill(p.pid, signal.SIGCONT)
            flood[c] = json.loads(p.communicate()[0])
        time.sleep(2)
        mem_after = private_dirty_kib(pid)
        lines = sb.init.lines[mark:]
        refused1 = counters(sb.fn)
        records = record_lines(sb.record_dir) - records0
        off_recorded = record_lines(sb.record_dir, '"' + FLOOD_NET["off"].rsplit(".", 2)[0] + ".")
        fn = sb.fn
        fn.run(fn.sbx, ["nft", "delete", "rule", "inet", "agent_sandbox", "output", "handle", str(sb.off_rule)])
        ok = sb.answering()
    finally:
        sb.close()

    denied = [l for l in lines if "denied tcp 198.1" in l]
    off_denied = [l for l in denied if "denied tcp " + FLOOD_NET["off"].rsplit(".", 2)[0] + "." in l]
    if off_denied or off_recorded:
        raise RuntimeError(f"the flood with the denial stream off reached it: {off_denied[:2]}, "
                           f"{off_recorded} record lines")
    return {"slices": slices, "snaps": snaps, "flow": flow, "flood": flood, "wall_s": wall_s, "cycles": cycles,
            "mem_before": mem_before, "mem_after": mem_after, "lines": lines, "denied": denied,
            "left_out": [l for l in lines if "left out of this log" in l],
            "lost": [l for l in lines if "came faster than PID 1 read them" in l],
            "refused_off": refused1[0] - refused0[0], "refused_init": refused1[1] - refused0[1],
            "records": records, "answering": ok}


# ---- statistics -------------------------------------------------------------------

def per_slice(m):
    """{cond: [per cycle: {"median_us", "mib_s", "us": [...], "n"}]} and
    {cond: {"errors": {errno: n}}}."""
    out = {c: [None] * m["cycles"] for c in CONDITIONS}
    errors = {c: {} for c in CONDITIONS}
    settle = int(SLICE_SETTLE_S * 1e9)
    bounds = [(s["t"], m["snaps"][i + 1]["t"]) for i, s in enumerate(m["snaps"][:-1])]
    flow = sorted(m["flow"])
    i = 0
    for (cycle, cond), (a, b) in zip(m["slices"], bounds):
        us, nbytes, secs = [], 0, 0.0
        while i < len(flow) and flow[i][0] < b:
            start, connect_ns, transfer_ns, got, err = flow[i]
            i += 1
            if start < a + settle or start + connect_ns + transfer_ns > b:
                continue
            if err:
                errors[cond][err] = errors[cond].get(err, 0) + 1
                continue
            us.append(connect_ns / 1000)
            nbytes += got
            secs += transfer_ns / 1e9
        out[cond][cycle] = {"median_us": statistics.median(us) if us else None,
                            "p90_us": percentile(us, 90) if us else None, "us": us, "n": len(us),
                            "mib_s": nbytes / secs / (1 << 20) if secs else None}
    return out, errors


def per_condition(m):
    """Per condition, summed over its slices: PID 1's CPU and wake-ups, the
    flooder's connects, each CPU's busy/softirq/steal time, softirqs and
    interrupts, as rates."""
    agg = {c: {"s": 0.0, "pid1_ns": 0, "pid1_wakeups": 0, "connects": 0, "cpu": None, "softirqs": {},
               "interrupts": {}} for c in CONDITIONS}
    for (cycle, cond), a, b in zip(m["slices"], m["snaps"][:-1], m["snaps"][1:]):
        g = agg[cond]
        g["s"] += (b["t"] - a["t"]) / 1e9
        g["pid1_ns"] += b["pid1_ns"] - a["pid1_ns"]
        g["pid1_wakeups"] += b["pid1_wakeups"] - a["pid1_wakeups"]
        g["connects"] += sum(b["flood"][k] - a["flood"][k] for k in FLOODS)
        d = [tuple(y - x for x, y in zip(ca, cb)) for ca, cb in zip(a["cpu"], b["cpu"])]
        g["cpu"] = d if g["cpu"] is None else [tuple(x + y for x, y in zip(p, q)) for p, q in zip(g["cpu"], d)]
        for kind in ("softirqs", "interrupts"):
            for name, counts in b[kind].items():
                delta = [y - x for x, y in zip(a[kind].get(name, [0] * len(counts)), counts)]
                prev = g[kind].get(name, [0] * len(counts))
                g[kind][name] = [x + y for x, y in zip(prev, delta)]
    return agg


def median_of(slices, idx, key="median_us"):
    v = [slices[i][key] for i in idx if slices[i][key] is not None]
    return statistics.median(v) if v else None


def pooled(slices, idx, p):
    v = [u for i in idx for u in slices[i]["us"]]
    return percentile(v, p) if v else None


def interval(stat, n, seed=1, rounds=BOOTSTRAP):
    """95% bootstrap interval of stat(cycle indices), the cycles resampled."""
    rng = random.Random(seed)
    vals = []
    for _ in range(rounds):
        v = stat([rng.randrange(n) for _ in range(n)])
        if v is not None:
            vals.append(v)
    vals.sort()
    return vals[int(0.025 * len(vals))], vals[min(len(vals) - 1, int(0.975 * len(vals)))]


def paired_ratio(sl, x, y, key):
    """The median over cycles of x's slice / y's slice of the same cycle:
    two slices of one cycle (1 s by default), so that what the machine does
    meanwhile (other work, its CPUs' idle states) falls on both."""
    per_cycle = [sl[x][j][key] / sl[y][j][key] if sl[x][j][key] is not None and sl[y][j][key] else None
                 for j in range(len(sl[x]))]

    def stat(idx):
        v = [per_cycle[i] for i in idx if per_cycle[i] is not None]
        return statistics.median(v) if v else None
    return stat


def pooled_ratio(sl, x, y, p):
    """The p-th percentile of all x's connections over all y's: for a tail
    percentile, which one slice has too few connections to give."""
    def stat(idx):
        a, b = pooled(sl[x], idx, p), pooled(sl[y], idx, p)
        return a / b if a is not None and b else None
    return stat


def describe_condition(c, sl, agg, n):
    idx = range(n)
    meds = [s["median_us"] for s in sl[c] if s["median_us"] is not None]
    rates = [s["mib_s"] for s in sl[c] if s["mib_s"] is not None]
    g = agg[c]
    return (f"  {LABEL[c]:25s}: connect median {median_of(sl[c], idx):.0f} us "
            f"(slices p25 {percentile(meds, 25):.0f}, p75 {percentile(meds, 75):.0f}; all p90 "
            f"{pooled(sl[c], idx, 90):.0f}, p99 {pooled(sl[c], idx, 99):.0f}; n={sum(s['n'] for s in sl[c])}); "
            f"transfer {statistics.median(rates):.0f} MiB/s (p25 {percentile(rates, 25):.0f}, "
            f"p75 {percentile(rates, 75):.0f}); flooder {g['connects'] / g['s']:.0f} connects/s; "
            f"PID 1 {g['pid1_ns'] / 1e9 / g['s'] * 100:.2f}% CPU, {g['pid1_wakeups'] / g['s']:.1f} wake-ups/s")


def describe_cpus(c, agg):
    g = agg[c]
    out = []
    for cpu, (busy, soft, steal, total) in enumerate(g["cpu"]):
        rates = ", ".join(f"{name} {g['softirqs'][name][cpu] / g['s']:.0f}/s" for name in ("NET_RX", "TIMER", "RCU"))
        irqs = ", ".join(f"{name} {g['interrupts'].get(name, [0] * (cpu + 1))[cpu] / g['s']:.0f}/s"
                         for name in INTERRUPTS + ("devices",))
        out.append(f"    CPU{cpu}: busy {busy / total * 100:.0f}%, softirq {soft / total * 100:.0f}%, "
                   f"steal {steal / total * 100:.0f}%; softirqs {rates}; interrupts {irqs}")
    return out


def report(m):
    sl, errors = per_slice(m)
    agg = per_condition(m)
    n = m["cycles"]
    idx = list(range(n))
    fl = m["flood"]
    log(f"  {n} cycles of {len(CONDITIONS)} slices in {m['wall_s']:.1f} s; flooders: off {fl['off']}, on {fl['on']}; "
        f"refused by the stream-off rule {m['refused_off']}, by the init's rejects {m['refused_init']}")
    for c in CONDITIONS:
        log(describe_condition(c, sl, agg, n))
        for line in describe_cpus(c, agg):
            log(line)
    log(f"  PID 1 private dirty {m['mem_before']} KiB before, at the boundaries "
        f"{[s['mem'] for s in m['snaps']][::max(1, len(m['snaps']) // 12)]}, {m['mem_after']} KiB after")
    log(f"  log: {len(m['denied'])} 'denied' lines, {len(m['left_out'])} 'left out' lines, {len(m['lost'])} 'lost' "
        f"warnings; {m['records']} record lines")
    for l in m["denied"][:2] + m["left_out"][:2] + m["lost"][:2]:
        log(f"    {l}")
    log(f"  allowed flow errors: {errors}")

    on, off = agg["on"], agg["off"]
    row("denials", f"refused SYN flood from one core, {on['s']:.0f} s with the denial stream on "
        f"(and {off['s']:.0f} s off) in {m['wall_s'] / (n * len(CONDITIONS)):.2g} s slices",
        on["connects"] / on["s"], off["connects"] / off["s"], "connects/s", "(reported)", True)
    cpu_on, cpu_off = on["pid1_ns"] / 1e9 / on["s"] * 100, off["pid1_ns"] / 1e9 / off["s"] * 100
    row("denials", "PID 1 CPU during the flood, denial stream on vs off", cpu_on, cpu_off, "% of a core", "<= 10%",
        cpu_on <= 10)
    row("denials", "PID 1 wake-ups during the flood, denial stream on vs off", on["pid1_wakeups"] / on["s"],
        off["pid1_wakeups"] / off["s"], "/s", "(reported)", True)
    mems = [s["mem"] for s in m["snaps"]]
    half = mems[len(mems) // 2:]
    row("denials", "PID 1 private dirty memory, before the flood -> after", m["mem_after"], m["mem_before"],
        "KiB", "flat: growth <= 128 KiB (fixed tables)", m["mem_after"] - m["mem_before"] <= 128)
    growth = half[-1] - half[0]
    row("denials", "PID 1 private dirty memory growth over the flood's second half", growth, None,
        "KiB", "0 (does not grow with the flood)", growth <= 0)
    ws = m["wall_s"]               # the rate limits count wall time, whatever the slice
    limit = LOG_BURST + ws / LOG_INTERVAL_S + 1
    lines = len(m["denied"]) + len(m["left_out"])
    row("denials", f"denial log lines during the flood ({m['refused_init']} SYNs through the log rule, "
        f"{m['refused_off']} refused before it)", lines, None, "lines",
        f"<= {limit:.0f} (burst {LOG_BURST}, then 1 per {LOG_INTERVAL_S} s over {ws:.0f} s)", lines <= limit)
    rlimit = RULE_BURST + RULE_RATE * (ws + 2) + 10
    row("denials", "denial record lines written during the flood", m["records"], None, "lines",
        f"<= {rlimit:.0f} (the rule's burst {RULE_BURST} + {RULE_RATE}/s)", m["records"] <= rlimit)
    row("denials", "PID 1 still answering after the flood", 1 if m["answering"] else 0, None, "",
        "health, allowed connect, reload", m["answering"])
    failed = sum(v for e in errors.values() for v in e.values())
    row("denials", "allowed flow connections that failed", failed, None, "", "0", failed == 0)

    def spread(c, key):
        v = [x[key] for x in sl[c] if x[key] is not None]
        return [round(percentile(v, 25), 1), round(percentile(v, 75), 1)]

    comparisons = (("on", "off", "flood: denial stream on vs off", True),
                   ("off", "quiet", "flood (denial stream off) vs no flood", True),
                   ("off", "spin", "flood (denial stream off) vs no flood with its CPU busy", False),
                   ("spin", "quiet", "no flood: its CPU busy vs idle", False),
                   ("on", "quiet", "flood (denial stream on) vs no flood", False))
    measures = (("median_us", "connect latency median", "us"), ("p90_us", "connect latency p90", "us"),
                ("p99", "connect latency p99", "us"), ("mib_s", "1 MiB transfer rate", "MiB/s"))
    for x, y, what, tails in comparisons:
        for key, name, unit in measures:
            if not tails and key not in ("median_us", "mib_s"):
                continue
            if key == "p99":
                stat = pooled_ratio(sl, x, y, 99)
                lo, hi = interval(stat, n, rounds=BOOTSTRAP // 4)
                extra = {}
                ours, base = pooled(sl[x], idx, 99), pooled(sl[y], idx, 99)
            else:
                stat = paired_ratio(sl, x, y, key)
                lo, hi = interval(stat, n)
                extra = {"spread": {"ours": spread(x, key), "baseline": spread(y, key)}}
                ours, base = median_of(sl[x], idx, key), median_of(sl[y], idx, key)
            if x == "on" and y == "off" and key == "median_us":
                target, met = "within 10%: 95% interval of the ratio <= 1.10", hi <= 1.10
            else:
                target, met = "(reported)", True
            row("denials", f"allowed flow {name}, {what}", ours, base, unit, target, met,
                ratio=round(stat(idx), 3), interval=[round(lo, 3), round(hi, 3)], **extra)


def build_tools(tmp):
    tools = {}
    for name, src in (("flood", "denials_flood.c"), ("flow", "denials_flow.c")):
        out = tmp / f"denials_{name}"
        subprocess.run(["cc", "-O2", "-Wall", "-o", str(out), str(HERE / src)], check=True)
        tools[name] = out
    return tools


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flood-s", type=float, default=30,
                    help="seconds of each flood condition (stream on, stream off), as many of quiet")
    ap.add_argument("--slice-s", type=float, default=0.25, help="length of each slice")
    ap.add_argument("--period-ms", type=float, default=5, help="the allowed flow's interval between connects")
    ap.add_argument("--slices-json", type=Path,
                    help="write each slice's figures (cycle, condition, connect median and p90, transfer rate, "
                         "connections) there, for a look at the raw data")
    ap.add_argument("--summary-s", type=int, default=0,
                    help="--denial-summary-seconds for the init (default: the init's own, a minute)")
    ap.add_argument("--nice", type=int, default=-10,
                    help="nice value of every process of the benchmark (0: leave it)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_denials.py needs root (network namespaces, nftables)")
    log(f"load average at the start: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    if args.nice:
        # Every process of the benchmark (the init and its children, the
        # flooders, the allowed flow and its server) inherits it: among
        # themselves nothing changes, other work on the machine
        # interrupts them less.
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
    with tempfile.TemporaryDirectory(prefix="asb-bench-denials-") as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)
        tools = build_tools(tmp)
        (tmp / "run").mkdir()
        m = measure(tmp / "run", tools, args.flood_s, args.slice_s, args.period_ms, args.summary_s)
    report(m)
    if args.slices_json:
        sl, _ = per_slice(m)
        args.slices_json.write_text(json.dumps(
            [{"cycle": j, "condition": c, **{k: v for k, v in sl[c][j].items() if k != "us"}}
             for j, c in m["slices"]], indent=0))
    log(f"load average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
