# SPDX-License-Identifier: MIT
"""Helpers for the nftables behaviour tests: a sandbox network namespace joined by a veth pair to a 'network'
namespace that plays the outside world, with listeners there. Every test
gets fresh namespaces, deleted afterwards even when the test fails.

  sandbox ns  192.0.2.2/24  2001:db8:1::2/64   (veth, default routes)
  network ns  192.0.2.1/24  2001:db8:1::1/64   plus on its lo:
              198.51.100.10 198.51.100.20 203.0.113.5
              2001:db8:2::10 2001:db8:2::20
  listeners   TCP echo 53 443 8080, UDP echo 53 9999, on all of them
"""
import json
import os
import subprocess
import sys
import time
import uuid

from buildpaths import NFT_APPLY

HERE = os.path.dirname(os.path.abspath(__file__))
EXTRA = ["198.51.100.10/32", "198.51.100.20/32", "203.0.113.5/32",
         "2001:db8:2::10/128", "2001:db8:2::20/128"]


def sh(*args, **kw):
    return subprocess.run(list(args), check=True, capture_output=True, text=True, timeout=30, **kw)


class NetPair:
    def __init__(self, tmp_path):
        tag = uuid.uuid4().hex[:8]
        self.sbx = f"asb-sbx-{tag}"
        self.net = f"asb-net-{tag}"
        self.log = tmp_path / "server.log"
        self.procs = []
        self.listener_args = ["--tcp", "443", "--tcp", "8080", "--tcp", "53", "--udp", "53",
                              "--udp", "9999"]

    def setup(self):
        sh("ip", "netns", "add", self.sbx)
        sh("ip", "netns", "add", self.net)
        sh("ip", "link", "add", "veth-s", "netns", self.sbx, "type", "veth",
           "peer", "name", "veth-n", "netns", self.net)
        for ns, dev, v4, v6 in ((self.sbx, "veth-s", "192.0.2.2/24", "2001:db8:1::2/64"),
                                (self.net, "veth-n", "192.0.2.1/24", "2001:db8:1::1/64")):
            self.ip(ns, "link", "set", "lo", "up")
            # No duplicate address detection on the link-local address either:
            # while it is tentative, neighbour discovery cannot answer, and
            # the first IPv6 packets of a test would be lost.
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.accept_dad=0")
            self.ip(ns, "addr", "add", v4, "dev", dev)
            self.ip(ns, "-6", "addr", "add", v6, "dev", dev, "nodad")
            self.ip(ns, "link", "set", dev, "up")
        # Both ends must have carrier before the first packet: a neighbour
        # solicitation lost to a link still coming up is retried only after
        # a second.
        deadline = time.monotonic() + 5
        while not all("state UP" in self.ip(ns, "link", "show", dev).stdout
                      for ns, dev in ((self.sbx, "veth-s"), (self.net, "veth-n"))):
            assert time.monotonic() < deadline, "veth pair did not come up"
            time.sleep(0.01)
        self.ip(self.sbx, "route", "add", "default", "via", "192.0.2.1")
        self.ip(self.sbx, "-6", "route", "add", "default", "via", "2001:db8:1::1")
        for a in EXTRA:
            self.ip(self.net, "addr", "add", a, "dev", "lo")
        self.log.write_text("")
        server = self.popen(self.net, [sys.executable, os.path.join(HERE, "netserver.py"),
                                       *self.listener_args, "--log", str(self.log)],
                            stdout=subprocess.PIPE, text=True)
        assert server.stdout.readline().strip() == "ready"

    def ip(self, ns, *args):
        return sh("ip", "-n", ns, *args)

    def popen(self, ns, cmd, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", ns] + cmd, **kw)
        self.procs.append(p)
        return p

    def run(self, ns, cmd, check=True, timeout=60):
        return subprocess.run(["ip", "netns", "exec", ns] + cmd, capture_output=True, text=True,
                              check=check, timeout=timeout)

    def apply(self, *args, check=True):
        """Runs nft-apply in the sandbox ns; returns its parsed stats line."""
        r = self.run(self.sbx, [NFT_APPLY] + list(args), check=False)
        if check:
            assert r.returncode == 0, r.stderr
            return dict(kv.split("=") for kv in r.stdout.split())
        return r

    def probe(self, *specs):
        out = self.run(self.sbx, [sys.executable, os.path.join(HERE, "netclient.py"), "probe"] + list(specs))
        return {p["spec"]: p for p in json.loads(out.stdout)}

    def client(self, *args, **kw):
        return self.popen(self.sbx, [sys.executable, os.path.join(HERE, "netclient.py")] + list(args), **kw)

    def ruleset(self):
        out = self.run(self.sbx, ["nft", "-j", "list", "ruleset"])
        return json.loads(out.stdout)["nftables"]

    def server_log(self):
        return self.log.read_text().splitlines()

    def teardown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for ns in (self.sbx, self.net):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
