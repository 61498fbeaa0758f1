# SPDX-License-Identifier: MIT
"""A small fake internet for the firewall tests, built on NetPair:

  sandbox ns   192.0.2.2/24, 2001:db8:1::2/64; its /etc/resolv.conf (through
               /etc/netns/<ns>/resolv.conf, which `ip netns exec` mounts)
               names 192.0.2.1 as the only resolver
  network ns   dnsmasq on 192.0.2.1 serving *.test names from a hosts file
               (reloadable with SIGHUP), TCP/UDP listeners from NetPair on
               198.51.100.10, 198.51.100.20, 203.0.113.5, 2001:db8:2::10,
               2001:db8:2::20 and an unused resolver address 203.0.113.53

Nothing here touches the host's own network namespace or a real name.
"""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

from buildpaths import INIT
from nft_netpair import NetPair, HERE


class FakeNet(NetPair):
    def __init__(self, tmp_path):
        super().__init__(tmp_path)
        self.tmp = tmp_path
        self.hosts_file = tmp_path / "hosts"
        self.dns_log = tmp_path / "dnsmasq.log"
        self.dnsmasq = None
        self.dnsmasq_args = []          # more options for dnsmasq, set before setup()
        self.etc_dir = f"/etc/netns/{self.sbx}"
        # Port 53 belongs to the DNS server here, on 192.0.2.1 only; the
        # listeners stand for everything else.
        self.listener_args = ["--tcp", "443", "--tcp", "8080", "--tcp", "7", "--udp", "9999"]

    def setup(self, hosts=None, ttl=60, dns=True):
        super().setup()
        os.makedirs(self.etc_dir, exist_ok=True)
        with open(os.path.join(self.etc_dir, "resolv.conf"), "w") as f:
            f.write("nameserver 192.0.2.1\noptions timeout:1 attempts:2\n")
        self.write_hosts(hosts or {})
        if dns:
            self.start_dnsmasq(ttl)

    def write_hosts(self, hosts):
        """hosts: {name: [addr, ...]}"""
        lines = [f"{addr} {name}" for name, addrs in hosts.items() for addr in addrs]
        self.hosts_file.write_text("\n".join(lines) + "\n")

    def start_dnsmasq(self, ttl):
        self.dnsmasq = self.popen(self.net, [
            "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
            "--conf-file=/dev/null", "--bind-interfaces", "--listen-address=192.0.2.1",
            "--except-interface=lo", f"--addn-hosts={self.hosts_file}", f"--local-ttl={ttl}",
            "--log-queries", f"--log-facility={self.dns_log}", "--user=root",
            f"--pid-file={self.tmp / 'dnsmasq.pid'}", "--port=53", *self.dnsmasq_args])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            r = self.run(self.net, ["ss", "-uln", "sport", "= :53"], check=False)
            if "192.0.2.1:53" in r.stdout:
                return
            time.sleep(0.02)
        raise AssertionError("dnsmasq did not start: " + self.dns_log.read_text()
                             if self.dns_log.exists() else "dnsmasq did not start")

    def reload_dns(self, hosts):
        self.write_hosts(hosts)
        self.dnsmasq.send_signal(signal.SIGHUP)
        time.sleep(0.1)

    def start_slowdns(self, table_path, delay_ms, listen="192.0.2.1", alternate=False, stats=None,
                      max_concurrent=0):
        p = self.popen(self.net, [sys.executable, os.path.join(HERE, "slowdns.py"), "--listen", listen,
                                  "--delay-ms", str(delay_ms), "--table", str(table_path)] +
                       (["--alternate"] if alternate else []) + (["--stats", str(stats)] if stats else []) +
                       (["--max-concurrent", str(max_concurrent)] if max_concurrent else []),
                       stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        return p

    def replace_dns_with_slowdns(self, table, delay_ms, **kw):
        """dnsmasq makes way for slowdns.py answering table ({name: {"a":
        [...], "ttl": N}}) after delay_ms, on the same address; kw as
        start_slowdns takes them."""
        self.dnsmasq.kill()
        self.dnsmasq.wait()
        path = self.tmp / "table.json"
        path.write_text(json.dumps(table))
        return self.start_slowdns(path, delay_ms, **kw)

    def write_policy(self, text, name="policy.yaml"):
        path = self.tmp / name
        path.write_text(text)
        return path

    def init(self, *args, timeout=30, pid1=False):
        """Runs agent-sandbox-init in the sandbox namespace; returns CompletedProcess."""
        cmd = [INIT] + list(args)
        if pid1:
            cmd = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"] + cmd
        return self.run(self.sbx, cmd, check=False, timeout=timeout)

    def init_popen(self, *args, **kw):
        cmd = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", INIT] + list(args)
        return self.popen(self.sbx, cmd, **kw)

    def teardown(self):
        super().teardown()
        shutil.rmtree(self.etc_dir, ignore_errors=True)


def pipes_of(pid):
    """The pipes a process holds: each pipe's /proc link ("pipe:[inode]")
    and the descriptors that hold it."""
    pipes = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if link.startswith("pipe:"):
            pipes.setdefault(link, []).append(fd)
    return pipes


class RunningInit:
    """agent-sandbox-init as PID 1 of the sandbox namespace, its log read as it comes."""

    def __init__(self, net, policy, *extra, denials_dir=None):
        # The denial record in the test's own directory, not the machine's /tmp.
        self.denials_dir = denials_dir or net.tmp / "denials"
        self.proc = net.init_popen("--policy", str(policy), "--policy-dir", "/nonexistent",
                                   "--user", "65534:65534", "--denials-dir", str(self.denials_dir), *extra,
                                   stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.pid = None

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text, timeout=15, after=0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in l for l in self.lines[after:]):
                return
            assert self.proc.poll() is None, "\n".join(self.lines)
            time.sleep(0.02)
        raise AssertionError(f"no log line with {text!r}:\n" + "\n".join(self.lines))

    def init_pid(self):
        with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
            return int(f.read().split()[0])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


@contextlib.contextmanager
def serving_init(net, policy, *extra, **kw):
    """A RunningInit that has said "sandbox ready" and "DNS resolver
    started", stopped when the block ends."""
    init = RunningInit(net, policy, *extra, **kw)
    try:
        init.wait_for("sandbox ready")
        init.wait_for("DNS resolver started")
        yield init
    finally:
        init.stop()


def elements(net, set_name):
    for obj in net.ruleset():
        s = obj.get("set")
        if s and s["name"] == set_name:
            out = []
            for e in s.get("elem", []):
                if isinstance(e, dict) and "prefix" in e:
                    out.append(f"{e['prefix']['addr']}/{e['prefix']['len']}")
                elif isinstance(e, dict) and "range" in e:
                    out.append("-".join(e["range"]))
                else:
                    out.append(str(e))
            return sorted(out)
    raise AssertionError(f"set {set_name} not found")
