#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Launcher overhead and attach scale (issue #7, items 5 and 6), against the
real Docker engine on the fake internet of tests/dockerenv.py: an --internal
network, its own DNS for .test names, and a sandbox image whose base policy
names only .test hosts.

  5. `agentbox run -- true` vs `docker run --rm` with the very flags agentbox
     uses (recorded from agentbox itself), and `agentbox shell -- true` vs
     `docker exec -i <same container> true`: interleaved, medians and spread.
  6. 100 concurrent sessions attached, held open, then closed, through
     `agentbox shell` and through `docker exec`: time to open and to close,
     zombies left in the sandbox, PID 1 still the same init.

Result rows go to stdout as JSON lines; progress to stderr. Exits non-zero
only on a crash. Everything created here (containers, network, images) is
removed at the end.

  /usr/bin/python3 tests/bench/bench_launcher.py [--runs N] [--execs N] [--sessions N]
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
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
import dockerenv  # noqa: E402
from dockerenv import DOCKER, ROOT, DockerEnv, docker  # noqa: E402

from buildpaths import AGENTBOX  # noqa: E402
TARGET_RATIO = 1.1


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def emit(row):
    print(json.dumps(row), flush=True)


class BenchEnv(DockerEnv):
    """DockerEnv with names of its own (other benchmarks and tests share this
    dockerd) and the sandbox image tagged for this run only."""

    def __init__(self, workdir):
        super().__init__(workdir)
        self.network = f"asb-bench-{self.tag}"
        self.base_image = f"agent-sandbox-base:bench-{self.tag}"
        self.image = f"agent-sandbox-bench:{self.tag}"
        self.images = []

    def setup(self):
        subprocess.run([os.path.join(ROOT, "scripts", "docker-setup.sh"), "bookworm"], check=True,
                       timeout=900, stdout=sys.stderr)
        docker("build", "-q", "-f", os.path.join(ROOT, "images", "base", "Dockerfile"), "-t", self.base_image,
               ROOT, timeout=900)
        self.images.append(self.base_image)
        docker("build", "-q", "-t", dockerenv.TESTNET_IMAGE, os.path.join(ROOT, "images", "testnet"), timeout=900)
        self.create_network()
        self.run_helper("dns", self.dns_ip, "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                        "--user=root", f"--host-record=allowed.test,{self.allowed_ip}",
                        f"--host-record=blocked.test,{self.blocked_ip}", "--local-ttl=60")
        self.run_helper("allowed", self.allowed_ip, "python3", "-m", "http.server", "80")
        ctx = self.workdir / "image"
        ctx.mkdir()
        (ctx / "policy.yaml").write_text(f"domains: [allowed.test]\ncidrs: [{self.allowed_ip}/32]\nports: [80]\n"
                                         "selfcheck: {allowed: allowed.test:80}\n")
        (ctx / "Dockerfile").write_text(f"FROM {self.base_image}\nCOPY policy.yaml /etc/agent-sandbox/policy.yaml\n")
        docker("build", "-q", "-t", self.image, str(ctx), timeout=300)
        self.images.append(self.image)

    def run_helper(self, name, ip, *cmd):
        cname = f"asb-bench-{name}-{self.tag}"
        docker("run", "-d", "--name", cname, "--network", self.network, "--ip", ip, dockerenv.TESTNET_IMAGE, *cmd)
        self.containers.append(cname)

    def teardown(self):
        super().teardown()
        for image in reversed(self.images):
            docker("rmi", image, check=False)


