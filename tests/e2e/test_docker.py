# SPDX-License-Identifier: MIT
"""The sandbox image in a real Docker engine, on an --internal network."""
import os
import re
import subprocess
import sys
import time

import pytest

from dockerenv import IMAGE, ROOT, TIOCSTI_PL, assert_terminals_survive_each_other, docker

# allowed.test shares the sandbox's docker network, which the rebinding
# guard refuses by default; cidrs lets that one host through. Allowing by
# name alone is tested with far.test, outside that network.
def policy_text(env):
    return f"domains: [allowed.test]\ncidrs: [{env.allowed_ip}/32]\nports: [80]\n"


@pytest.fixture(scope="module")
def sandbox(dockerenv):
    name = dockerenv.start_sandbox(dockerenv.policy(policy_text(dockerenv)))
    logs = dockerenv.wait_log(name, "supervising")
    assert "sandbox ready" in logs, logs
    return name


# PTRACE_ATTACH (16) to PID 1 through perl (perl-base is in every Debian
# image, python3 is not in the sandbox's): prints the errno, 0 if attached.
PTRACE_SYSCALL = {"x86_64": 101, "aarch64": 117}[os.uname().machine]
PTRACE_PID1 = f"perl -e 'print((syscall({PTRACE_SYSCALL}, 16, 1, 0, 0) == 0 ? 0 : $!+0), \"\\n\")'"


def cap_sets(status_lines):
    """{"Inh": int, ...} from /proc/PID/status lines."""
    return {line.split(":")[0][3:]: int(line.split()[1], 16) for line in status_lines if line.startswith("Cap")}


def exec_(name, script, check=False, timeout=60, user=None):
    args = ["exec"] + (["-u", user] if user else []) + [name, "bash", "-c", script]
    return docker(*args, check=check, timeout=timeout)


def test_image_contents(dockerenv):
    r = docker("run", "--rm", "--entrypoint", "bash", IMAGE, "-c",
               "id -un; id -u; command -v sudo || echo no-sudo; getcap /usr/sbin/agent-sandbox-init;"
               "stat -c '%U %a' /etc/agent-sandbox/policy.yaml; /usr/sbin/agent-sandbox-init --version")
    lines = r.stdout.split("\n")
    assert lines[0] == "dev" and lines[1] == "1000"
    assert "no-sudo" in r.stdout
    assert re.search(r"cap_(setpcap,cap_net_admin|net_admin,cap_setpcap)=p", r.stdout), r.stdout
    assert "root 644" in r.stdout
    assert "agent-sandbox-init 0." in r.stdout


def test_the_policy_files_are_not_writable_by_the_sandbox_user(dockerenv):
    """On a writable root file system and without the read-only mount of
    the sandboxes, so that only the files' owners and modes refuse dev;
    root's writes succeeding shows nothing else is in the way."""
    script = ("echo 'domains: [evil.test]' > /etc/agent-sandbox/policy.yaml; echo rc=$?; "
              "echo 'domains: [evil.test]' > /etc/agent-sandbox/policy.d/evil.yaml; echo rc=$?")
    r = docker("run", "--rm", "--entrypoint", "bash", "-u", "dev", IMAGE, "-c", script, check=False)
    assert r.stdout.split() == ["rc=1", "rc=1"], (r.stdout, r.stderr)
    assert r.stderr.count("Permission denied") == 2 and "Read-only" not in r.stderr, r.stderr
    r = docker("run", "--rm", "--entrypoint", "bash", "-u", "root", IMAGE, "-c", script, check=False)
    assert r.stdout.split() == ["rc=0", "rc=0"], (r.stdout, r.stderr)


def test_ready_quickly_and_allowed_host_reachable(dockerenv, sandbox):
    logs = docker("logs", sandbox).stderr
    ms = float(re.search(r"sandbox ready in ([0-9.]+) ms", logs).group(1))
    assert ms < 3000, logs
    r = exec_(sandbox, f"curl -sS -o /dev/null -w '%{{http_code}}' --max-time 5 http://{dockerenv.allowed_ip}/")
    assert r.stdout == "200", r.stderr


