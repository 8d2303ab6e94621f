"""The configuration: built-in defaults < the TOML file < CTIGW_<SECTION>_<KEY>, and clear errors."""
import json
from pathlib import Path

import pytest

from gateway.cli.main import main
from gateway.config import ConfigError, Settings, describe, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "gateway.example.toml"


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_environment_overrides_the_file_which_overrides_the_defaults(tmp_path):
    path = write(tmp_path, '[ami]\nport = 6038\nhost = "pbx.example"\n[acd]\nring_timeout = 20\n')
    settings = load_settings(path, environ={"CTIGW_AMI_PORT": "7038", "CTIGW_AMI_KEEPALIVE_INTERVAL": "3.5",
                                            "CTIGW_CRM_CREATE_LEADS": "yes", "CTIGW_HTTP_TOKEN_SECRET": "t" * 20})
    assert settings.ami.port == 7038  # environment over file
    assert settings.ami.host == "pbx.example"  # file over default
    assert settings.ami.keepalive_interval == 3.5  # a key with an underscore
    assert settings.acd.ring_timeout == 20
    assert settings.crm.create_leads is True
    assert settings.http.token_secret == "t" * 20
    assert settings.ami.username == "ctigw"  # untouched default


def test_the_file_may_come_from_ctigw_config(tmp_path):
    path = write(tmp_path, '[redis]\nkey_prefix = "site-a"\n')
    assert load_settings(environ={"CTIGW_CONFIG": str(path)}).redis.key_prefix == "site-a"
    assert load_settings(environ={"CTIGW_CONFIG": ""}).redis.key_prefix == "ctigw"


def test_settings_alone_are_the_defaults_whatever_the_environment(monkeypatch):
    monkeypatch.setenv("CTIGW_AMI_PORT", "7038")
    assert Settings().ami.port == 5038
    assert load_settings(environ={"CTIGW_AMI_PORT": "7038"}).ami.port == 7038


def test_allowed_hosts_from_the_environment_as_a_comma_list_or_json():
    assert load_settings(environ={"CTIGW_AGI_ALLOWED_HOSTS": "10.0.0.1, 10.0.0.2"}).agi.allowed_hosts == \
        ["10.0.0.1", "10.0.0.2"]
    assert load_settings(environ={"CTIGW_AGI_ALLOWED_HOSTS": '["10.0.0.3"]'}).agi.allowed_hosts == ["10.0.0.3"]


def test_other_programs_variables_with_the_prefix_are_left_alone():
    settings = load_settings(environ={"CTIGW_TEST_PG_URL": "postgresql://x", "CTIGW_AMI_NO_SUCH_KEY": "1"})
    assert settings.ami.port == 5038


def test_redis_has_connect_read_and_health_check_timeouts(tmp_path):
    defaults = Settings().redis
    assert (defaults.connect_timeout, defaults.socket_timeout, defaults.health_check_interval) == (2.0, 5.0, 15.0)
    example = load_settings(EXAMPLE, environ={}).redis
    assert (example.connect_timeout, example.socket_timeout, example.health_check_interval) == (2.0, 5.0, 15.0)
    tuned = load_settings(write(tmp_path, "[redis]\nsocket_timeout = 0.5\n"),
                          environ={"CTIGW_REDIS_CONNECT_TIMEOUT": "1"}).redis
    assert (tuned.connect_timeout, tuned.socket_timeout) == (1.0, 0.5)


@pytest.mark.parametrize("text, environ, expected", [
    ('[ami]\nport = "many"\n', {}, "[ami] port: Input should be a valid integer"),
    ("[ami]\nport = 70000\n", {}, "[ami] port: Input should be less than 65536, got 70000 (in "),
    ("", {"CTIGW_AGI_MAX_SESSIONS": "lots"}, "got 'lots' (from CTIGW_AGI_MAX_SESSIONS)"),
    ('[ami]\nauth = "sha1"\n', {}, "[ami] auth: Input should be 'md5' or 'plain', got 'sha1'"),
    ('[gateway]\nlog_format = "xml"\n', {}, "[gateway] log_format: Input should be 'text' or 'json'"),
    ("[redis]\nsocket_timeout = 0\n", {}, "[redis] socket_timeout: Input should be greater than 0"),
    ("[crm]\ncreate_leads = 3\n", {}, "[crm] create_leads: Input should be a valid boolean"),
    ("[ami]\nprt = 1\n", {}, "[ami] unknown key 'prt' (known: host, port,"),
    ("[amii]\nport = 1\n", {}, "unknown section [amii] (known: gateway, ami,"),
    ("ami = 5\n", {}, "[ami] must be a table"),
    ("[acd]\nhold_grace = 6\n", {}, "[acd] hold_grace (6) must be at least twice hold_slice (5)"),
    ("[ami\n", {}, "not valid TOML"),
])
def test_bad_values_are_named_by_section_key_and_origin(tmp_path, text, environ, expected):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), environ=environ)
    assert expected in str(caught.value)


def test_every_bad_key_is_reported_at_once(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, '[ami]\nport = "x"\n[agi]\nport = -1\n'), environ={})
    assert [line.split(":")[0] for line in str(caught.value).splitlines()] == ["[ami] port", "[agi] port"]


def test_a_bad_secret_is_not_echoed(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "[ami]\nsecret = 12345678\n"), environ={})
    assert "[ami] secret" in str(caught.value) and "12345678" not in str(caught.value)


def test_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_settings(tmp_path / "nowhere.toml", environ={})


def test_assignment_keeps_working_on_loaded_settings():
    settings = load_settings(environ={})
    settings.redis.url = "redis://127.0.0.1:6379/3"
    settings.acd.ring_timeout = 6
    assert (settings.redis.url, settings.acd.ring_timeout) == ("redis://127.0.0.1:6379/3", 6)


def test_check_config_prints_the_effective_settings_with_secrets_hidden(tmp_path, monkeypatch, capsys):
    path = write(tmp_path, '[redis]\nurl = "redis://:hunter22@db.example:6379/0"\n')
    monkeypatch.setenv("CTIGW_AMI_SECRET", "s3cret-ami")
    monkeypatch.setenv("CTIGW_CRM_URL", "postgresql+asyncpg://ctigw:pg-pass@db/ctigw")
    assert main(["-c", str(path), "check-config"]) == 0
    out = capsys.readouterr().out
    assert "s3cret-ami" not in out and "pg-pass" not in out and "hunter22" not in out
    shown = json.loads(out[:out.rindex("}") + 1])
    assert shown["ami"]["secret"] == "********"
    assert shown["crm"]["url"] == "postgresql+asyncpg://ctigw:***@db/ctigw"
    assert shown["redis"]["socket_timeout"] == 5.0
    assert out.rstrip().endswith("configuration OK")


def test_check_config_fails_with_the_reason(tmp_path, capsys):
    assert main(["-c", str(write(tmp_path, "[acd]\nring_timeout = -3\n")), "check-config"]) == 2
    assert "configuration error: [acd] ring_timeout: Input should be greater than 0" in capsys.readouterr().err


def test_describe_lists_every_section():
    assert set(describe(Settings())) == {"gateway", "ami", "agi", "redis", "crm", "ivr", "acd", "http", "rig"}
