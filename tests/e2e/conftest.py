import os

import pytest

from dockerenv import DockerEnv


@pytest.fixture(scope="session")
def dockerenv(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root to run the Docker engine")
    d = tmp_path_factory.mktemp("e2e")
    os.chmod(d, 0o755)
    env = DockerEnv(d)
    try:
        env.setup()
        yield env
    finally:
        env.teardown()
