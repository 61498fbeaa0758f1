# SPDX-License-Identifier: MIT
"""Attacks on the sandbox's DNS resolver and the init's handling of its
answers, from an exec'd terminal (user dev) of a real Docker sandbox on an
--internal network whose DNS server (dnsmasq) serves .test names, some of
them pointing where the rebinding guard refuses to go."""
import os
import subprocess
import time

import pytest

from dockerenv import IMAGE, ROOT, TESTNET_IMAGE, DockerEnv, docker

# One UDP query after another to Docker's DNS address (redirected to the
# sandbox's resolver), each waiting for its answer: NAME COUNT; prints how
# many were answered. perl because perl-base is in every Debian image.
QUERY_LOOP_PL = r"""
use Socket;
my ($name, $count) = @ARGV;
socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "socket: $!";
my $dst = sockaddr_in(53, inet_aton("127.0.0.11"));
my $qname = join("", map { chr(length($_)) . $_ } split(/\./, $name)) . "\0";
my $answered = 0;
for my $i (1 .. $count) {
    send($s, pack("nnnnnn", $i, 0x0100, 1, 0, 0, 0) . $qname . pack("nn", 1, 1), 0, $dst) or die "send: $!";
    my $rin = ""; vec($rin, fileno($s), 1) = 1;
    if (select($rin, undef, undef, 2)) { recv($s, my $buf, 4096, 0); $answered++ }
}
print "$answered\n";
"""


class ResolverEnv(DockerEnv):
    """The usual fake internet, whose DNS server also answers names under
    wild.test that point at loopback and at the sandbox's own network."""

    def setup(self):
        subprocess.run([os.path.join(ROOT, "scripts", "docker-setup.sh"), "bookworm"], check=True, timeout=900)
        docker("build", "-q", "-f", os.path.join(ROOT, "images", "base", "Dockerfile"), "-t", IMAGE, ROOT,
               timeout=900)
        docker("build", "-q", "-t", TESTNET_IMAGE, os.path.join(ROOT, "images", "testnet"), timeout=900)
        self.create_network()
        own = self.dns_ip.rsplit(".", 1)[0] + ".50"
        self.run_helper("dns", self.dns_ip, "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                        "--log-facility=-", "--user=root",
                        f"--host-record=far.test,{self.far_ip}",
                        f"--address=/wild.test/{self.far_ip}",
                        "--address=/lo.wild.test/127.0.0.1",
                        f"--address=/lan.wild.test/{own}",
                        "--local-ttl=60")
        self.start_far_host()


@pytest.fixture(scope="module")
def renv(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root to run the Docker engine")
    d = tmp_path_factory.mktemp("redteam-resolver")
    os.chmod(d, 0o755)
    env = ResolverEnv(d)
    try:
        env.setup()
        yield env
    finally:
        env.teardown()


def sandbox(renv, policy_text, policy_name):
    policy = renv.policy(policy_text, name=policy_name)
    name = renv.start_sandbox(policy, "sleep", "infinity")
    logs = renv.wait_log(name, "sandbox ready", timeout=60)
    assert "sandbox ready" in logs, logs
    return name


def query_loop(name, qname, count):
    r = docker("exec", "-u", "dev", name, "perl", "-e", QUERY_LOOP_PL, qname, str(count), timeout=120)
    return int(r.stdout.strip())


def test_answers_the_guard_refuses_do_not_flood_the_init_log(renv):
    """An allowed name whose answer the rebinding guard refuses (loopback
    here; the container's own network, link-local alike) makes PID 1 log a
    warning for every answer, with no bound: the sandbox user writes
    unlimited lines into the engine's log (docker logs), which the docs
    call the record that cannot be changed from inside, burying the real
    denials, and the answer is never remembered, so each repeat asks PID 1
    again. The denial stream takes 10 lines, then one every 6 s; these
    warnings must be bounded alike."""
    name = sandbox(renv, 'domains:\n  - "*.wild.test"\n', "guard-flood.yaml")
    before = docker("logs", name).stderr.count("refused 127.0.0.1/32 for")
    t0 = time.monotonic()
    answered = query_loop(name, "x.lo.wild.test", 400)
    elapsed = time.monotonic() - t0
    assert answered == 400, "the resolver stopped answering (SERVFAIL is an answer)"
    time.sleep(0.5)
    lines = docker("logs", name).stderr.count("refused 127.0.0.1/32 for") - before
    # Within a few seconds, the same bound the denial stream keeps: a burst
    # of 10, then one per 6 s, plus a summary.
    assert lines <= 10 + int(elapsed / 6) + 2, (
        f"{lines} warning lines in the init's log from {answered} queries in {elapsed:.1f} s")
