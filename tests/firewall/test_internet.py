# SPDX-License-Identifier: MIT
"""The internet preset (services: [internet]) programmed by the real
agent-sandbox-init into the kernel's nftables of a network namespace: every
public address is allowed; private, loopback, link-local (cloud metadata),
CGNAT, multicast, reserved and documentation ranges and the container's own
networks are not, and the sandbox's resolver answers every name, still
refusing answers that point at the sandbox's own side.

Public addresses are checked by set membership only (`nft get element`):
no packet is sent to them. Traffic goes to the fake internet's own
addresses: the documentation ones, and private, CGNAT and link-local ones
this test adds to the network namespace; 203.0.113.0/24 is listed under
cidrs: as the test's stand-in for a public destination."""
import pytest

from fakenet import INIT  # noqa: F401
from test_firewall import apply
from test_resolver import ask, learned, probe, upstream_log
from fakenet import serving_init

HOSTS = {
    "any-name.test": ["203.0.113.5"],
    "not-listed.example.test": ["203.0.113.5"],
    "rebind.test": ["192.0.2.1"],            # the sandbox's own network
    "metadata.test": ["169.254.169.254"],
    # Public names an outsider could point at the inside: only the preset
    # allows them, so their answers must not open what the preset refuses.
    "private.test": ["10.20.30.40"],
    "cgnat.test": ["100.64.0.5"],
    "private-172.test": ["172.16.5.5"],
    "mixed.test": ["203.0.113.5", "192.168.7.7"],
    # Listed in the policy by name: the user asked for this one.
    "listed-private.test": ["192.168.7.7"],
}
# Hosts of the fake internet outside the documentation ranges: what the
# preset must refuse even though they answer.
INSIDE = {"private": "10.20.30.40", "cgnat": "100.64.0.5", "metadata": "169.254.169.254",
          "private-172": "172.16.5.5", "private-192": "192.168.7.7"}
PUBLIC = ["1.1.1.1", "8.8.8.8", "100.128.0.1", "172.32.0.1", "2606:4700::1111", "2a00:1450::1"]
NOT_PUBLIC = ["10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1", "127.0.0.1", "169.254.169.254",
              "224.0.0.1", "240.0.0.1", "255.255.255.255", "0.0.0.1", "192.0.2.2", "198.51.100.10",
              "198.18.0.1", "::1", "fe80::1", "fd00::1", "ff02::1", "2001:db8::1"]


def in_allowed(net, addr):
    family = "allowed_v6" if ":" in addr else "allowed_v4"
    r = net.run(net.sbx, ["nft", "get", "element", "inet", "agent_sandbox", family, "{", addr, "}"], check=False)
    return r.returncode == 0


def add_inside_hosts(net):
    for addr in INSIDE.values():
        net.ip(net.net, "addr", "add", f"{addr}/32", "dev", "lo")


def test_internet_allows_public_ranges_and_nothing_private(net):
    add_inside_hosts(net)
    before = net.probe(*(f"tcp:{a}:443" for a in INSIDE.values()), "tcp:192.0.2.1:443", "tcp:198.51.100.10:443")
    assert all(p["result"] == "ok" for p in before.values()), f"the fake internet must answer first: {before}"

    r = apply(net, "services: [internet]\n")
    assert r.returncode == 0, r.stderr
    assert "sandbox ready" in r.stderr
    for addr in PUBLIC:
        assert in_allowed(net, addr), f"{addr} is public and must be allowed"
    for addr in NOT_PUBLIC:
        assert not in_allowed(net, addr), f"{addr} is not public and must not be allowed"
    after = net.probe(*(f"tcp:{a}:443" for a in INSIDE.values()), "tcp:192.0.2.1:443", "tcp:198.51.100.10:443")
    for spec, p in after.items():
        assert p["result"] in ("refused", "reset"), f"{spec}: {p}"