def test_blocked_host_rejected_at_once(dockerenv, sandbox):
    t0 = time.monotonic()
    r = exec_(sandbox, f"curl -sS --max-time 5 http://{dockerenv.blocked_ip}/")
    elapsed = time.monotonic() - t0
    assert r.returncode == 7, (r.returncode, r.stderr)   # couldn't connect: refused, not a timeout
    assert elapsed < 2, elapsed


def test_exec_terminal_is_unprivileged_and_cannot_touch_the_firewall(dockerenv, sandbox):
    before = dockerenv.ruleset(sandbox, stable=True)
    r = exec_(sandbox, "id -un; grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status")
    assert r.stdout.splitlines()[0] == "dev"
    caps = cap_sets(r.stdout.splitlines()[1:])
    assert set(caps) == {"Inh", "Prm", "Eff", "Amb"} and not any(caps.values()), r.stdout
    assert exec_(sandbox, "nft flush ruleset").returncode != 0
    # The sandbox runs with --read-only and the policy mounted read-only;
    # the file's own permissions are tested without either, below.
    r = exec_(sandbox, "echo 'domains: [evil.test]' > /etc/agent-sandbox/policy.yaml")
    assert r.returncode != 0 and "Read-only file system" in r.stderr, r.stderr
    again = exec_(sandbox, "/usr/sbin/agent-sandbox-init apply")
    assert again.returncode != 0 and "already in place" in again.stderr, again.stderr
    r = exec_(sandbox, "cat /proc/1/environ")
    assert r.returncode != 0 and "Permission denied" in r.stderr, r.stderr
    # PID 1 runs as dev too: only its being undumpable stops the attach.
    r = exec_(sandbox, PTRACE_PID1)
    assert r.stdout.strip() == "1", ("PTRACE_ATTACH to PID 1 must fail with EPERM", r.stdout, r.stderr)
    # The kernel drops SIGKILL sent to a namespace's init from inside it.
    r = exec_(sandbox, "kill -9 1; sleep 0.2; grep -q agent-sandbox /proc/1/comm && echo alive")
    assert r.stdout.strip() == "alive", (r.stdout, r.stderr)
    assert "Operation not permitted" in r.stderr, r.stderr     # PID 1 is not the user's to signal
    assert docker("inspect", "-f", "{{.State.Running}}", sandbox).stdout.strip() == "true"
    assert dockerenv.ruleset(sandbox, stable=True) == before


def test_tiocsti_probe_types_where_the_profile_is_absent(dockerenv):
    """The seccomp probe's TIOCSTI half (dockerenv.SECCOMP_PROBE) reaches
    the kernel: under Docker's own profile, on a kernel that still allows
    TIOCSTI, the byte goes in, so the EIO every sandbox gets is the
    profile's doing."""
    path = "/proc/sys/dev/tty/legacy_tiocsti"
    legacy = not os.path.exists(path) or open(path).read().strip() == "1"
    r = docker("run", "--rm", "--user", "1000", "--entrypoint", "perl", IMAGE, "-e", TIOCSTI_PL, check=False)
    assert r.stdout == ("tiocsti=0 tiocsti64=0\n" if legacy else "tiocsti=5 tiocsti64=5\n"), (r.stdout, r.stderr)


def test_no_setuid_program_can_gain_the_bounding_set(dockerenv, sandbox):
    """An exec'd terminal's bounding set holds NET_ADMIN (the engine put it
    there for the init), so any program that raises privileges on exec
    would get it: a setuid-root program (su, passwd, mount, ...) or one with
    a file capability. None may exist but the init."""
    bounding = exec_(sandbox, "grep CapBnd /proc/self/status").stdout.split()
    assert int(bounding[1], 16) & (1 << 12), "the premise: NET_ADMIN is in the terminal's bounding set"
    # What the sandbox user can find ...
    r = exec_(sandbox, "find / -xdev -perm /6000 2>/dev/null; echo end")
    assert r.stdout == "end\n", r.stdout
    # ... and what is in the image at all, seen by root.
    r = exec_(sandbox, "find / -xdev -perm /6000; echo end", user="root")
    assert r.stdout == "end\n", r.stdout
    r = exec_(sandbox, "getcap -r / 2>/dev/null | grep -v '^/proc/'; echo end", user="root")
    files = [line.split()[0] for line in r.stdout.splitlines()[:-1]]
    assert files == ["/usr/sbin/agent-sandbox-init"], r.stdout
    # su is an ordinary program now: it runs as dev and cannot switch users.
    r = exec_(sandbox, "su -c 'id -u' root </dev/null; echo rc=$?")
    assert "rc=0" not in r.stdout and "\n0\n" not in "\n" + r.stdout, r.stdout