class Launcher:
    """agentbox in a project folder of its own, with a private HOME and
    XDG_CONFIG_HOME, started on the bench network."""

    def __init__(self, env, workdir):
        self.env = env
        self.project = workdir / "project"
        self.project.mkdir()
        os.chmod(self.project, 0o777)           # dev (uid 1000) writes /workspace
        self.environ = dict(os.environ, HOME=str(workdir / "home"), XDG_CONFIG_HOME=str(workdir / "xdg"),
                            AGENTBOX_ENGINE=DOCKER, AGENTBOX_READY_TIMEOUT="60")
        self.start_args = ["--image", env.image, "--network", env.network, "--dns", env.dns_ip]

    def argv(self, *args):
        return [AGENTBOX, *args]

    def __call__(self, *args, engine=None, timeout=120):
        environ = dict(self.environ, AGENTBOX_ENGINE=engine) if engine else self.environ
        return subprocess.run(self.argv(*args), cwd=self.project, env=environ, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def sandbox(self):
        out = docker("ps", "-q", "--filter", f"label=agentbox.project={os.path.realpath(self.project)}")
        ids = out.stdout.split()
        return ids[0] if ids else None


def record_engine_calls(ab, workdir, *args):
    """Run agentbox once through an engine that logs each argv (one JSON
    line per call) and then execs the real one."""
    logfile = workdir / "engine-calls.jsonl"
    wrapper = workdir / "recording-engine"
    wrapper.write_text(f"#!/usr/bin/python3\nimport json, os, sys\n"
                       f"with open({str(logfile)!r}, 'a') as f:\n"
                       f"    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
                       f"os.execv({DOCKER!r}, [{DOCKER!r}] + sys.argv[1:])\n")
    wrapper.chmod(0o755)
    logfile.unlink(missing_ok=True)
    r = ab(*args, engine=str(wrapper))
    if r.returncode != 0:
        raise RuntimeError(f"agentbox {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    return [json.loads(line) for line in logfile.read_text().splitlines()]


TIMING_ENGINE = """#!/usr/bin/python3
import json, signal, subprocess, sys, time
t0 = time.perf_counter()
child = subprocess.Popen([%(docker)r] + sys.argv[1:])
for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    signal.signal(sig, lambda s, _: child.send_signal(s))
code = child.wait()
with open(%(log)r, "a") as f:
    f.write(json.dumps({"verb": " ".join(sys.argv[1:3]), "ms": (time.perf_counter() - t0) * 1000}) + "\\n")
sys.exit(code if code >= 0 else 128 - code)
"""


def engine_call_breakdown(ab, workdir, n, *args):
    """Where the time of `agentbox ARGS` goes: each engine call timed by a
    wrapper around the real engine (its own start-up is not counted)."""
    logfile = workdir / "engine-times.jsonl"
    wrapper = workdir / "timing-engine"
    wrapper.write_text(TIMING_ENGINE % {"docker": DOCKER, "log": str(logfile)})
    wrapper.chmod(0o755)
    per_verb = {}
    for _ in range(n):
        logfile.unlink(missing_ok=True)
        r = ab(*args, engine=str(wrapper))
        if r.returncode != 0:
            raise RuntimeError(f"agentbox {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
        for line in logfile.read_text().splitlines():
            call = json.loads(line)
            per_verb.setdefault(call["verb"], []).append(call["ms"])
    case = "agentbox " + " ".join(args[:1] + args[args.index("--"):])
    for verb, samples in per_verb.items():
        med = statistics.median(samples)
        emit({"bench": "launcher", "case": f"{case}: engine call {verb}", "ours": round(med, 1), "unit": "ms",
              "stat": "median", "ratio": None, "target": "reported", "met": None, "ours_spread": spread(samples)})
        log(f"  {case}: engine call {verb}: median {med:.0f} ms of {len(samples)}")


def baseline_run_argv(calls, name):
    """`docker run --rm IMAGE true` with the flags, mounts, image and policy
    of agentbox's own `docker run` (`--rm -i` for a fresh run, `-d` with
    --keep); the init runs `true` itself in both."""
    create = next(c for c in calls if c[0] == "run")
    start = create.index("--name")
    end = create.index("--exit-with-cmd") if "--exit-with-cmd" in create else len(create)
    args = ["run", "--rm", "--name", name] + create[start + 2:end]    # --cidfile comes before --name
    return [DOCKER, *args, "true"]


def timed(argv, cwd=None, env=None):
    t0 = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    ms = (time.perf_counter() - t0) * 1000
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stderr}")
    return ms


def interleave(n, ours, baseline, label):
    """n pairs, alternating which goes first, so that drift in the machine's
    load falls on both sides alike."""
    a, b = [], []
    for i in range(n):
        if i % 2:
            b.append(baseline(i))
            a.append(ours(i))
        else:
            a.append(ours(i))
            b.append(baseline(i))
        log(f"  {label} {i + 1}/{n}: ours {a[-1]:.0f} ms, baseline {b[-1]:.0f} ms")
    return a, b


def spread(samples):
    q = statistics.quantiles(samples, n=4) if len(samples) > 1 else [samples[0]] * 3
    return {"min": round(min(samples), 1), "p25": round(q[0], 1), "p75": round(q[2], 1),
            "max": round(max(samples), 1), "n": len(samples)}


def ratio_row(case, baseline_case, ours, baseline, extra=None):
    mo, mb = statistics.median(ours), statistics.median(baseline)
    ratio = mo / mb
    row = {"bench": "launcher", "case": case, "baseline_case": baseline_case, "ours": round(mo, 1),
           "baseline": round(mb, 1), "unit": "ms", "stat": "median", "ratio": round(ratio, 3),
           "target": f"ratio < {TARGET_RATIO}", "met": ratio < TARGET_RATIO,
           "ours_spread": spread(ours), "baseline_spread": spread(baseline)}
    row.update(extra or {})
    emit(row)
    log(f"{case}: {mo:.0f} ms vs {baseline_case}: {mb:.0f} ms, ratio {ratio:.2f} "
        f"({'met' if row['met'] else 'MISSED'} < {TARGET_RATIO})")
    return row


def bench_run(env, ab, workdir, n):
    calls = record_engine_calls(ab, workdir, "run", *ab.start_args, "--", "true")
    log("agentbox run -- true calls the engine as: " + "; ".join(" ".join(c[:2]) for c in calls))
    base_name = f"asb-bench-base-{env.tag}"

    def ours(_):
        return timed(ab.argv("run", *ab.start_args, "--", "true"), cwd=ab.project, env=ab.environ)

    def baseline(i):
        return timed(baseline_run_argv(calls, f"{base_name}-{i}"))

    for _ in range(2):          # warm caches (image layers, dentries) for both alike
        ours(0), baseline(0)
    a, b = interleave(n, ours, baseline, "run")
    ratio_row("agentbox run -- true", "docker run --rm (same flags, image, policy) true", a, b,
              {"engine_calls": len(calls), "baseline_engine_calls": 1})
    engine_call_breakdown(ab, workdir, 5, "run", *ab.start_args, "--", "true")


def bench_shell(env, ab, workdir, n, sessions, rounds):
    r = ab("run", "--keep", *ab.start_args, "--", "true")
    if r.returncode != 0:
        raise RuntimeError(f"agentbox run --keep failed ({r.returncode}):\n{r.stderr}")
    try:
        name = ab.sandbox()
        calls = record_engine_calls(ab, workdir, "shell", "--", "true")
        log("agentbox shell -- true calls the engine as: " + "; ".join(" ".join(c[:2]) for c in calls))

        def ours(_):
            return timed(ab.argv("shell", "--", "true"), cwd=ab.project, env=ab.environ)

        def baseline(_):
            return timed([DOCKER, "exec", "-i", name, "true"])

        for _ in range(3):
            ours(0), baseline(0)
        a, b = interleave(n, ours, baseline, "shell")
        ratio_row("agentbox shell -- true", "docker exec -i <same container> true", a, b,
                  {"engine_calls": len(calls), "baseline_engine_calls": 1})
        bench_sessions(ab, name, sessions, rounds)
    finally:
        ab("down")


# Each session leaves an orphan behind (a sleep whose parent shell exits at
# once), which only PID 1 can reap, then holds the terminal open with cat
# until its stdin closes.
SESSION_SCRIPT = 'sh -c "sleep 1 &"; echo ready; exec cat'


def sandbox_processes(name):
    """(stat, comm) of every process in the sandbox but PID 1 and ps itself."""
    out = docker("exec", name, "ps", "-eo", "pid=,stat=,comm=").stdout
    procs = []
    for line in out.splitlines():
        pid, stat, comm = line.split(None, 2)
        if pid != "1" and comm != "ps":
            procs.append((stat, comm))
    return procs


def pid1(name):
    state = json.loads(docker("inspect", name).stdout)[0]["State"]
    comm = docker("exec", name, "cat", "/proc/1/comm", check=False).stdout.strip()
    return state["Running"], state["Pid"], comm


def session_round(argv, name, count, cwd=None, env=None):
    """Open `count` sessions at once, wait until each says ready, check they
    are all there, close them all. Times in ms; zombies and processes left
    once the orphans had time to end (polled up to 5 s)."""
    t0 = time.perf_counter()
    sessions = [subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(count)]
    ready = sum(s.stdout.readline() == "ready\n" for s in sessions)
    t_open = (time.perf_counter() - t0) * 1000
    held = sum(comm == "cat" for _, comm in sandbox_processes(name))
    t1 = time.perf_counter()
    for s in sessions:
        s.stdin.close()
    codes = [s.wait(timeout=300) for s in sessions]
    t_close = (time.perf_counter() - t1) * 1000
    for s in sessions:
        s.stdout.close()
        s.stderr.close()
    deadline = time.monotonic() + 5
    while (left := sandbox_processes(name)) and time.monotonic() < deadline:
        time.sleep(0.2)
    zombies = sum(stat.startswith("Z") for stat, _ in left)
    return {"open_ms": t_open, "close_ms": t_close, "ready": ready, "held": held,
            "failed": sum(c != 0 for c in codes), "zombies": zombies, "left": len(left)}


def bench_sessions(ab, name, count, rounds):
    running, pid_before, _ = pid1(name)
    sides = {"ours": (ab.argv("shell", "--", "sh", "-c", SESSION_SCRIPT), ab.project, ab.environ),
             "base": ([DOCKER, "exec", "-i", name, "sh", "-c", SESSION_SCRIPT], None, None)}
    results = {"ours": [], "base": []}
    for i in range(rounds):
        for side in ("ours", "base") if i % 2 == 0 else ("base", "ours"):
            argv, cwd, environ = sides[side]
            r = session_round(argv, name, count, cwd=cwd, env=environ)
            results[side].append(r)
            log(f"  sessions round {i + 1}/{rounds} {side}: {count} opened in {r['open_ms']:.0f} ms "
                f"({r['ready']} ready, {r['held']} held at once, {r['failed']} failed), closed in "
                f"{r['close_ms']:.0f} ms, {r['zombies']} zombies and {r['left']} processes left")
    running, pid_after, comm = pid1(name)
    alive = running and pid_after == pid_before and comm == "agent-sandbox-init"[:15]  # comm is 15 bytes
    for key, what in (("open_ms", f"open {count} concurrent sessions"), ("close_ms", f"close {count} sessions")):
        a = [r[key] for r in results["ours"]]
        b = [r[key] for r in results["base"]]
        ratio = statistics.median(a) / statistics.median(b)
        emit({"bench": "attach", "case": f"{what} (agentbox shell)", "baseline_case": f"{what} (docker exec -i)",
              "ours": round(statistics.median(a), 1), "baseline": round(statistics.median(b), 1), "unit": "ms",
              "stat": "median", "ratio": round(ratio, 3), "target": "reported", "met": None,
              "ours_spread": spread(a), "baseline_spread": spread(b)})
        log(f"{what}: agentbox shell {statistics.median(a):.0f} ms vs docker exec {statistics.median(b):.0f} ms,"
            f" ratio {ratio:.2f}")
    for key, what, target in (("zombies", "zombies left", 0), ("left", "processes left besides PID 1", 0),
                              ("failed", "sessions failed", 0)):
        a = max(r[key] for r in results["ours"])
        b = max(r[key] for r in results["base"])
        emit({"bench": "attach", "case": f"{what} after {count} sessions closed, worst of {rounds} rounds",
              "ours": a, "baseline": b, "unit": "count", "ratio": None, "target": f"== {target}",
              "met": a == target})
        log(f"{what}: agentbox shell {a}, docker exec {b} (target {target})")
    held = min(r["held"] for r in results["ours"])
    emit({"bench": "attach", "case": f"sessions held open at once (agentbox shell), fewest of {rounds} rounds",
          "ours": held, "baseline": min(r["held"] for r in results["base"]), "unit": "count", "ratio": None,
          "target": f"== {count}", "met": held == count})
    emit({"bench": "attach", "case": "PID 1 still the same init after every round", "ours": int(alive),
          "baseline": 1, "unit": "1/0", "ratio": None, "target": "== 1", "met": alive})
    log(f"PID 1 {'still up' if alive else 'NOT the same'}: running={running}, pid {pid_before} -> {pid_after}, "
        f"comm {comm!r}")


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    ver = docker("version", "--format", "{{.Server.Version}}", check=False).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": cpu, "docker": ver, "load": os.getloadavg()[0]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=15, help="pairs of agentbox run / docker run (default 15)")
    p.add_argument("--execs", type=int, default=30, help="pairs of agentbox shell / docker exec (default 30)")
    p.add_argument("--sessions", type=int, default=100, help="concurrent sessions (default 100)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of sessions per side (default 3)")
    args = p.parse_args()
    if not os.access(AGENTBOX, os.X_OK):
        sys.exit(f"{AGENTBOX} is missing: meson setup build -Dbuildtype=release && ninja -C build")
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="asb-bench-launcher-"))
    os.chmod(workdir, 0o755)
    env = BenchEnv(workdir)
    try:
        log(f"setting up the sandbox image and the test network (tag {env.tag})")
        env.setup()
        m = machine()
        log(f"machine: {m['nproc']} CPUs, {m['cpu']}, docker {m['docker']}, load {m['load']:.2f}")
        ab = Launcher(env, workdir)
        bench_run(env, ab, workdir, args.runs)
        bench_shell(env, ab, workdir, args.execs, args.sessions, args.rounds)
    finally:
        if "ab" in locals():
            ab("down")
        for c in docker("ps", "-aq", "--filter", f"name=asb-bench-base-{env.tag}", check=False).stdout.split():
            docker("rm", "-f", c, check=False)
        env.teardown()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