def test_public_test_address_reachable_with_the_preset(net):
    """203.0.113.0/24 stands for the public internet here (listed under
    cidrs:); the preset's refusals hold beside it."""
    add_inside_hosts(net)
    r = apply(net, "services: [internet]\ncidrs: [203.0.113.0/24]\n")
    assert r.returncode == 0, r.stderr
    probes = net.probe("tcp:203.0.113.5:443", "tcp:203.0.113.5:8080", f"tcp:{INSIDE['metadata']}:443",
                       f"tcp:{INSIDE['private']}:443", f"tcp:{INSIDE['cgnat']}:443", "tcp:192.0.2.1:443")
    assert probes["tcp:203.0.113.5:443"]["result"] == "ok", probes
    assert probes["tcp:203.0.113.5:8080"]["result"] in ("refused", "reset"), "ports stay 80 and 443"
    for spec in (f"tcp:{INSIDE['metadata']}:443", f"tcp:{INSIDE['private']}:443", f"tcp:{INSIDE['cgnat']}:443",
                 "tcp:192.0.2.1:443"):
        assert probes[spec]["result"] in ("refused", "reset"), probes


def test_own_network_is_cut_out_of_the_preset_even_when_public(net):
    """A container whose own network is public address space: the preset
    must not open it (set membership only; nothing is sent there)."""
    net.ip(net.sbx, "addr", "add", "100.128.0.2/24", "dev", "veth-s")
    r = apply(net, "services: [internet]\n")
    assert r.returncode == 0, r.stderr
    assert not in_allowed(net, "100.128.0.2") and not in_allowed(net, "100.128.0.200")
    assert in_allowed(net, "100.128.1.1") and in_allowed(net, "100.129.0.1"), "the rest of 100.128.0.0/9 stays"


@pytest.fixture
def internet_sandbox(net):
    policy = net.write_policy("services: [internet]\ncidrs: [203.0.113.0/24]\ndomains: [listed-private.test]\n"
                              "dns: {min_ttl: 1, grace: 1}\n")
    with serving_init(net, policy) as init:
        yield init


def test_resolver_answers_every_name_and_guards_the_answers(net, internet_sandbox):
    for name in ("any-name.test", "not-listed.example.test"):
        answer = ask(net, name)
        assert answer == {"rcode": 0, "tc": False, "answers": ["203.0.113.5"]}, answer
        assert name in upstream_log(net), "the query went to the upstream, as every allowed one"
    assert "203.0.113.5" not in learned(net), "allowed by the rules already: no entry"
    internet_sandbox.wait_for("any-name.test resolved (service internet): 1 of 1 addresses allowed")
    for name in ("rebind.test", "metadata.test"):
        answer = ask(net, name)
        assert answer.get("rcode") == 2 and answer["answers"] == [], f"{name}: {answer}"
    internet_sandbox.wait_for("refused 192.0.2.1/32 for rebind.test")
    internet_sandbox.wait_for("refused 169.254.169.254/32 for metadata.test: link-local")


def test_an_answer_does_not_open_what_the_preset_refuses(net, internet_sandbox):
    """A name only the preset allows resolves to a private, CGNAT or
    documentation address: refused (SERVFAIL, logged), the address stays
    closed and takes no entry; of a mixed answer only the public part opens. A name
    the policy lists keeps the usual rule."""
    add_inside_hosts(net)
    for name, addr in (("private.test", INSIDE["private"]), ("cgnat.test", INSIDE["cgnat"]),
                       ("private-172.test", INSIDE["private-172"])):
        answer = ask(net, name)
        assert answer.get("rcode") == 2 and answer["answers"] == [], f"{name}: {answer}"
        internet_sandbox.wait_for(f"refused {addr}/32 for {name}: outside the public ranges of service internet")
        assert probe(net, f"tcp:{addr}:443") in ("refused", "reset"), name
        assert addr not in learned(net)
    answer = ask(net, "mixed.test")
    # Released as the guard releases a partly refused answer: whole, with
    # only its public part open.
    assert answer["rcode"] == 0 and "203.0.113.5" in answer["answers"], answer
    assert probe(net, f"tcp:{INSIDE['private-192']}:443") in ("refused", "reset")
    assert INSIDE["private-192"] not in learned(net)
    answer = ask(net, "listed-private.test")
    assert answer["rcode"] == 0 and answer["answers"] == [INSIDE["private-192"]], answer
    assert INSIDE["private-192"] in learned(net)
