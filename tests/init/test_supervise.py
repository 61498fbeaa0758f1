# SPDX-License-Identifier: MIT
"""agent-sandbox-init as PID 1, in fresh pid, mount and network namespaces
(its nftables table lands in the throwaway network namespace)."""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from buildpaths import INIT

NOBODY = ["--user", "65534:65534"]


@pytest.fixture
def tmp_path(need_root):
    """A directory the unprivileged child can write to (pytest's own tmp
    tree is private to root)."""
    import tempfile
    import pathlib
    d = tempfile.mkdtemp(prefix="asb-init-")
    os.chmod(d, 0o777)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def policy(tmp_path, need_root):
    p = tmp_path / "policy.yaml"
    p.write_text("cidrs: [198.51.100.10/32]\n")
    return p


def init_argv(policy, *args, binary=INIT):
    return ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc", binary, "--policy", str(policy),
            "--policy-dir", "/nonexistent", *args]


def run(policy, *args, timeout=30, env=None):
    return subprocess.run(init_argv(policy, *args), capture_output=True, text=True, timeout=timeout, env=env)


def start(policy, *args, **kw):
    return subprocess.Popen(init_argv(policy, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def init_pid(proc, timeout=5):
    """Host pid of the init, the only child of unshare."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    raise AssertionError("init did not start")


def wait_for(path, timeout=10):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def test_exit_codes_pass_through(policy):
    for code in range(256):
        r = run(policy, *NOBODY, "--", "sh", "-c", f"exit {code}")
        assert r.returncode == code, (code, r.stderr)


def test_death_by_signal_is_128_plus_signal(policy):
    r = run(policy, *NOBODY, "--", "sh", "-c", "kill -9 $$")
    assert r.returncode == 137
    r = run(policy, *NOBODY, "--", "sh", "-c", "kill -SEGV $$")
    assert r.returncode == 128 + signal.SIGSEGV


def test_thousand_orphans_are_reaped(policy):
    script = ("for i in $(seq 1000); do (sleep 0.2 &) ; done; sleep 1.5; "
              "echo zombies=$(ps -eo stat= | grep -c '^Z')")
    r = run(policy, *NOBODY, "--", "sh", "-c", script, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "zombies=0" in r.stdout, r.stdout


def test_child_has_no_privileges_and_a_clean_environment(policy):
    env = dict(os.environ, LD_PRELOAD="/nonexistent.so", FOO_TOKEN="secret", TERM="xterm")
    r = run(policy, *NOBODY, "--", "sh", "-c", "grep -E '^(Uid|Gid|Cap|NoNewPrivs)' /proc/self/status; env",
            env=env)
    assert r.returncode == 0, r.stderr
    status = dict(line.split(":", 1) for line in r.stdout.splitlines() if ":" in line and "=" not in line)
    assert status["Uid"].split() == ["65534"] * 4
    assert status["Gid"].split() == ["65534"] * 4
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap].strip(), 16) == 0, cap
    assert status["NoNewPrivs"].strip() == "1"
    names = {line.split("=", 1)[0] for line in r.stdout.splitlines() if "=" in line}
    assert names <= {"HOME", "USER", "LOGNAME", "SHELL", "PATH", "TERM", "PWD", "SHLVL", "_"}, names
    assert "LD_PRELOAD" not in r.stdout and "FOO_TOKEN" not in r.stdout


@pytest.mark.parametrize("user", ["65534:65534", "nobody"])
def test_child_has_only_the_users_supplementary_groups(policy, user):
    """The init starts with root's supplementary groups (here 0, disk and
    adm); CMD must hold the target user's groups and none of those."""
    r = subprocess.run(init_argv(policy, "--user", user, "--", "grep", "^Groups:", "/proc/self/status"),
                       capture_output=True, text=True, timeout=30, extra_groups=[0, 4, 6])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["Groups:", "65534"], r.stdout


def test_pass_env_hands_named_variables_to_the_child_only(policy):
    long_token = "t" * 5000     # longer than any fixed buffer
    env = dict(os.environ, API_TOKEN=long_token, COLOR="blue", OTHER_SECRET="no", TERM="xterm")
    r = run(policy, *NOBODY, "--pass-env", "API_TOKEN", "--pass-env", "COLOR", "--pass-env", "UNSET_ONE",
            "--pass-env", "HOME", "--", "env", env=dict(env, HOME="/from-engine"))
    assert r.returncode == 0, r.stderr
    got = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    assert got["API_TOKEN"] == long_token and got["COLOR"] == "blue"
    assert "UNSET_ONE" not in got and "OTHER_SECRET" not in got
    assert got["HOME"] == "/from-engine", "a passed name replaces the allowlist's value"
    assert sorted(got).count("HOME") == 1
    for bad in ("1X", "A=B", "", "A-B"):
        r = run(policy, *NOBODY, "--pass-env", bad, "--", "true")
        assert r.returncode == 2 and "--pass-env takes a variable name" in r.stderr, (bad, r.stderr)
    r = run(policy, *NOBODY, "--pass-env", "COLOR")
    assert r.returncode == 2 and "no CMD was given" in r.stderr
    # A name is matched whole: API is not a prefix that passes API_TOKEN.
    r = run(policy, *NOBODY, "--pass-env", "API", "--pass-env", "COLO", "--", "env", env=env)
    assert r.returncode == 0, r.stderr
    assert "API_TOKEN" not in r.stdout and "COLOR" not in r.stdout and long_token not in r.stdout, r.stdout


PROBE_PID1 = r"""
import ctypes, errno, os, signal, time
libc = ctypes.CDLL(None, use_errno=True)
try:
    open("/proc/1/environ").read(); print("environ=readable")
except OSError as e:
    print("environ=" + errno.errorcode[e.errno])
r = libc.ptrace(16, 1, 0, 0)  # PTRACE_ATTACH
print("ptrace=" + ("attached" if r == 0 else errno.errorcode[ctypes.get_errno()]))
try:
    os.kill(1, signal.SIGKILL); print("kill=sent")
except OSError as e:
    print("kill=" + errno.errorcode[e.errno])
time.sleep(0.2)
print("pid1=" + ("alive" if os.path.exists("/proc/1/status") else "gone"))
"""


def test_user_cannot_ptrace_read_or_kill_pid1(policy):
    r = run(policy, *NOBODY, "--", "python3", "-c", PROBE_PID1)
    assert r.returncode == 0, r.stderr
    assert "environ=EACCES" in r.stdout
    assert "ptrace=EPERM" in r.stdout
    assert "pid1=alive" in r.stdout


def test_sigterm_is_forwarded(policy, tmp_path):
    marker = tmp_path / "got-term"
    ready = tmp_path / "ready"
    os.chmod(tmp_path, 0o777)
    p = start(policy, *NOBODY, "--", "sh", "-c",
              f"trap 'touch {marker}; exit 3' TERM; touch {ready}; while :; do sleep 0.05; done")
    wait_for(ready)
    os.kill(init_pid(p), signal.SIGTERM)
    assert p.wait(timeout=10) == 3
    assert marker.exists()


def test_child_ignoring_sigterm_is_killed_after_grace(policy, tmp_path):
    ready = tmp_path / "ready"
    os.chmod(tmp_path, 0o777)
    p = start(policy, *NOBODY, "--grace", "1", "--", "sh", "-c",
              f"trap '' TERM; touch {ready}; while :; do sleep 0.05; done")
    wait_for(ready)
    t0 = time.monotonic()
    os.kill(init_pid(p), signal.SIGTERM)
    code = p.wait(timeout=10)
    elapsed = time.monotonic() - t0
    assert code == 128 + signal.SIGTERM
    assert 0.9 < elapsed < 3, elapsed
    assert "grace period of 1 s over" in p.stderr.read()


RECORDER = r"""
import os, signal, sys, time
out, ready = sys.argv[1], sys.argv[2]
def record(sig, frame):
    with open(out, "a") as f:
        f.write(signal.Signals(sig).name[3:] + "\n")
for name in ("USR1", "USR2", "WINCH", "QUIT", "INT"):
    signal.signal(getattr(signal, "SIG" + name), record)
open(ready, "w").close()
while True:
    time.sleep(0.05)
"""


@pytest.mark.parametrize("group", [False, True])
def test_signals_are_forwarded(policy, tmp_path, group):
    sigs = ["USR1", "USR2", "WINCH", "QUIT", "INT"]
    rec = tmp_path / "recorder.py"
    rec.write_text(RECORDER)
    # With -g the whole process group gets the signal: a second recorder,
    # started in the background in the same group, shows it.
    script = (f"python3 {rec} {tmp_path}/helper {tmp_path}/helper-ready & "
              f"exec python3 {rec} {tmp_path}/main {tmp_path}/ready")
    args = (["-g"] if group else []) + NOBODY
    p = start(policy, *args, "--", "sh", "-c", script)
    try:
        wait_for(tmp_path / "ready")
        wait_for(tmp_path / "helper-ready")
        pid = init_pid(p)
        for s in sigs:
            os.kill(pid, getattr(signal, "SIG" + s))
            time.sleep(0.2)
        got = (tmp_path / "main").read_text().split()
        assert got == sigs, got
        helper = tmp_path / "helper"
        helper_got = helper.read_text().split() if helper.exists() else []
        assert helper_got == (sigs if group else []), helper_got
    finally:
        p.kill()
        p.wait()


def test_idle_init_never_wakes(policy):
    p = start(policy, *NOBODY)
    try:
        pid = init_pid(p)
        time.sleep(1)  # past startup

        def switches():
            with open(f"/proc/{pid}/status") as f:
                return sum(int(l.split()[1]) for l in f if "ctxt_switches" in l)
        before = switches()
        time.sleep(10)
        assert switches() == before
    finally:
        p.kill()
        p.wait()


def test_cmd_exit_does_not_kill_other_processes(policy, tmp_path):
    os.chmod(tmp_path, 0o777)
    alive = tmp_path / "still-alive"
    p = start(policy, *NOBODY, "--", "sh", "-c",
              f"(sleep 0.5; touch {alive}; sleep 30) & exit 0")
    try:
        wait_for(alive)
        assert p.poll() is None, "init must stay up while other processes run"
        pid = init_pid(p)
        os.kill(pid, signal.SIGTERM)
        assert p.wait(timeout=5) == 0
        assert "still run; the container stays up" in p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_exit_with_cmd_ends_the_others_and_keeps_cmds_code(policy, tmp_path):
    got_term = tmp_path / "other-got-term"
    started = tmp_path / "other-started"
    # The other process stands for a terminal attached with `docker exec`:
    # it outlives CMD and must be told to go, then CMD's code is the init's.
    t0 = time.monotonic()
    r = run(policy, *NOBODY, "--grace", "5", "--exit-with-cmd", "--", "sh", "-c",
            f"setsid sh -c 'trap \"touch {got_term}; exit 0\" TERM HUP; touch {started}; "
            f"while :; do sleep 0.05; done' & while [ ! -e {started} ]; do sleep 0.05; done; exit 3")
    assert r.returncode == 3, r.stderr
    assert got_term.exists(), "the other process was told to go"
    assert time.monotonic() - t0 < 4, "it ended at SIGTERM, not at the grace period"
    assert "ending the terminals still attached" in r.stderr



def test_fifo_in_the_override_directory_fails_at_once(policy, tmp_path):
    """A FIFO named like an override would have held PID 1 at open() forever,
    before any rule was in place; it is refused and nothing starts."""
    d = tmp_path / "policy.d"
    d.mkdir()
    os.mkfifo(d / "extra.yaml")
    marker = tmp_path / "ran"
    r = run(policy, *NOBODY, "--policy-dir", str(d), "--", "touch", str(marker), timeout=5)
    assert r.returncode == 1, r.stderr
    assert f"{d}/extra.yaml: error: is a FIFO, not a regular file" in r.stderr, r.stderr
    assert not marker.exists()



def test_apply_refuses_when_it_cannot_tell_whether_the_rules_are_in(policy):
    """apply first asks whether table inet agent_sandbox exists; when the
    kernel does not answer, it must stop there, not go on to resolve and
    program. Made to fail for real: CAP_NET_ADMIN in a user namespace of its
    own, in a network namespace that user namespace does not own, so the
    kernel refuses the lookup with EPERM."""
    r = subprocess.run(["unshare", "--net", "unshare", "--user", "--map-root-user", INIT, "apply",
                        "--policy", str(policy), "--policy-dir", "/nonexistent"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "nftables: reading table inet agent_sandbox failed: Operation not permitted" in r.stderr, r.stderr
    assert "refusing to apply: cannot tell whether the firewall is already in place" in r.stderr, r.stderr
    assert "policy done" not in r.stderr and "resolve done" not in r.stderr, r.stderr


# ---- the privilege rules --------------------------------------------------

AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_unprivileged_init_refuses_security_options(policy):
    r = subprocess.run(AS_NOBODY + [INIT, "--policy", str(policy), "--", "true"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert f"--policy '{policy}' refused: it is only honoured when the real uid is 0" in r.stderr


def test_missing_capability_fails_closed(tmp_path, need_root):
    os.chmod(tmp_path, 0o777)
    marker = tmp_path / "ran"
    r = subprocess.run(["unshare", "--net"] + AS_NOBODY + ["--inh-caps=-all", INIT, "--", "touch", str(marker)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "CAP_NET_ADMIN missing: run the container with --cap-add NET_ADMIN" in r.stderr
    assert not marker.exists()


@pytest.fixture
def filecap_init(tmp_path, need_root):
    d = tmp_path / "bin"
    d.mkdir()
    os.chmod(tmp_path, 0o755)
    copy = d / "agent-sandbox-init"
    shutil.copy(INIT, copy)
    subprocess.run(["setcap", "cap_net_admin,cap_setpcap,cap_setuid,cap_setgid=p", str(copy)], check=True)
    return str(copy)


def test_file_capability_ignores_argv_policy(filecap_init, policy):
    r = subprocess.run(AS_NOBODY + [filecap_init, "--policy", str(policy), "--", "true"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert "only honoured when the real uid is 0" in r.stderr


@pytest.mark.parametrize("option", ["--policy", "--policy-dir"])
@pytest.mark.parametrize("verb", [[], ["apply"]])
def test_refused_policy_names_the_policy_in_use(filecap_init, tmp_path, option, verb):
    """The refusal names the caller's path as the refused value and the
    image's policy as the one in use, never the caller's as if it were."""
    mine = str(tmp_path / "mine")
    r = subprocess.run(AS_NOBODY + [filecap_init, *verb, option, mine], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert r.stderr.count(mine) == 1, r.stderr
    assert f"{option} '{mine}' refused: it is only honoured when the real uid is 0; the policy in use is " \
           "/etc/agent-sandbox/policy.yaml plus /etc/agent-sandbox/policy.d/*.yaml" in r.stderr, r.stderr


ROOT_ONLY_OPTIONS = [
    ([], "--policy"), ([], "--policy-dir"), ([], "--user"), ([], "--workdir"),
    (["apply"], "--policy"), (["apply"], "--policy-dir"), (["apply"], "--meta-snapshot"),
]


@pytest.mark.parametrize("verb,option", ROOT_ONLY_OPTIONS, ids=[" ".join(v + [o]) for v, o in ROOT_ONLY_OPTIONS])
@pytest.mark.parametrize("caller", ["nobody", "filecap"])
def test_every_root_only_option_is_refused_to_other_callers(filecap_init, tmp_path, verb, option, caller):
    """Each option that changes what the sandbox allows or who CMD runs as,
    tried by a caller whose real uid is not 0: the plain binary, and the
    one whose file capability puts it in secure-execution mode."""
    exe = filecap_init if caller == "filecap" else INIT
    value = "0:0" if option == "--user" else str(tmp_path / "mine")
    argv = [exe, *verb, option, value] + ([] if verb else ["--", "true"])
    r = subprocess.run(AS_NOBODY + argv, capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"{option} '{value}' refused: it is only honoured when the real uid is 0" in r.stderr, r.stderr


def test_fetch_meta_refuses_to_run_with_the_file_capability(filecap_init, tmp_path):
    """fetch-meta writes a file for whoever runs it: never with privilege."""
    os.chmod(tmp_path, 0o777)
    out = tmp_path / "meta.json"
    r = subprocess.run(AS_NOBODY + [filecap_init, "fetch-meta", "--url", "https://127.0.0.1:9/meta",
                                    "--output", str(out)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert "fetch-meta does not run with elevated privileges" in r.stderr, r.stderr
    assert not out.exists()


def stopped_at_open_of(pid, path):
    """Whether pid is stopped in open()/openat() of path (/proc/PID/syscall
    names the call and its arguments; the path is read from its memory)."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            fields = f.read().split()
        if len(fields) < 3 or fields[0] == "running":
            return False
        want = path.encode() + b"\0"
        with open(f"/proc/{pid}/mem", "rb") as mem:
            for arg in fields[1:3]:     # open(path, ...), openat(dirfd, path, ...)
                try:
                    mem.seek(int(arg, 16))
                    if mem.read(len(want)) == want:
                        return True
                except (OSError, ValueError, OverflowError):
                    pass
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return False


def test_check_policy_holds_no_capability_while_it_reads(filecap_init, tmp_path):
    """check-policy, run by the sandbox user from the binary with the file
    capability, parses a file of the user's choosing: it must hold no
    capability by then. strace (a root tracer, so the file capability is
    still granted at exec) holds it at the open of the policy file for a
    moment, and its /proc status is read there."""
    os.chmod(tmp_path, 0o755)
    policy = tmp_path / "user-policy.yaml"
    policy.write_text("cidrs: [198.51.100.10/32]\n")
    os.chmod(policy, 0o644)
    p = subprocess.Popen(["strace", "-qq", "-o", "/dev/null", "-u", "nobody", "-P", str(policy),
                          "-e", "trace=open,openat", "-e", "inject=open,openat:delay_enter=3000000",
                          filecap_init, "check-policy", str(policy)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        status = None
        while status is None:
            assert time.monotonic() < deadline and p.poll() is None, "check-policy was never seen opening the file"
            try:
                with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except FileNotFoundError:
                kids = []
            for kid in kids:
                if stopped_at_open_of(kid, str(policy)):
                    with open(f"/proc/{kid}/status") as f:
                        status = dict(l.split(":", 1) for l in f if ":" in l)
            time.sleep(0.01)
        assert status["Uid"].split() == ["65534"] * 4
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(status[cap].strip(), 16) == 0, (cap, status[cap])
        out, err = p.communicate(timeout=20)
        assert p.returncode == 0, err
        assert "198.51.100.10/32" in out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_no_new_privileges_fails_closed(filecap_init, tmp_path):
    marker = tmp_path / "ran"
    os.chmod(tmp_path, 0o777)
    # Through a shell, as in a container: the process that executes the init
    # holds no capabilities of its own, so only the file capability could
    # grant one, and no_new_privs stops that.
    r = subprocess.run(["unshare", "--net"] + AS_NOBODY +
                       ["--no-new-privs", "sh", "-c", f'exec {filecap_init} -- touch {marker}'],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "no-new-privileges is set" in r.stderr
    assert not marker.exists()


@pytest.mark.parametrize("binary", ["plain", "filecap"])
def test_ambient_capability_engine_is_refused(filecap_init, tmp_path, binary):
    marker = tmp_path / "ran"
    os.chmod(tmp_path, 0o777)
    exe = filecap_init if binary == "filecap" else INIT
    r = subprocess.run(["unshare", "--net"] + AS_NOBODY +
                       ["--inh-caps=+net_admin", "--ambient-caps=+net_admin", exe, "--", "touch", str(marker)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1, r.stderr
    assert "gives CAP_NET_ADMIN to every process" in r.stderr
    assert not marker.exists()


def test_file_capability_init_only_as_pid1(filecap_init, tmp_path):
    marker = tmp_path / "ran"
    r = subprocess.run(["unshare", "--net"] + AS_NOBODY + [filecap_init, "--", "touch", str(marker)],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "only as the container's PID 1" in r.stderr
    assert not marker.exists()


def test_pass_env_survives_secure_execution(filecap_init, tmp_path):
    """As in the image: a non-root PID 1 whose file capability puts it in
    secure-execution mode. The loader drops TMPDIR and LOCALDOMAIN from its
    environment and /proc/self/environ is root's; a passed name still
    reaches CMD with its value."""
    etc = tmp_path / "etc"
    subprocess.run(["cp", "-a", "/etc", str(etc)], check=True)
    (etc / "agent-sandbox").mkdir(exist_ok=True)
    (etc / "agent-sandbox" / "policy.yaml").write_text("cidrs: [198.51.100.10/32]\n")
    setpriv = " ".join(AS_NOBODY)
    script = f"mount --bind {etc} /etc && exec {setpriv} {filecap_init} " \
             "--pass-env TMPDIR --pass-env LOCALDOMAIN --pass-env API_TOKEN -- env"
    env = dict(os.environ, TMPDIR="/tmp/mine", LOCALDOMAIN="corp.test", API_TOKEN="tok-1", OTHER="no")
    r = subprocess.run(["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
                        "sh", "-c", script], capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 0, r.stderr
    assert "AT_SECURE" not in r.stderr and "cannot find the environment" not in r.stderr, r.stderr
    got = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    assert got.get("TMPDIR") == "/tmp/mine", r.stdout
    assert got.get("LOCALDOMAIN") == "corp.test" and got.get("API_TOKEN") == "tok-1", r.stdout
    assert "OTHER" not in got


def test_log_level_notice_shows_ready_warnings_and_errors_only(policy, tmp_path):
    """What `agentbox run` puts on the user's terminal: that the sandbox is
    ready, and anything that went wrong, but not every step before it."""
    r = run(policy, *NOBODY, "--log-level", "notice", "--", "true")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    ready = [l for l in lines if "sandbox ready in" in l]
    assert ready and re.search(r"ms: 0 of 0 names resolved, 1 IPv4 and 0 IPv6 intervals, \d+ TCP ports; TLS server names checked on port 443, HTTP Host checked on port 80$",
                               ready[0]), "the one line says what is allowed: " + r.stderr
    assert not [l for l in lines if " done in " in l or "exited with" in l], r.stderr
    r = run(policy, *NOBODY, "--", "true")
    assert "policy done in" in r.stderr and "true exited with 0" in r.stderr, "info is the default"
    bad = tmp_path / "bad.yaml"
    bad.write_text("domainz: [x.test]\n")
    r = run(bad, *NOBODY, "--log-level", "notice", "--", "true")
    assert r.returncode == 1 and "error:" in r.stderr and "unknown key" in r.stderr, r.stderr
    r = run(policy, *NOBODY, "--log-level", "loud", "--", "true")
    assert r.returncode == 2
    assert "--log-level takes error, warning, notice or info, not 'loud'" in r.stderr, r.stderr


# ---- who may signal PID 1 -------------------------------------------------

# Run by CMD, as PID 1's own uid inside its pid namespace: every way that uid
# has to send PID 1 a signal. kill() is what `kill -HUP 1` does; the two
# others put whatever sender they like (or none) into the siginfo, so a
# check of the sender's pid and uid alone would take them for the engine.
SIGNAL_PID1 = r"""
import ctypes, errno, fcntl, os, platform, resource, signal, struct, sys, time
got_term = []
signal.signal(signal.SIGTERM, lambda *a: got_term.append(1))
libc = ctypes.CDLL(None, use_errno=True)
arch = platform.machine()
results = []

def outcome(ok):
    results.append("ok" if ok else errno.errorcode.get(ctypes.get_errno(), "?"))

def sigqueue(sig, code=-1):
    # rt_sigqueueinfo claiming pid 0 and uid 0
    info = struct.pack("iiii ii", sig, 0, code, 0, 0, 0).ljust(128, b"\0")
    nr = {"x86_64": 129, "aarch64": 138}[arch]
    outcome(libc.syscall(nr, 1, sig, ctypes.c_char_p(info)) == 0)

# Use up this uid's count of pending signals, so that a signal whose
# details cannot be stored would reach PID 1 as "SI_USER from pid 0, uid 0".
libc.sigprocmask.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGRTMIN})
while True:
    if libc.sigqueue(os.getpid(), signal.SIGRTMIN, ctypes.c_void_p(0)) != 0:
        break
for sig in (signal.SIGHUP, signal.SIGTERM):
    try:
        os.kill(1, sig)
        results.append("ok")
    except PermissionError:
        results.append("EPERM")
    sigqueue(sig)
    # a pipe whose owner is PID 1: writing to it signals PID 1 (F_SETSIG 10)
    r, w = os.pipe()
    fcntl.fcntl(r, fcntl.F_SETOWN, 1)
    fcntl.fcntl(r, 10, sig)
    fcntl.fcntl(r, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)
    os.write(w, b"x")
    time.sleep(0.3)
try:
    resource.prlimit(1, resource.RLIMIT_NOFILE, (3, 3))
    results.append("ok")
except PermissionError:
    results.append("EPERM")
print("results=" + ",".join(results), flush=True)
print("pid1=" + ("alive" if os.path.exists("/proc/1/status") else "gone"), "term=" + str(len(got_term)), flush=True)
open(sys.argv[1], "w").close()
while not got_term:
    time.sleep(0.05)
sys.exit(7)
"""


def test_only_the_engine_and_root_may_signal_pid1(filecap_init, tmp_path):
    """PID 1 as in the image (uid nobody, file capability): SIGHUP and
    SIGTERM from its own uid inside the container are ignored and logged
    once; the same signals from outside the pid namespace (the engine) and
    from root inside it still reload and stop."""
    etc = tmp_path / "etc"
    subprocess.run(["cp", "-a", "/etc", str(etc)], check=True)
    (etc / "agent-sandbox").mkdir(exist_ok=True)
    (etc / "agent-sandbox" / "policy.yaml").write_text("cidrs: [198.51.100.10/32]\n")
    os.chmod(tmp_path, 0o777)
    probe = tmp_path / "probe.py"
    probe.write_text(SIGNAL_PID1)
    done = tmp_path / "done"
    log = tmp_path / "log"
    script = f"mount --bind {etc} /etc && exec {' '.join(AS_NOBODY)} {filecap_init} -- python3 {probe} {done}"
    with open(log, "w") as err:
        p = subprocess.Popen(["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
                              "sh", "-c", script], stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        try:
            wait_for(done)
        finally:
            print(log.read_text())
        logs = log.read_text()
        assert "reloading the policy" not in logs and "stopping" not in logs, logs
        pid = init_pid(p)
        with open(f"/proc/{pid}/status") as f:
            uids = re.search(r"\nUid:\t(\d+)\t(\d+)\t(\d+)\t", f.read()).groups()
        # Its own real and saved uid, the user's effective one: the kernel
        # refuses the user's signals and prlimit (CAP_KILL is nobody's).
        assert uids == ("901", "65534", "901"), uids

        def reloads():
            return log.read_text().count("reloading the policy")

        os.kill(pid, signal.SIGHUP)             # from outside: docker kill -s HUP
        deadline = time.monotonic() + 10
        while reloads() < 1:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        subprocess.run(["nsenter", "-t", str(pid), "-p", "sh", "-c", "kill -HUP 1"], check=True)  # root inside
        while reloads() < 2:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        os.kill(pid, signal.SIGTERM)            # docker stop
        assert p.wait(timeout=10) == 7, log.read_text()
        out = p.stdout.read()
        assert "pid1=alive term=0" in out, out
        assert "results=EPERM,EPERM,EPERM,EPERM,EPERM" in out, out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