def test_terminals_survive_each_other_and_leave_no_zombies(dockerenv, sandbox):
    assert_terminals_survive_each_other(sandbox, 1000)
    for _ in range(200):
        docker("exec", "-d", sandbox, "sh", "-c", "sleep 0.01 & exit 0")
    time.sleep(1)
    ps = exec_(sandbox, "ps -eo stat= | grep -c '^Z' || true")
    assert ps.stdout.strip() == "0"


def test_stop_is_fast(dockerenv):
    name = dockerenv.start_sandbox(dockerenv.policy(policy_text(dockerenv), "stop.yaml"))
    dockerenv.wait_log(name, "supervising")
    t0 = time.monotonic()
    docker("stop", name)
    assert time.monotonic() - t0 < 2


@pytest.mark.parametrize("case", ["broken-policy", "no-net-admin", "no-new-privileges"])
def test_fail_closed(dockerenv, case):
    policy = dockerenv.policy("domains: [allowed.test\n" if case == "broken-policy" else policy_text(dockerenv), f"{case}.yaml")
    caps = ("SETPCAP", "SETUID", "SETGID") if case == "no-net-admin" else ("NET_ADMIN", "SETPCAP", "SETUID", "SETGID")
    extra = ["--security-opt", "no-new-privileges"] if case == "no-new-privileges" else []
    name = dockerenv.start_sandbox(policy, "--", "touch", "/tmp/started", caps=caps, extra=extra)
    code = dockerenv.exited(name)
    logs = docker("logs", name).stderr
    assert code != 0, logs
    want = {"broken-policy": "is invalid", "no-net-admin": "CAP_NET_ADMIN missing: run the container with",
            "no-new-privileges": "no-new-privileges is set"}[case]
    assert want in logs, logs
    assert "running as" not in logs, "no user process may start"


def test_dns_works_through_dockers_resolver_only(dockerenv, sandbox):
    # Docker's embedded DNS (127.0.0.11) forwards from uid 0; the rules let
    # exactly that out, so names keep resolving once the firewall is up ...
    r = exec_(sandbox, "getent hosts allowed.test")
    assert dockerenv.allowed_ip in r.stdout, (r.stdout, r.stderr)
    # ... while the user cannot talk to a DNS server directly: DNS to any
    # address reaches the sandbox's resolver, never the server itself.
    r = exec_(sandbox, "getent hosts direct-ask.blocked.test || echo not-resolved")
    assert "not-resolved" in r.stdout, r.stdout
    log = dockerenv.dns_log()
    assert "allowed.test" in log and "direct-ask" not in log, log


def test_name_outside_the_sandbox_network_allowed_by_name(dockerenv):
    """The everyday case: the policy names a host (no cidrs), the init
    resolves it through Docker's resolver and allows what it resolved to;
    a host of the sandbox's own network stays refused by the guard."""
    policy = dockerenv.policy("domains: [far.test]\nports: [80]\n", "by-name.yaml")
    name = dockerenv.start_sandbox(policy)
    logs = dockerenv.wait_log(name, "supervising")
    assert "sandbox ready" in logs, logs
    r = exec_(name, "curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://far.test/")
    assert r.stdout == "200", (r.stdout, r.stderr, logs)
    r = exec_(name, "curl -sS --max-time 5 http://allowed.test/")
    assert r.returncode == 6, (r.returncode, r.stderr)     # not in the policy: not resolved
    r = exec_(name, f"curl -sS --max-time 5 http://{dockerenv.allowed_ip}/")
    assert r.returncode == 7, (r.returncode, r.stderr)     # and its address refused
    assert dockerenv.far_ip in dockerenv.ruleset(name)


