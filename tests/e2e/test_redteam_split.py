# SPDX-License-Identifier: MIT
"""Attacks on split mode from the agent's container, as the user dev: the
firewall in a container of its own, the agent's container sharing its
network namespace without any capability (compose/split/docker-compose.yml,
reproduced here with docker run so that the test needs nothing but the
engine). Each test performs one attack and asserts that it gets nothing."""
import os
import subprocess
import time

import pytest

from dockerenv import DOCKER, IMAGE, ROOT, DockerEnv, docker

pytestmark = pytest.mark.skipif(not os.path.exists(DOCKER) or os.geteuid() != 0,
                                reason="needs root and the Docker engine")

SECCOMP = os.path.join(ROOT, "compose", "split", "agent-sandbox-seccomp.json")
HARDEN = ["--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--security-opt",
          f"seccomp={SECCOMP}", "--read-only"]

# Run as dev in the agent's container: watch the namespace's UDP sockets
# (/proc/net/udp shows every socket of the namespace, whoever owns it) while
# names under an allowed wildcard are looked up (each a new name, so no
# cache answers it). The sandbox's resolver forwards it to
# Docker's embedded DNS (127.0.0.11), which forwards it upstream from a
# socket of dockerd's (uid 0) in this namespace, on an ephemeral port. When
# that socket closes, its conntrack entry stays (30 s, marked by the rule
# that lets uid 0's DNS out): dev binds the same address and port and sends
# its own query to the upstream server. A packet on an existing conntrack
# entry skips the NAT chain (no redirect to the sandbox's resolver) and the
# established rule accepts it. Prints "answer A.B.C.D" for every answer the
# upstream server gave, "no answer" otherwise.
REUSE_DOCKERD_FLOW = r'''
use strict; use Socket;
my ($src, $dst, $trigger, $name) = @ARGV;
my $dsthex = sprintf("%08X", unpack("V", inet_aton($dst)));
my $q = pack("nnnnnn", 0x4242, 0x0100, 1, 0, 0, 0)
      . join("", map { chr(length $_) . $_ } split /\./, $name) . "\0" . pack("nn", 1, 1);
my %seen;
for my $try (1..10) {
  my $pid = fork();
  if (!$pid) { close STDOUT; exec("getent", "ahosts", "t$try-$$.$trigger"); }
  while (waitpid($pid, 1) == 0) {
    open(my $f, "<", "/proc/net/udp") or die "/proc/net/udp: $!";
    while (<$f>) { my @c = split; next unless $c[2] && $c[2] eq "$dsthex:0035";
                   $seen{hex((split /:/, $c[1])[1])} = 1; }
    close $f;
  }
  last if %seen;
}
print "seen ", join(",", keys %seen), "\n";
for my $port (keys %seen) {
  socket(my $s, PF_INET, SOCK_DGRAM, 0) or die;
  my $t = time + 3;
  until (bind($s, sockaddr_in($port, inet_aton($src)))) { die "bind: $!" if time > $t; select(undef, undef, undef, 0.01); }
  connect($s, sockaddr_in(53, inet_aton($dst))) or die "connect: $!";
  send($s, $q, 0);
  my $rin = ''; vec($rin, fileno($s), 1) = 1;
  if (select($rin, undef, undef, 2) && recv($s, my $buf, 512, 0)) {
    my ($id, $flags, $qd, $an) = unpack("nnnn", $buf);
    print "answer ", join(".", unpack("C4", substr($buf, -4))), "\n" if $an;
  } else { print "no answer\n"; }
}
'''


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    env = DockerEnv(tmp_path_factory.mktemp("redteam-split"))
    try:
        env.setup()
        policy = env.policy(f"domains: [allowed.test, \"*.wild.test\"]\ncidrs: [{env.allowed_ip}/32]\nports: [80]\n"
                            f"selfcheck: {{allowed: \"{env.allowed_ip}:80\", blocked: \"{env.blocked_ip}:80\", "
                            "strict: true}\n")
        names = {role: f"asb-e2e-{role}-{env.tag}" for role in ("network", "firewall", "agent")}
        docker("run", "-d", "--name", names["network"], "--network", env.network, "--dns", env.dns_ip,
               "--init", "--user", "dev", *HARDEN, "--sysctl", "net.ipv4.ip_unprivileged_port_start=1024",
               "--entrypoint", "sleep", IMAGE, "infinity")
        env.containers.append(names["network"])
        ns = ["--network", f"container:{names['network']}", *HARDEN, "--tmpfs", "/tmp", "--tmpfs", "/run",
              "-v", f"{policy}:/etc/agent-sandbox/policy.yaml:ro"]
        docker("run", "-d", "--name", names["firewall"], *ns, "--user", "root", "--cap-add", "NET_ADMIN",
               "--cap-add", "SETPCAP", "--cap-add", "SETUID", "--cap-add", "SETGID", IMAGE, "--role", "firewall")
        env.containers.append(names["firewall"])
        env.wait_log(names["firewall"], "firewall ready", timeout=60)
        docker("run", "-d", "--name", names["agent"], *ns, "--user", "dev", "--tmpfs",
               "/home/dev:uid=1000,gid=1000", IMAGE, "--role", "agent")
        env.containers.append(names["agent"])
        logs = env.wait_log(names["agent"], "supervising", timeout=60)
        assert "supervising" in logs, logs
        env.names = names
        # A web server (not a DNS server) on port 53 of an address the policy does not allow.
        env.port53_ip = env.blocked_ip.rsplit(".", 1)[0] + ".12"
        env.run_helper("port53", env.port53_ip, "python3", "-m", "http.server", "53")
        env.agent_ip = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                              names["network"]).stdout.strip()
        yield env
    finally:
        env.teardown()


