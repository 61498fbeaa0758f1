# SPDX-License-Identifier: MIT
"""Split mode with the compose template (compose/split/docker-compose.yml)
as a user runs it, on the --internal test network of tests/dockerenv.py:
one project for the module (the network holder, the firewall, the agent),
terminals with docker-compose exec (no -u)."""
import json
import os
import re
import shutil
import subprocess
import time
import uuid

import pytest

from dockerenv import DOCKER, IMAGE, ROOT, assert_terminals_survive_each_other, docker

HERE = os.path.dirname(os.path.abspath(__file__))
FORGED = "192.0.2.77"
EMPTY_CAPS = {f"Cap{s}": "0000000000000000" for s in ("Inh", "Prm", "Eff", "Bnd", "Amb")}


class Project:
    def __init__(self, dockerenv, base, policy_text, firewall_extra="", agent_extra=""):
        self.env = dockerenv
        self.dir = base / "project"
        self.home = base / "home"
        self.policy_d = self.home / ".config" / "agent-sandbox" / "policy.d"
        self.dir.mkdir(parents=True)
        self.policy_d.mkdir(parents=True)
        os.chown(self.dir, 1000, 1000)
        shutil.copy(os.path.join(ROOT, "compose", "split", "docker-compose.yml"), self.dir)
        shutil.copy(os.path.join(ROOT, "compose", "agent-sandbox-seccomp.json"), self.dir)
        policy = dockerenv.policy(policy_text, f"split-{uuid.uuid4().hex[:6]}.yaml")
        (self.dir / "docker-compose.override.yml").write_text(f"""version: "2.4"
services:
  network:
    dns: [{dockerenv.dns_ip}]
    networks: [default]
    # The escape probes below bind port 53 as the user would where this
    # is left at Docker's 0: the firewall's rules must hold on their own.
    sysctls:
      net.ipv4.ip_unprivileged_port_start: 0
  firewall:
    volumes:
      - {policy}:/etc/agent-sandbox/policy.yaml:ro
{firewall_extra}
  agent:
    volumes:
      - {policy}:/etc/agent-sandbox/policy.yaml:ro
{agent_extra}
networks:
  default:
    external: true
    name: {dockerenv.network}
""")
        self.name = "asbsplit" + uuid.uuid4().hex[:6]

    def compose(self, *args, timeout=180):
        env = dict(os.environ, AGENT_SANDBOX_IMAGE=IMAGE, HOME=str(self.home))
        return subprocess.run(["docker-compose", "-p", self.name, *args], cwd=self.dir, env=env,
                              capture_output=True, text=True, timeout=timeout)

    def cid(self, service):
        return self.compose("ps", "-q", service).stdout.strip()

    def exec(self, service, script, check=True):
        r = self.compose("exec", "-T", service, "bash", "-c", script)
        if check:
            assert r.returncode == 0, r.stdout + r.stderr
        return r

    def logs(self, service):
        r = docker("logs", self.cid(service), check=False)      # a tty's output is stdout
        return r.stdout + r.stderr

    def state(self, service):
        return json.loads(docker("inspect", self.cid(service)).stdout)[0]["State"]

    def wait_healthy(self, service, timeout=60):
        deadline = time.monotonic() + timeout
        while (health := self.state(service).get("Health", {}).get("Status")) != "healthy":
            assert time.monotonic() < deadline, (service, health, self.logs(service))
            time.sleep(0.3)

    def ruleset(self):
        """The table of the shared namespace, read from the host through the
        network holder (whichever firewall is or is not running)."""
        pid = str(self.state("network")["Pid"])
        r = subprocess.run(["nsenter", "-t", pid, "-n", "nft", "list", "table", "inet", "agent_sandbox"],
                           capture_output=True, text=True)
        # Without what changes by itself: counters, and learned addresses' expiry.
        r.stdout = re.sub(r"counter packets \d+ bytes \d+|expires \S+", "", r.stdout)
        return r


def policy_text(env):
    return (f'domains: [far.test, "*.wild.test"]\ncidrs: [{env.allowed_ip}/32]\nports: [80]\n'
            f'selfcheck: {{allowed: "{env.allowed_ip}:80", strict: true}}\n')


@pytest.fixture(scope="module")
def split(dockerenv, tmp_path_factory):
    p = Project(dockerenv, tmp_path_factory.mktemp("split"), policy_text(dockerenv))
    up = p.compose("up", "-d")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        p.wait_healthy("agent")
        yield p
    finally:
        p.compose("down", "-v", "-t", "2")


