# SPDX-License-Identifier: MIT
"""The firewall benchmark's refresh, footprint and soak code, run briefly:
it keeps working, its rows are well formed, and the properties that do not
depend on the machine's speed hold (a set update is one batch of 5 netlink
messages, PID 1 stays under 2 MiB private and never wakes when idle). The
figures themselves come from `sudo tests/bench/run` (docs/performance.md)."""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = {"bench", "case", "ours", "baseline", "unit", "ratio", "target", "met"}


def run_bench(script, *args):
    """Runs one benchmark; its rows by case, each well formed, and its log."""
    r = subprocess.run([sys.executable, os.path.join(HERE, script), *args], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    for row in rows:
        assert KEYS <= set(row), row
    return {row["case"]: row for row in rows}, r.stderr


def bench(*args):
    return run_bench("bench_firewall.py", *args)[0]


def find(rows, prefix):
    found = [r for case, r in rows.items() if case.startswith(prefix)]
    assert len(found) == 1, (prefix, list(rows))
    return found[0]


def test_refresh_and_footprint_rows(need_root):
    rows = bench("--only", "refresh", "--refresh-s", "5", "--idle-s", "3")
    assert find(rows, "200 names, netlink messages per update")["ours"] == 5
    assert find(rows, "200 names, set update")["ours"] > 0
    memory = [r for case, r in rows.items() if case.startswith("PID 1 private dirty memory after")]
    assert len(memory) == 2 and all(r["met"] for r in memory), memory
    idle = find(rows, "idle wake-ups per minute")
    assert idle["ours"] == 0 and idle["baseline"] > 0, idle


def test_soak_rows(need_root):
    rows = bench("--only", "soak", "--soak-rounds", "3", "--soak-sample-s", "1")
    final = find(rows, "PID 1 private dirty memory after")
    assert final["met"] and 0 < final["ours"] < 2, final
    assert find(rows, "PID 1 private dirty memory, peak")["met"]
    assert find(rows, "PID 1 private dirty memory growth")["unit"] == "KiB"


def test_resolver_rows(need_root):
    """Every answer right and none lost, every first connection made,
    memory bounds and idle quiet: what does not depend on the machine."""
    rows, log = run_bench("bench_resolver.py", "--latency-queries", "40", "--latency-blocks", "2", "--delay-ms", "5",
                               "--burst-count", "1000", "--burst-rounds", "2", "--connects", "50",
                               "--memory-queries", "2000", "--idle-s", "2")
    latency = [r for case, r in rows.items() if case.startswith("new name each query") or "asked again" in case]
    assert len(latency) == 8, list(rows)
    assert "lost 0, wrong 0" in log and "lost 1" not in log, log[-3000:]
    assert find(rows, "lost or wrong answers of 2000")["ours"] == 0
    assert find(rows, "lost or wrong answers of 2000")["baseline"] == 0, "dnsmasq --nftset, the baseline, failed"
    assert find(rows, "new names,")["ours"] > 0
    first = find(rows, "resolve then connect at once")
    assert first["ours"] == 50 and first["met"], first
    for prefix in ("dns-resolver private dirty memory", "PID 1 private dirty memory",
                   "idle wake-ups over 2 s: dns-resolver", "idle wake-ups over 2 s: PID 1"):
        assert find(rows, prefix)["met"], find(rows, prefix)
    assert find(rows, "lost or wrong answers of the")["ours"] == 0
    assert find(rows, "errors or refusals the init logged")["ours"] == 0


def test_denial_flood_rows(need_root):
    """bench_denials.py for 3 s of each condition: the properties of the
    denial stream that do not depend on the machine's speed, and that both
    floods flooded, the one with the stream off never reaching the log."""
    rows, _ = run_bench("bench_denials.py", "--flood-s", "3", "--period-ms", "50")
    flood = find(rows, "refused SYN flood")
    assert flood["ours"] > 0 and flood["baseline"] > 0, flood
    lines = find(rows, "denial log lines during the flood")
    through, before = [int(w) for w in lines["case"].replace("(", " ").split() if w.isdigit()][:2]
    assert through > 0 and before > 0, lines
    wakeups = find(rows, "PID 1 wake-ups during the flood")
    assert wakeups["baseline"] < wakeups["ours"], wakeups
    assert find(rows, "allowed flow connections that failed")["ours"] == 0
    target = find(rows, "allowed flow connect latency median, flood: denial stream on vs off")
    assert len(target["interval"]) == 2 and target["interval"][0] <= target["ratio"] <= target["interval"][1], target
    assert find(rows, "PID 1 still answering after the flood")["met"]
    assert find(rows, "denial log lines during the flood")["met"]
    assert find(rows, "denial record lines written during the flood")["met"]
    memory = find(rows, "PID 1 private dirty memory, before the flood -> after")
    assert memory["met"] and memory["ours"] < 2048, memory
    assert find(rows, "PID 1 private dirty memory growth over the flood's second half")["ours"] <= 64


def test_proxy_rows(need_root):
    """bench_proxy.py, briefly: the name gate beside HAProxy, every
    connection made and verified, and what does not depend on the machine's
    speed: memory with idle and silent connections, no idle wake-ups."""
    rows, _ = run_bench("bench_proxy.py", "--only", "setup", "--only", "hold", "--only", "silent",
                        "--setup-n", "60", "--setup-blocks", "2", "--hold-n", "100", "--silent-n", "100",
                        "--idle-s", "2")
    assert find(rows, "connection setup (connect, TLS handshake, one answer): median added over direct, ours")
    assert find(rows, "connection setup (connect, TLS handshake, one answer): median added over direct, haproxy")
    assert find(rows, "100 open idle connections: private dirty memory (ours: the gate's child and PID 1), ours")["met"]
    assert find(rows, "100 open idle connections: wake-ups in 2 s idle, ours")["ours"] == 0
    assert find(rows, "100 connections that send nothing: private dirty memory (the gate's child and PID 1), ours")["met"]