def as_dev(env, script, *args, timeout=60):
    return docker("exec", "-i", "-u", "dev", env.names["agent"], "perl", "-", *args, input=script,
                  check=False, timeout=timeout)


def test_dev_cannot_ride_dockerds_upstream_dns_flow(split):
    """A name outside the policy must never reach the network's DNS server,
    nor may dev talk to it on any port but through the sandbox's resolver:
    not even on the 5-tuple of a query dockerd just forwarded."""
    r = as_dev(split, REUSE_DOCKERD_FLOW, split.agent_ip, split.dns_ip, "wild.test", "blocked.test")
    assert r.returncode == 0, r.stderr
    # Without a forwarded query to ride the attack proves nothing: make sure it had one.
    assert r.stdout.startswith("seen ") and r.stdout.split("\n")[0] != "seen ", r.stdout
    time.sleep(0.5)
    asked = [line for line in split.dns_log().splitlines() if "blocked.test" in line]
    assert "answer" not in r.stdout and not asked, (
        f"dev reached the DNS server directly on dockerd's flow:\n{r.stdout}\n" + "\n".join(asked))


def test_root_without_capabilities_reaches_only_dns(split):
    """An operator's `docker exec -u 0` into the agent's container gets uid 0
    without any capability. docs/security.md lets it send DNS past the
    resolver; it must not get an arbitrary TCP connection to any address of
    the internet because the destination port is 53 (here: HTTP to a web
    server on port 53 of an address the policy does not allow)."""
    url = f"http://{split.port53_ip}:53/"
    deadline = time.monotonic() + 10
    while subprocess.run(["curl", "-s", "-m", "1", "-o", "/dev/null", url]).returncode != 0:
        assert time.monotonic() < deadline, f"the web server on {url} did not start"
        time.sleep(0.2)
    dev = docker("exec", "-u", "dev", split.names["agent"], "curl", "-s", "-m", "3", "-o", "/dev/null", "-w",
                 "%{http_code}", url, check=False)
    assert dev.stdout != "200", "dev reached a web server on port 53 of a blocked address"
    root = docker("exec", "-u", "0", split.names["agent"], "sh", "-c",
                  f"grep ^CapEff: /proc/self/status; curl -s -m 3 -o /dev/null -w '%{{http_code}}' {url}",
                  check=False)
    assert "CapEff:\t0000000000000000" in root.stdout, root.stdout
    assert not root.stdout.endswith("200"), (
        f"uid 0 without capabilities in the agent's container opened HTTP to {url}:\n{root.stdout}")