def curl(url):
    return f"curl -sS -o /dev/null -w '%{{http_code}}' --max-time 5 {url}; echo ' rc='$?"


def test_the_agent_holds_nothing_and_cannot_touch_the_rules(split):
    for who in ("1", "self"):
        r = split.exec("agent", f"grep -E '^(Cap|NoNewPrivs)' /proc/{who}/status; id -u")
        fields = dict(re.findall(r"^(\w+):\s+(\S+)$", r.stdout, re.M))
        assert {k: fields[k] for k in EMPTY_CAPS} == EMPTY_CAPS, r.stdout
        assert fields["NoNewPrivs"] == "1" and r.stdout.splitlines()[-1] == "1000", r.stdout
    before = split.ruleset()
    assert before.returncode == 0 and "policy drop" in before.stdout, before.stderr
    r = split.exec("agent", "nft list ruleset; echo list=$?; nft flush ruleset; echo flush=$?; "
                            "nft delete table inet agent_sandbox; echo delete=$?", check=False)
    assert "list=1" in r.stdout and "flush=1" in r.stdout and "delete=1" in r.stdout, r.stdout + r.stderr
    assert split.ruleset().stdout == before.stdout
    # No program in the agent's container can give a capability back.
    r = split.exec("agent", "find / -xdev -perm /6000 2>/dev/null | head; "
                            "getcap -r / 2>/dev/null | grep -v agent-sandbox-init | head; echo done")
    assert r.stdout.strip() == "done", r.stdout
    logs = split.logs("agent")
    assert "firewall proven from the agent's container" in logs and "supervising" in logs, logs


def test_the_agent_started_only_once_the_firewall_was_healthy(split):
    fw_ready = split.logs("firewall")
    assert "sandbox ready" in fw_ready and "firewall ready: nothing of the user's runs" in fw_ready
    health = split.state("firewall")["Health"]["Log"]
    agent_started = split.state("agent")["StartedAt"]
    first_healthy = min(h["End"] for h in health if h["ExitCode"] == 0)
    assert agent_started[:26] > first_healthy[:26], (agent_started, health)
    # and its own init proved the firewall before reporting healthy
    r = split.exec("agent", "agent-sandbox-init health")
    assert r.stdout.strip() == "ready"


def test_allowed_and_blocked_as_in_one_container(split, dockerenv):
    env = dockerenv
    r = split.exec("agent", "; ".join([curl(f"http://{env.allowed_ip}/"), curl(f"http://{env.blocked_ip}/"),
                                       curl("http://far.test/"), curl("http://a.wild.test/"),
                                       "getent hosts leak-1.exfil.test; echo getent=$?"]), check=False)
    lines = r.stdout.splitlines()
    assert lines[0] == "200 rc=0" and lines[2] == "200 rc=0" and lines[3] == "200 rc=0", r.stdout + r.stderr
    assert "rc=7" in lines[1] and "getent=2" in r.stdout, r.stdout + r.stderr
    assert "leak-1" not in env.dns_log()
    assert "refused DNS query leak-1.exfil.test (A): not in the policy" in split.logs("firewall")


def test_forged_dns_from_the_agent_does_not_open_the_firewall(split, dockerenv):
    """tests/e2e/attacks/forge-dns.pl from the agent's container, against the
    firewall's resolution in the other container; then a reload."""
    with open(os.path.join(HERE, "attacks", "forge-dns.pl")) as f:
        subprocess.run([DOCKER, "exec", "-i", split.cid("agent"), "bash", "-c", "cat > /tmp/forge-dns.pl"],
                       input=f.read(), text=True, check=True)
    docker("exec", "-d", split.cid("agent"), "bash", "-c",
           f"perl /tmp/forge-dns.pl {FORGED} /tmp/forge.ready > /tmp/forge.log 2>&1")
    deadline = time.monotonic() + 30
    while split.exec("agent", "test -e /tmp/forge.ready", check=False).returncode != 0:
        log = split.exec("agent", "cat /tmp/forge.log", check=False).stdout
        assert time.monotonic() < deadline and "bind" not in log, log
        time.sleep(0.2)
    readies = split.logs("firewall").count("sandbox ready")
    split.exec("firewall", "kill -HUP 1")
    deadline = time.monotonic() + 30
    while split.logs("firewall").count("sandbox ready") <= readies:
        assert time.monotonic() < deadline, split.logs("firewall")
        time.sleep(0.2)
    log = split.exec("agent", "cat /tmp/forge.log").stdout
    assert FORGED not in split.ruleset().stdout, log
    assert "query" not in log, "the firewall's query reached the agent's socket:\n" + log
    assert "sprayed 0 " in log, "the agent's user could send from 127.0.0.11:53:\n" + log
    split.exec("agent", "pkill -f forge-dns.pl; true", check=False)


