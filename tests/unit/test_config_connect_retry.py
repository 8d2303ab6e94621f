"""[acd] connect retry settings: read from the file or the environment, refused when they cannot work."""
import pytest

from gateway.config import ConfigError, load_settings


def test_connect_retries_can_be_tuned_from_the_environment():
    settings = load_settings(None, environ={"CTIGW_ACD_CONNECT_ATTEMPTS": "2",
                                            "CTIGW_ACD_CONNECT_RETRY_INITIAL": "0.5"})
    assert (settings.acd.connect_attempts, settings.acd.connect_retry_initial) == (2, 0.5)


def test_a_retry_policy_that_cannot_work_stops_the_start_with_the_reason(tmp_path):
    config = tmp_path / "gateway.toml"
    config.write_text("[acd]\nconnect_retry_initial = 10.0\nconnect_retry_max = 2.0\n")
    with pytest.raises(ConfigError, match=r"\[acd\] connect retry delays need 0 < initial <= maximum"):
        load_settings(config, environ={})
