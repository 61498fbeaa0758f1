# SPDX-License-Identifier: MIT
"""The fake internet every firewall test module starts from (fakenet.py).
A module shapes it with module-level names:

  HOSTS          {name: [address, ...]} served by the fake DNS (default none)
  NET_TTL        the TTL of those answers, in seconds (default 60)
  NET_LISTENERS  extra listener arguments, e.g. ["--tcp", "22"]

A module that needs more (a server of its own) overrides `net` with a
fixture that takes this one."""
import pytest

from fakenet import FakeNet


@pytest.fixture
def net(request, tmp_path, need_root):
    n = FakeNet(tmp_path)
    n.listener_args += getattr(request.module, "NET_LISTENERS", [])
    try:
        n.setup(getattr(request.module, "HOSTS", {}), ttl=getattr(request.module, "NET_TTL", 60))
        yield n
    finally:
        n.teardown()