def test_the_agent_cannot_fake_or_take_the_firewalls_readiness(split):
    # The firewall holds its name; the agent's user cannot bind it, and the
    # agent's own name answers only the agent's health check.
    bind = ("perl -MSocket -e 'socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die; "
            "print bind($s, pack_sockaddr_un(\"\\0agent-sandbox/$ARGV[0]\")) ? \"bound\\n\" : \"refused: $!\\n\"' ")
    r = split.exec("agent", bind + "ready; " + bind + "agent-ready")
    assert r.stdout.count("refused: Address already in use") == 2, r.stdout
    assert split.exec("firewall", "agent-sandbox-init health").stdout.strip() == "ready"


def test_terminals_survive_each_other(split):
    assert_terminals_survive_each_other(split.cid("agent"), 1000)
    assert split.state("agent")["Running"]


PROBE_LOOP = r"""
use IO::Socket::INET; use Time::HiRes qw(time sleep);
$| = 1;
my $end = time + $ARGV[2];
while (time < $end) {
    for my $ip ($ARGV[0], $ARGV[1]) {
        my $s = IO::Socket::INET->new(PeerAddr => $ip, PeerPort => 80, Timeout => 1);
        printf "%.3f %s %s %s\n", time, $ip, $s ? "open" : "refused", $s ? "-" : ($!+0);
    }
    sleep 0.02;
}
"""


def start_prober(split, env, seconds):
    subprocess.run([DOCKER, "exec", "-i", split.cid("agent"), "bash", "-c", "cat > /tmp/probe.pl"],
                   input=PROBE_LOOP, text=True, check=True)
    return subprocess.Popen([DOCKER, "exec", split.cid("agent"), "perl", "/tmp/probe.pl",
                             env.blocked_ip, env.allowed_ip, str(seconds)], stdout=subprocess.PIPE, text=True)


def probed(prober):
    out, _ = prober.communicate(timeout=60)
    lines = [l.split() for l in out.splitlines()]
    assert lines, "the prober printed nothing"
    return lines


def test_a_killed_firewall_is_restarted_and_nothing_opens_meanwhile(split, dockerenv):
    """The firewall's PID 1 dies (SIGKILL from the host, like a crash): the
    engine starts it again, and a prober in the agent's container, running
    from before the kill until after the new one is healthy, never gets
    through to the blocked host before the new firewall has programmed the
    new policy. A policy change made before the kill takes effect only
    through the restarted firewall."""
    env = dockerenv
    restarts = json.loads(docker("inspect", split.cid("firewall")).stdout)[0]["RestartCount"]
    prober = start_prober(split, env, 6)
    time.sleep(1)
    # Allowed from now on by the policy, but not by the rules in place.
    (split.policy_d / "later.yaml").write_text(f"cidrs: [{env.blocked_ip}/32]\n")
    os.chmod(split.policy_d / "later.yaml", 0o644)
    killed_at = time.time()
    subprocess.run(["kill", "-KILL", str(split.state("firewall")["Pid"])], check=True)
    deadline = time.monotonic() + 30
    while json.loads(docker("inspect", split.cid("firewall")).stdout)[0]["RestartCount"] == restarts:
        assert time.monotonic() < deadline, "the engine did not restart the firewall"
        time.sleep(0.1)
    split.wait_healthy("firewall")
    try:
        lines = probed(prober)
        assert float(lines[0][0]) < killed_at < float(lines[-1][0]), (killed_at, lines[0], lines[-1])
        # When the restarted firewall's table that allows nothing was in:
        # its policy's rules come after that.
        stamped = docker("logs", "-t", split.cid("firewall")).stderr.splitlines()
        lockdown = [l.split()[0] for l in stamped if "lockdown done" in l][-1]
        restarted_at = float(subprocess.run(["date", "-d", lockdown, "+%s.%N"], capture_output=True,
                                            text=True, check=True).stdout)
        assert restarted_at > killed_at, (lockdown, killed_at)
        # Until the new firewall ran, the old table held: the blocked host
        # refused. The new one starts with a table that allows nothing and
        # replaces it with the policy's in one transaction: the blocked
        # host opens (the new policy allows it) only after that, and the
        # allowed one may be refused for that moment — at once, by the
        # table (ECONNREFUSED), never by silence. (That the old table lets
        # the allowed host through while no firewall runs is
        # test_while_the_firewall_is_down_its_table_holds.)
        before = [l for l in lines if float(l[0]) < restarted_at]
        assert all(l[2] == "refused" for l in before if l[1] == env.blocked_ip), before
        assert all(l[2] == "open" for l in lines if l[1] == env.allowed_ip and float(l[0]) < killed_at), lines
        assert all(l[3] == "111" for l in lines if l[1] == env.allowed_ip and l[2] != "open"), lines
        # The restarted firewall read the policy as it is now.
        r = split.exec("agent", curl(f"http://{env.blocked_ip}/"), check=False)
        assert r.stdout.strip() == "200 rc=0", r.stdout + r.stderr
        assert split.logs("firewall").count("table inet agent_sandbox allows nothing until") >= 2
    finally:
        (split.policy_d / "later.yaml").unlink()
        split.exec("firewall", "kill -HUP 1")
    deadline = time.monotonic() + 20
    while split.exec("agent", curl(f"http://{env.blocked_ip}/"), check=False).stdout.strip() == "200 rc=0":
        assert time.monotonic() < deadline
        time.sleep(0.3)