def test_sandbox_user_cannot_signal_pid1(dockerenv):
    """`kill -HUP 1` from the agent would make PID 1 re-resolve when the
    agent chooses, `kill -TERM 1` would stop the container: PID 1 ignores
    both from dev and logs it once. The engine's signals still work."""
    name = dockerenv.start_sandbox(dockerenv.policy(policy_text(dockerenv), "signals.yaml"))
    dockerenv.wait_log(name, "supervising")
    # PID 1 has a real and saved uid of its own: the kernel refuses every
    # signal and resource limit the user tries on it.
    r = exec_(name, "for s in HUP TERM INT; do kill -$s 1 2>/dev/null && echo sent-$s; done;"
                    "prlimit --pid 1 --nofile=3:3 2>/dev/null && echo prlimit-set;"
                    "sleep 1; grep -E '^Uid' /proc/1/status; kill -0 1 2>&1")
    assert "sent-" not in r.stdout and "prlimit-set" not in r.stdout, (r.stdout, r.stderr)
    assert re.search(r"Uid:\t901\t1000\t901\t", r.stdout), r.stdout
    assert "Operation not permitted" in r.stdout + r.stderr
    assert docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"
    logs = docker("logs", name).stderr
    assert "reloading the policy" not in logs and "stopping" not in logs, logs
    docker("kill", "-s", "HUP", name)
    assert "reloading the policy" in dockerenv.wait_log(name, "reloading the policy")
    t0 = time.monotonic()
    docker("stop", name)
    assert time.monotonic() - t0 < 2
    assert dockerenv.exited(name) == 143


# Name checking: tls-ok.test and tls-other.test on far.test's address, served
# over TLS by tests/firewall/nameserver.py with a certificate from a CA this
# test makes. The sandbox verifies the server against that CA alone: no CA of
# the sandbox's own is anywhere in the path.
@pytest.fixture(scope="module")
def tls_names(dockerenv, tmp_path_factory):
    d = tmp_path_factory.mktemp("names")
    os.chmod(d, 0o755)

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=agent-sandbox e2e CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=tls-ok.test")
    (d / "san.ext").write_text("subjectAltName=DNS:tls-ok.test,DNS:tls-other.test\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    for f in d.iterdir():
        os.chmod(f, 0o644)
    log = d / "names.log"
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "firewall", "nameserver.py"),
                               "--bind", dockerenv.far_ip, "--http-port", "0", "--cert", str(d / "server.pem"),
                               "--key", str(d / "server.key"), "--log", str(log)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        policy = dockerenv.policy("domains: [tls-ok.test]\n", name="names.yaml")
        name = dockerenv.start_sandbox(policy, extra=["-v", f"{d / 'ca.pem'}:/etc/asb-e2e-ca.pem:ro"])
        logs = dockerenv.wait_log(name, "supervising")
        assert "sandbox ready" in logs, logs
        yield name, log
    finally:
        server.kill()
        server.wait()


def test_curl_https_sees_the_servers_own_certificate_and_another_name_is_refused(dockerenv, tls_names):
    name, log = tls_names
    r = exec_(name, "curl -sS --max-time 5 --cacert /etc/asb-e2e-ca.pem https://tls-ok.test/")
    assert r.returncode == 0 and r.stdout == "hello tls-ok.test\n", (r.returncode, r.stdout, r.stderr)
    r = exec_(name, "curl -sSv --max-time 5 --cacert /etc/asb-e2e-ca.pem https://tls-ok.test/ 2>&1 >/dev/null"
                    " | grep -i 'issuer:'")
    assert "agent-sandbox e2e CA" in r.stdout, r.stdout
    # The same address under another name: the sandbox's resolver would not
    # answer the name, so curl is given the address.
    r = exec_(name, f"curl -sS --max-time 5 --cacert /etc/asb-e2e-ca.pem --resolve tls-other.test:443:{dockerenv.far_ip}"
                    " https://tls-other.test/")
    assert r.returncode in (35, 56), (r.returncode, r.stdout, r.stderr)     # reset during the handshake
    assert log.read_text().splitlines() == ["tls tls-ok.test", "tls tls-ok.test"]
    logs = dockerenv.wait_log(name, "refused TLS server name tls-other.test")
    assert f"refused TLS server name tls-other.test to {dockerenv.far_ip}:443 by uid 1000: not in the policy" in logs, logs
