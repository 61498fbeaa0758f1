# SPDX-License-Identifier: MIT
"""Shared pytest fixtures. Tests that need root or a tool skip with the reason
when it is missing; the runner turns every skip into a failure under CI=true."""
import os
import pytest

from buildpaths import BUILD, INIT


@pytest.fixture
def init_binary():
    if not os.path.exists(INIT):
        pytest.fail(f"{INIT} is missing: build with `meson setup {BUILD} && ninja -C {BUILD}`")
    return INIT


@pytest.fixture
def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (namespaces, nftables)")


@pytest.fixture(scope="session")
def dockerenv(tmp_path_factory):
    """The real Docker engine with the sandbox image and a fake internet on
    an --internal network (tests/dockerenv.py)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the Docker engine")
    from dockerenv import DockerEnv
    d = tmp_path_factory.mktemp("e2e")
    os.chmod(d, 0o755)
    env = DockerEnv(d)
    try:
        env.setup()
        yield env
    finally:
        env.teardown()