def test_while_the_firewall_is_down_its_table_holds(split, dockerenv):
    """Killed and kept down (docker kill: the engine leaves a container
    stopped by hand alone): no firewall process runs, the table is still in
    the namespace, and the agent's user finds the blocked host refused and
    the allowed one open for as long as it stays down."""
    env = dockerenv
    before = split.ruleset()
    assert before.returncode == 0
    docker("kill", split.cid("firewall"))
    try:
        assert not split.state("firewall")["Running"]
        down = split.ruleset()
        assert down.returncode == 0 and down.stdout == before.stdout, down.stdout + down.stderr
        lines = probed(start_prober(split, env, 2))
        assert not split.state("firewall")["Running"]
        assert {(l[1], l[2]) for l in lines} == {(env.blocked_ip, "refused"), (env.allowed_ip, "open")}, [l for l in lines if l[1] == env.allowed_ip and l[2] != "open"]
        r = split.exec("agent", "getent hosts leak-2.exfil.test; echo getent=$?", check=False)
        assert "getent=2" in r.stdout and "leak-2" not in env.dns_log(), r.stdout
    finally:
        split.compose("start", "firewall")
    split.wait_healthy("firewall")


LISTEN_AS_DEV = ("perl -MSocket -e '$| = 1; socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die; "
                 "bind($s, pack_sockaddr_un(\"\\0agent-sandbox/ready\")) or die \"bind: $!\"; listen($s, 5) or die; "
                 "print \"listening\\n\"; while (accept(my $c, $s)) { close $c }'")


@pytest.mark.parametrize("beside", ["nothing", "the user's fake readiness"])
def test_an_agent_without_a_firewall_runs_nothing(dockerenv, beside):
    """The agent's init waits for the firewall, then exits non-zero, and
    CMD never ran: beside no firewall at all, or beside a process of the
    user's that holds the firewall's readiness name (it is not root)."""
    tag = uuid.uuid4().hex[:6]
    holder, squat, agent = (f"asb-e2e-{n}-{tag}" for n in ("holder", "squat", "agent"))
    try:
        docker("run", "-d", "--name", holder, "--network", dockerenv.network, "--dns", dockerenv.dns_ip,
               "--user", "dev", "--cap-drop", "ALL", "--entrypoint", "sleep", IMAGE, "infinity")
        if beside != "nothing":
            docker("run", "-d", "--name", squat, "--network", f"container:{holder}", "--user", "dev",
                   "--cap-drop", "ALL", "--entrypoint", "bash", IMAGE, "-c", LISTEN_AS_DEV)
            deadline = time.monotonic() + 10
            while "listening" not in docker("logs", squat).stdout:
                assert time.monotonic() < deadline, docker("logs", squat).stderr
                time.sleep(0.1)
        r = docker("run", "--name", agent, "--network", f"container:{holder}", "--user", "dev", "--cap-drop", "ALL",
                   IMAGE, "--role", "agent", "--firewall-wait", "2", "--", "sh", "-c", "echo CMD-RAN",
                   check=False, timeout=60)
        assert r.returncode == 1 and "CMD-RAN" not in r.stdout, r.stdout + r.stderr
        why = ("no firewall in this network namespace has reported ready" if beside == "nothing"
               else "held by a process that is not root")
        assert why in r.stderr and "Nothing of yours was started" in r.stderr, r.stderr
    finally:
        docker("rm", "-f", holder, squat, agent, check=False)


