#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The denial stream under a flood (issue #14, Benchmarks), on the fake
internet of tests/firewall/fakenet.py, with agent-sandbox-init as PID 1 of
the sandbox namespace (`sleep` as CMD). Nothing leaves the namespaces this
creates; every name is .test.

A flooder (C, compiled here, one process pinned to the last CPU) runs as
the sandbox user (uid 65534, no capabilities) and starts a non-blocking
TCP connect to a new refused destination each time, as fast as it can, for
--flood-s seconds: 198.18.0.0/15 (none of it in the policy), the port
changing each time the addresses wrap. Every SYN meets the reject rule;
the log rule before it (`limit rate 50/second burst 100`, `log group`)
passes at most 50 a second to PID 1, which reads them on its epoll loop.

At the same time an allowed flow, also as the sandbox user, connects to
allowed.test (198.51.100.10:8443, a server this starts in the "net"
namespace) every --period-ms, timing the connect, and reads a 1 MiB
transfer on each connection. Quiet and flooding slices of --slice-s
alternate (the flooder stopped and continued), --flood-s seconds of each,
the allowed flow running through all of them: its connections in the
quiet slices are the peer (baseline) of those in the flooding slices,
measured in the same minutes, so that what drifts on the machine meanwhile
falls on both sides. The flooder has the last CPU to itself; the allowed
flow, its server and the init the others.

