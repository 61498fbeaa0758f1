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

# UDP queries to Docker's DNS address (redirected to the sandbox's
# resolver), WINDOW of them in flight at once: FORMAT COUNT WINDOW, the
# i-th name being sprintf(FORMAT, i >> 8, i & 255). Prints how many were
# answered and with which rcodes ("answered 400 0=400"). perl because
# perl-base is in every Debian image.
QUERY_PL = r"""
use Socket;
my ($format, $count, $window) = @ARGV;
socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "socket: $!";
my $dst = sockaddr_in(53, inet_aton("127.0.0.11"));
my ($sent, $inflight, $answered, %rcodes) = (0, 0, 0);
while ($sent < $count || $inflight > 0) {
    while ($sent < $count && $inflight < $window) {
        my $name = sprintf($format, $sent >> 8, $sent & 255);
        my $qname = join("", map { chr(length($_)) . $_ } split(/\./, $name)) . "\0";
        send($s, pack("nnnnnn", $sent & 0xffff, 0x0100, 1, 0, 0, 0) . $qname . pack("nn", 1, 1), 0, $dst)
            or die "send: $!";
        $sent++; $inflight++;
    }
    my $rin = ""; vec($rin, fileno($s), 1) = 1;
    if (!select($rin, undef, undef, 3)) { $inflight = 0; next }
    recv($s, my $buf, 4096, 0);
    $inflight--; $answered++;
    $rcodes{ord(substr($buf, 3, 1)) & 15}++;
}
print "answered $answered ", join(",", map { "$_=$rcodes{$_}" } sort keys %rcodes), "\n";
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
                        # ip-198-19-X-Y.syn.wild.test: 198.19.X.Y, 32,768 addresses
                        "--synth-domain=syn.wild.test,198.19.0.0/17,ip-",
                        f"--address=/lan.wild.test/{own}",
                        "--local-ttl=60")
        self.start_far_host()


@pytest.fixture(scope="module")
def renv(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root to run the Docker engine")
    d = tmp_path_factory.mktemp("resolver-escapes")
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


def ask(name, name_format, count, window=1):
    """As dev: count queries (see QUERY_PL); (answered, {rcode: n})."""
    r = docker("exec", "-u", "dev", name, "perl", "-e", QUERY_PL, name_format, str(count), str(window),
               timeout=300)
    words = r.stdout.split()
    assert words[0] == "answered", r.stdout + r.stderr
    rcodes = dict(tuple(int(x) for x in kv.split("=")) for kv in words[2].split(",")) if len(words) > 2 else {}
    return int(words[1]), rcodes


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
    answered, _ = ask(name, "x.lo.wild.test", 400)
    elapsed = time.monotonic() - t0
    assert answered == 400, "the resolver stopped answering (SERVFAIL is an answer)"
    time.sleep(0.5)
    lines = docker("logs", name).stderr.count("refused 127.0.0.1/32 for") - before
    # Within a few seconds, the same bound the denial stream keeps: a burst
    # of 10, then one per 6 s, plus a summary.
    assert lines <= 10 + int(elapsed / 6) + 2, (
        f"{lines} warning lines in the init's log from {answered} queries in {elapsed:.1f} s")


def test_many_addresses_of_a_wildcard_do_not_stop_dns_for_every_name(renv):
    """PID 1 follows at most 16,384 live learned addresses (24,576 before it
    checks); past that it refuses every answer with an address it does not
    follow yet, for minutes (TTL + grace + an eighth), whatever the name,
    and logs an error line for each. 27,000 lookups under one allowed
    wildcard (a crawler of a CDN's names does the same) then leave the
    sandbox without DNS for the policy's own exact names, whose addresses
    are in allowed_v4 already and need no learned entry at all, and write
    one line per query into the engine's log."""
    name = sandbox(renv, 'domains:\n  - far.test\n  - "*.wild.test"\n', "learned-flood.yaml")
    t0 = time.monotonic()
    # 27,000 distinct addresses: past the 24,576 at which PID 1 checks,
    # with room for a few queries lost on the way.
    answered, _ = ask(name, "ip-198-19-%d-%d.syn.wild.test", 27000, window=64)
    elapsed = time.monotonic() - t0
    assert answered >= 26000, f"only {answered} of 27000 flood queries answered"
    answered, rcodes = ask(name, "far.test", 1)
    full = docker("logs", name).stderr.count("addresses that are still allowed; refusing more")
    assert rcodes == {0: 1}, (
        f"far.test, an exact name of the policy, answered {rcodes} (2: SERVFAIL) after the flood; "
        f"PID 1 logged 'refusing more' {full} times")
    assert full <= 10 + int(elapsed / 6) + 2, f"{full} 'refusing more' lines in {elapsed:.1f} s"