def test_a_firewall_that_fails_its_checks_leaves_the_agent_unstarted(dockerenv, tmp_path):
    """The allowed self-check host does not answer and selfcheck.strict is
    set: the firewall exits non-zero and never becomes healthy. Whether
    compose then starts the agent or not (docker-compose 1.29 takes a
    dependency that is no longer running for a healthy one), nothing of
    the user's runs: the agent's init finds no firewall and exits non-zero."""
    env = dockerenv
    dead = env.allowed_ip.rsplit(".", 1)[0] + ".99"
    p = Project(env, tmp_path, f"cidrs: [{env.allowed_ip}/32, {dead}/32]\nports: [80]\n"
                               f"selfcheck: {{allowed: \"{dead}:80\", strict: true}}\n",
                firewall_extra='    restart: "no"',
                agent_extra='    command: ["--role", "agent", "--firewall-wait", "5", "--", "touch", "/workspace/agent-ran"]')
    try:
        up = p.compose("up", "-d", timeout=240)
        assert "self-check failed" in p.logs("firewall"), p.logs("firewall")
        assert p.state("firewall")["ExitCode"] == 1
        agent = p.compose("ps", "-a", "-q", "agent").stdout.strip()
        if agent:
            deadline = time.monotonic() + 30
            while (st := json.loads(docker("inspect", agent).stdout)[0]["State"])["Running"]:
                assert time.monotonic() < deadline
                time.sleep(0.3)
            assert st["StartedAt"].startswith("0001") or st["ExitCode"] == 1, (st, up.stdout + up.stderr)
        assert not (p.dir / "agent-ran").exists()
    finally:
        p.compose("down", "-v", "-t", "1")


def test_an_agent_started_first_waits_for_the_firewall(dockerenv, tmp_path):
    """Both containers started together, the agent's first (a regular second
    container on Kubernetes): the agent's init waits, and runs CMD only once
    the firewall has appeared and it has proven it."""
    tag = uuid.uuid4().hex[:6]
    holder, fw, agent = (f"asb-e2e-{n}-{tag}" for n in ("holder", "fw", "agent"))
    policy = dockerenv.policy(f"cidrs: [{dockerenv.allowed_ip}/32]\nports: [80]\n"
                              f'selfcheck: {{allowed: "{dockerenv.allowed_ip}:80", strict: true}}\n',
                              f"first-{tag}.yaml")
    mount = ["-v", f"{policy}:/etc/agent-sandbox/policy.yaml:ro"]
    try:
        docker("run", "-d", "--name", holder, "--network", dockerenv.network, "--dns", dockerenv.dns_ip,
               "--user", "dev", "--cap-drop", "ALL", "--entrypoint", "sleep", IMAGE, "infinity")
        docker("run", "-d", "--name", agent, "--network", f"container:{holder}", "--user", "dev",
               "--cap-drop", "ALL", *mount, IMAGE, "--role", "agent", "--firewall-wait", "60", "--",
               "sh", "-c", f"curl -s -o /dev/null -w 'CMD allowed=%{{http_code}}\\n' http://{dockerenv.allowed_ip}/")
        logs = dockerenv.wait_log(agent, "waiting for the firewall container")
        time.sleep(2)
        assert "CMD" not in docker("logs", agent).stdout and json.loads(
            docker("inspect", agent).stdout)[0]["State"]["Running"], logs
        docker("run", "-d", "--name", fw, "--network", f"container:{holder}", "--user", "root",
               "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "--cap-add", "SETPCAP", "--cap-add", "SETUID",
               "--cap-add", "SETGID", *mount, IMAGE, "--role", "firewall")
        assert dockerenv.exited(agent, timeout=60) == 0, docker("logs", agent).stderr
        out = docker("logs", agent)
        assert "CMD allowed=200" in out.stdout, out.stdout + out.stderr
        assert "sandbox ready: firewall proven from the agent's container" in out.stderr, out.stderr
    finally:
        docker("rm", "-f", holder, fw, agent, check=False)
