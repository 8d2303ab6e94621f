"""Which Redis the gateway uses: the configured one, or (the trial only) a private one.

Several gateways each with a private Redis would split one contact centre's ACD without a
word, so an empty [redis] url is refused unless the caller asked for the private Redis.
"""
import asyncio
import socket

import pytest

from gateway.app import Gateway
from gateway.config import ConfigError, Settings
from gateway.loop import install_reactor


def run(coro, timeout: float = 60):
    return install_reactor().run_until_complete(asyncio.wait_for(coro, timeout))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def settings(tmp_path) -> Settings:
    s = Settings()
    s.gateway.state_dir = str(tmp_path / "state")
    s.crm.url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    s.agi.port = _free_port()
    s.ami.port = _free_port()  # nothing listens: the AMI client keeps retrying in the background
    s.redis.url = ""
    return s


def test_an_empty_redis_url_is_refused_before_anything_starts(settings, tmp_path):
    gateway = Gateway(settings)
    with pytest.raises(ConfigError, match=r"\[redis\] url is empty.*CTIGW_REDIS_URL"):
        run(gateway.start())
    assert not (tmp_path / "state").exists()


def test_the_trial_gets_a_private_redis_that_stops_with_it(settings):
    gateway = Gateway(settings, private_redis=True)
    run(gateway.start())
    process = gateway._local_redis.process
    try:
        assert run(gateway.redis.ping()) is True
        assert gateway.redis.connection_pool.connection_kwargs["path"].startswith(settings.gateway.state_dir)
    finally:
        run(gateway.stop())
    assert process.poll() is not None