Measured, in one run:
  - PID 1's CPU time in the flooding slices (utime + stime of
    /proc/PID/stat), as % of one core; the work the kernel does to queue the reports is
    done in the flooder's context and is not in it;
  - PID 1's Private_Dirty (smaps_rollup) before the flood, sampled every
    second during it, and after it;
  - the init's log lines about denials during the flood (and until 2 s
    after it), the lines added to the denial record, the refused SYNs
    (the reject rules' counters) and the reports the log rule let through;
  - the allowed flow's connect latency (median, p99) and transfer rate,
    in the flooding slices against the quiet ones;
  - PID 1 still answering afterwards (`agent-sandbox-init health`, an
    allowed connect, a reload by SIGHUP).
Then the same with the log rule absent: a socket of the benchmark holds
the init's nfnetlink_log group before the init starts, so the init cannot
bind it and programs its rules without the log rule (what it does on a
kernel without nfnetlink_log); refused connects are then only counted.

Rows go to stdout as JSON lines (see tests/bench/run); progress to stderr.

  sudo /usr/bin/python3 tests/bench/bench_denials.py [--flood-s 30] [--slice-s 1] [--period-ms 20] [--no-log-variant]
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import struct
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
NFLOG_GROUP = 0x4153            # guest-init/denial_nflog.h: DENIAL_NFLOG_GROUP
LOG_BURST, LOG_INTERVAL_S = 10, 6   # guest-init/denials.c: the log's own limit
SLICE_S = 1.0                   # quiet and flooding slices alternate, this long each
SLICE_SETTLE_S = 0.1            # a slice's first moments belong to neither side
# The flooder has the last CPU to itself; the allowed flow, its server and
# the init the others: what is measured is what the flood costs through the
# kernel and PID 1, not two processes taking turns on one CPU.
FLOOD_CPU = os.cpu_count() - 1
OTHER_CPUS = f"0-{FLOOD_CPU - 1}" if FLOOD_CPU > 0 else "0"
POLICY = "domains: [allowed.test]\nports: [443, 8443]\n"

FLOODER_C = r"""
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* flooder SECONDS: a non-blocking TCP connect to a new destination of
 * 198.18.0.0/15 each time, the port moving on when the addresses wrap. */
static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
        double secs = atof(argv[1]), t0 = now(), end = t0 + secs;
        unsigned long n = 0, refused = 0, inprogress = 0, other = 0, failed_socket = 0;
        uint32_t base = ntohl(inet_addr("198.18.0.0"));
        for (;;) {
                if ((n & 255) == 0 && now() >= end)
                        break;
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        failed_socket++;
                        n++;
                        continue;
                }
                struct sockaddr_in sa = { .sin_family = AF_INET };
                sa.sin_addr.s_addr = htonl(base + (uint32_t) (n % 131072));
                sa.sin_port = htons((uint16_t) (1024 + (n / 131072) % 60000));
                if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                        if (errno == ECONNREFUSED)
                                refused++;
                        else if (errno == EINPROGRESS)
                                inprogress++;
                        else
                                other++;
                } else
                        other++;
                close(fd);
                n++;
        }
        printf("{\"connects\": %lu, \"seconds\": %.3f, \"ECONNREFUSED\": %lu, \"EINPROGRESS\": %lu, "
               "\"other\": %lu, \"socket_failed\": %lu}\n", n, now() - t0, refused, inprogress, other, failed_socket);
        return 0;
}
"""


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def row(bench, case, ours, baseline, unit, target, met):
    ratio = round(ours / baseline, 3) if baseline else None
    print(json.dumps({"bench": bench, "case": case, "ours": round(ours, 3),
                      "baseline": None if baseline is None else round(baseline, 3), "unit": unit,
                      "ratio": ratio, "target": target, "met": met}), flush=True)


# ---- helpers run inside the namespaces (this file, with a subcommand) ---------

def serve(port):
    """In the "net" namespace: each connection gets TRANSFER bytes, then EOF."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(128)
    payload = b"x" * TRANSFER
    print("ready", flush=True)
    while True:
        c, _ = ls.accept()
        try:
            c.sendall(payload)
        except OSError:
            pass
        c.close()


def allowed_client(addr, port, secs, period_ms):
    """In the sandbox namespace: a connect every period_ms (timed), then the
    transfer read to its end (timed). Prints one JSON object: per
    connection [start (CLOCK_MONOTONIC, s), connect us, transfer s, bytes],
    and the errors as [start, name]."""
    samples, errors = [], []
    buf = bytearray(256 * 1024)
    end = time.monotonic() + secs
    nxt = time.monotonic()
    while time.monotonic() < end:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        start = time.monotonic()
        try:
            t0 = time.perf_counter_ns()
            s.connect((addr, port))
            t1 = time.perf_counter_ns()
            got = 0
            while True:
                k = s.recv_into(buf)
                if not k:
                    break
                got += k
            t2 = time.perf_counter_ns()
            samples.append([start, (t1 - t0) / 1000, (t2 - t1) / 1e9, got])
        except OSError as e:
            errors.append([start, type(e).__name__])
        finally:
            s.close()
        nxt += period_ms / 1000
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()
    print(json.dumps({"samples": samples, "errors": errors}))


# ---- measuring PID 1 -----------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK      # utime, stime


def private_dirty_kib(pid):
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Private_Dirty:"):
            return int(line.split()[1])
    raise RuntimeError("no Private_Dirty")


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(p / 100 * len(v) + 0.5) - 1))]


def hold_nflog_group(group):
    """A netfilter netlink socket bound to the init's nfnetlink_log group, in
    the calling process's network namespace; the init then finds it taken."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)      # NETLINK_NETFILTER
    s.bind((0, 0))
    attr = struct.pack("=HHB3x", 5, 1, 1)           # NFULA_CFG_CMD: NFULNL_CFG_CMD_BIND
    body = struct.pack("!BBH", 0, 0, group) + attr  # nfgenmsg: AF_UNSPEC, v0, res_id
    hdr = struct.pack("=IHHII", 16 + len(body), (4 << 8) | 1, 0x1 | 0x4, 1, 0)  # ULOG, CONFIG; REQUEST|ACK
    s.send(hdr + body)
    ack = s.recv(4096)
    err = struct.unpack_from("=i", ack, 16)[0]
    if err:
        raise OSError(-err, f"binding nfnetlink_log group {group}: {os.strerror(-err)}")
    return s


def hold_group_main():
    s = hold_nflog_group(NFLOG_GROUP)
    print("holding", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    s.close()


def reject_counters(fn):
    """Packets counted by the output chain's reject rules; packets the log rule
    let through cannot be counted (it has no counter), see record lines."""
    out = fn.run(fn.sbx, ["nft", "-j", "list", "ruleset"]).stdout
    total, has_log = 0, False
    for obj in json.loads(out)["nftables"]:
        r = obj.get("rule")
        if not r or r.get("chain") != "output":
            continue
        kinds = {k for e in r["expr"] for k in e}
        if "log" in kinds:
            has_log = True
        if "reject" in kinds:
            total += sum(e["counter"]["packets"] for e in r["expr"] if "counter" in e)
    return total, has_log


def record_lines(d):
    n = 0
    for f in Path(d).glob("denials.jsonl*"):
        n += sum(1 for _ in f.open())
    return n


class Sandbox:
    """The fake internet, the transfer server, and the init as PID 1."""

    def __init__(self, tmp, with_log, summary_s):
        from fakenet import FakeNet
        self.fn = FakeNet(tmp)
        self.init = self.holder = None
        try:
            self._start(tmp, with_log, summary_s)
        except BaseException:
            self.close()
            raise

    def _start(self, tmp, with_log, summary_s):
        from fakenet import RunningInit
        self.fn.setup({"allowed.test": [ALLOWED_ADDR]}, ttl=3600)
        srv = self.fn.popen(self.fn.net, ["taskset", "-c", OTHER_CPUS, sys.executable, str(Path(__file__).resolve()), "serve",
                                          str(ALLOWED_PORT)], stdout=subprocess.PIPE, text=True)
        assert srv.stdout.readline().strip() == "ready"
        if not with_log:
            self.holder = self.fn.popen(self.fn.sbx, [sys.executable, str(Path(__file__).resolve()), "hold-group"],
                                        stdout=subprocess.PIPE, text=True)
            assert self.holder.stdout.readline().strip() == "holding"
        self.record_dir = tmp / "record"
        extra = ["--denial-summary-seconds", str(summary_s)] if summary_s else []
        self.init = RunningInit(self.fn, self.fn.write_policy(POLICY), *extra, "--", "sleep", "1000000",
                                denials_dir=self.record_dir)
        self.init.wait_for("sandbox ready", timeout=30)
        self.pid = self.init.init_pid()
        deadline = time.monotonic() + 5      # until CMD has exec'd: before, the fork shares PID 1's heap
        while not any(Path(f"/proc/{k}/comm").read_text().strip() == "sleep"
                      for k in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()):
            if time.monotonic() > deadline:
                raise RuntimeError("PID 1 never started sleep")
            time.sleep(0.01)
        for task in [self.pid] + [int(k) for k in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()]:
            subprocess.run(["taskset", "-p", "-c", OTHER_CPUS, str(task)], check=True, stdout=subprocess.DEVNULL)
        counted, self.has_log = reject_counters(self.fn)
        if self.has_log != with_log:
            raise RuntimeError(f"the output chain {'lacks' if with_log else 'has'} the log rule")

    def allowed(self, secs, period_ms):
        return self.fn.popen(self.fn.sbx, ["taskset", "-c", OTHER_CPUS] + USER + [sys.executable, str(Path(__file__).resolve()), "allowed-client",
                                                  ALLOWED_ADDR, str(ALLOWED_PORT), str(secs), str(period_ms)],
                             stdout=subprocess.PIPE, text=True)

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
        if self.holder:
            self.holder.send_signal(signal.SIGTERM)
        self.fn.teardown()


def in_slices(t, slices, flooding):
    """Whether a connection started at t falls inside a slice of that kind,
    past its first SLICE_SETTLE_S (the flooder stopping or resuming)."""
    return any(on == flooding and a + SLICE_SETTLE_S <= t < b for a, b, on in slices)


def flow_stats(result, slices, flooding):
    picked = [x for x in result["samples"] if in_slices(x[0], slices, flooding)]
    us = [x[1] for x in picked]
    secs = sum(x[2] for x in picked)
    nbytes = sum(x[3] for x in picked)
    errors = {}
    for t, name in result["errors"]:
        if in_slices(t, slices, flooding):
            errors[name] = errors.get(name, 0) + 1
    return {"median_us": statistics.median(us), "p99_us": percentile(us, 99), "n": len(us),
            "mib_s": nbytes / secs / (1 << 20) if secs else 0.0, "errors": errors}


def describe(s):
    return (f"connect median {s['median_us']:.0f} us, p99 {s['p99_us']:.0f} us (n={s['n']}), "
            f"transfer {s['mib_s']:.0f} MiB/s, errors {s['errors'] or 'none'}")


def run_variant(tmp, flooder, with_log, flood_s, period_ms, summary_s, slice_s):
    name = "with the log rule" if with_log else "log rule absent"
    log(f"== {name}")
    sb = Sandbox(tmp, with_log, summary_s)
    try:
        pid = sb.pid
        time.sleep(1)
        mem_before = private_dirty_kib(pid)
        counted0, _ = reject_counters(sb.fn)
        records0 = record_lines(sb.record_dir)
        mark = len(sb.init.lines)
        earlier = [l for l in sb.init.lines if "denied " in l or "refused DNS" in l]
        if earlier:
            log(f"  denials before the flood: {earlier}")

        # Quiet and flooding slices alternate, the allowed flow running
        # through all of them: each side is measured in the same minutes,
        # so what drifts on the machine meanwhile falls on both.
        n_slices = 2 * max(1, round(flood_s / slice_s))
        total = n_slices * slice_s
        client = sb.allowed(total + 0.5, period_ms)
        flood = sb.fn.popen(sb.fn.sbx, ["taskset", "-c", str(FLOOD_CPU)] + USER +
                            [str(flooder), str(total + 0.5)], stdout=subprocess.PIPE, text=True)
        os.kill(flood.pid, signal.SIGSTOP)
        slices, samples = [], []
        cpu_on = on_s = 0.0
        t_start = time.monotonic()
        for i in range(n_slices):
            flooding = i % 2 == 1
            os.kill(flood.pid, signal.SIGCONT if flooding else signal.SIGSTOP)
            a, cpu_a = time.monotonic(), cpu_s(pid)
            end = t_start + (i + 1) * slice_s
            while time.monotonic() < end:
                samples.append((time.monotonic() - t_start, private_dirty_kib(pid)))
                time.sleep(min(0.5, max(0.0, end - time.monotonic())))
            b, cpu_b = time.monotonic(), cpu_s(pid)
            slices.append((a, b, flooding))
            if flooding:
                cpu_on += cpu_b - cpu_a
                on_s += b - a
        os.kill(flood.pid, signal.SIGCONT)
        fl = json.loads(flood.stdout.read())
        during = json.loads(client.communicate()[0])
        time.sleep(2)
        mem_after = private_dirty_kib(pid)
        lines = sb.init.lines[mark:]
        denied = [l for l in lines if "denied tcp 198.1" in l]
        left_out = [l for l in lines if "left out of this log" in l]
        lost = [l for l in lines if "came faster than PID 1 read them" in l]
        counted1, _ = reject_counters(sb.fn)
        records = record_lines(sb.record_dir) - records0
        ok = sb.answering()
    finally:
        sb.close()

    cpu_pct = cpu_on / on_s * 100
    half = [kib for t, kib in samples if t >= total / 2]
    growth_2nd_half = (half[-1] - half[0]) if half else 0
    peak = max([kib for _, kib in samples] + [mem_after])
    base, flooded = flow_stats(during, slices, False), flow_stats(during, slices, True)
    fl["seconds"] = on_s          # the flooder ran only in the flooding slices
    log(f"  flood: {fl['connects']} connects in {on_s:.1f} s of flooding slices "
        f"({fl['connects'] / on_s:.0f}/s), {fl['ECONNREFUSED']} ECONNREFUSED, {fl['EINPROGRESS']} EINPROGRESS, "
        f"{fl['other']} other, {fl['socket_failed']} socket() failures; reject counters +{counted1 - counted0}")
    log(f"  PID 1: {cpu_on:.2f} s CPU in {on_s:.1f} s of flooding ({cpu_pct:.2f}% of one core); private dirty "
        f"{mem_before} KiB before, peak {peak}, {mem_after} KiB after; samples {[k for _, k in samples][::4]}")
    log(f"  log: {len(denied)} 'denied' lines, {len(left_out)} 'left out' lines, {len(lost)} 'lost' warnings; "
        f"{records} record lines")
    for l in denied[:2] + left_out[:2] + lost[:2]:
        log(f"    {l}")
    log(f"  allowed flow in the quiet slices:    {describe(base)}")
    log(f"  allowed flow in the flooding slices: {describe(flooded)}")
    return {"name": name, "flood": fl, "refused": counted1 - counted0, "cpu_pct": cpu_pct,
            "mem_before": mem_before, "mem_after": mem_after, "peak": peak, "growth_2nd_half": growth_2nd_half,
            "denied": len(denied), "left_out": len(left_out), "lost": len(lost), "records": records,
            "base": base, "flooded": flooded, "answering": ok, "flood_s": on_s, "wall_s": total}


def report(v, other):
    tag = "" if v["name"] == "with the log rule" else ", log rule absent"
    b, f = v["base"], v["flooded"]
    fs = v["flood"]["seconds"]
    ws = v["wall_s"]               # the rate limits count wall time, quiet slices included
    if v["name"] == "with the log rule":
        rate = v["flood"]["connects"] / v["flood"]["seconds"]
        row("denials", f"refused SYN flood from one core, {fs:.0f} s in {SLICE_S:g} s slices", rate, None, "connects/s", "(reported)", True)
        row("denials", "PID 1 CPU during the flood", v["cpu_pct"], other["cpu_pct"] if other else None,
            "% of a core", "<= 10%", v["cpu_pct"] <= 10)
        row("denials", "PID 1 private dirty memory, before the flood -> after", v["mem_after"], v["mem_before"],
            "KiB", "flat: growth <= 128 KiB (fixed tables)", v["mem_after"] - v["mem_before"] <= 128)
        row("denials", "PID 1 private dirty memory growth over the flood's second half", v["growth_2nd_half"], None,
            "KiB", "0 (does not grow with the flood)", v["growth_2nd_half"] <= 0)
        limit = LOG_BURST + ws / LOG_INTERVAL_S + 1
        row("denials", f"denial log lines during the flood ({v['refused']} refused SYNs)",
            v["denied"] + v["left_out"], None, "lines", f"<= {limit:.0f} (burst {LOG_BURST}, then 1 per "
            f"{LOG_INTERVAL_S} s)", v["denied"] + v["left_out"] <= limit)
        rlimit = 100 + 50 * (ws + 2) + 10
        row("denials", "denial record lines written during the flood", v["records"], None, "lines",
            f"<= {rlimit:.0f} (the rule's burst 100 + 50/s)", v["records"] <= rlimit)
    else:
        row("denials", "PID 1 CPU during the flood, log rule absent", v["cpu_pct"], None, "% of a core",
            "(reported)", True)
    row("denials", "PID 1 still answering after the flood" + tag, 1 if v["answering"] else 0, None, "",
        "health, allowed connect, reload", v["answering"])
    row("denials", "allowed flow connect latency median, flooding vs quiet slices" + tag, f["median_us"], b["median_us"],
        "us", "within 10%", f["median_us"] <= 1.1 * b["median_us"])
    row("denials", "allowed flow connect latency p99, flooding vs quiet slices" + tag, f["p99_us"], b["p99_us"],
        "us", "within 10%", f["p99_us"] <= 1.1 * b["p99_us"])
    row("denials", "allowed flow 1 MiB transfers, flooding vs quiet slices" + tag, f["mib_s"], b["mib_s"], "MiB/s",
        "(reported)", True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        return serve(int(sys.argv[2]))
    if len(sys.argv) > 1 and sys.argv[1] == "allowed-client":
        return allowed_client(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    if len(sys.argv) > 1 and sys.argv[1] == "hold-group":
        return hold_group_main()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flood-s", type=float, default=30)
    ap.add_argument("--period-ms", type=float, default=20)
    ap.add_argument("--summary-s", type=int, default=0,
                    help="--denial-summary-seconds for the init (default: the init's own, a minute)")
    ap.add_argument("--slice-s", type=float, default=SLICE_S,
                    help="length of each quiet and each flooding slice")
    ap.add_argument("--no-log-variant", action="store_true", help="skip the run with the log rule absent")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_denials.py needs root (network namespaces, nftables)")
    with tempfile.TemporaryDirectory(prefix="asb-bench-denials-") as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)
        src, flooder = tmp / "flooder.c", tmp / "flooder"
        src.write_text(FLOODER_C)
        subprocess.run(["cc", "-O2", "-o", str(flooder), str(src)], check=True)
        (tmp / "log").mkdir()
        with_log = run_variant(tmp / "log", flooder, True, args.flood_s, args.period_ms, args.summary_s,
                               args.slice_s)
        without = None
        if not args.no_log_variant:
            (tmp / "nolog").mkdir()
            without = run_variant(tmp / "nolog", flooder, False, args.flood_s, args.period_ms, args.summary_s,
                                  args.slice_s)
        report(with_log, without)
        if without:
            report(without, None)
            f, g = with_log["flooded"], without["flooded"]
            row("denials", "allowed flow connect latency median during the flood, log rule vs none",
                f["median_us"], g["median_us"], "us", "(the denial stream's own cost)", True)
            row("denials", "allowed flow connect latency p99 during the flood, log rule vs none",
                f["p99_us"], g["p99_us"], "us", "(the denial stream's own cost)", True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
