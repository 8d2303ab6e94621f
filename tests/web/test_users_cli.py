"""`ctigw users`: accounts in the CRM database, passwords from stdin, never from argv."""
import io

import pytest

from gateway.cli.main import main
from gateway.crm.migrate import sync_engine
from gateway.web.accounts import AccountStore, SignInFailed, AccountDisabled
from web_testing import FAST_HASHER


@pytest.fixture
def config(tmp_path, monkeypatch):
    path = tmp_path / "gateway.toml"
    path.write_text(f'[gateway]\nstate_dir = "{tmp_path}"\n')
    monkeypatch.delenv("CTIGW_REDIS_URL", raising=False)
    return str(path)


def ctigw(config, *argv, stdin="", monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["-c", config, *argv])


def store(tmp_path):
    return AccountStore(sync_engine(f"sqlite:///{tmp_path / 'crm.sqlite3'}"), hasher=FAST_HASHER)


def test_add_list_passwd_disable_enable(config, tmp_path, monkeypatch, capsys):
    assert ctigw(config, "users", "add", "ayse", "--role", "agent", "--agent-id", "1001", "--name", "Ayşe Yılmaz",
                 stdin="first-password\n", monkeypatch=monkeypatch) == 0
    assert ctigw(config, "users", "add", "selin", "--role", "supervisor", "--teams", "billing,support",
                 "--locale", "en", stdin="second-password\n", monkeypatch=monkeypatch) == 0
    assert ctigw(config, "users", "list", monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert "Ayşe Yılmaz" in out and "billing,support" in out and "password" not in out.split("\n", 1)[1]
    accounts = store(tmp_path)
    assert accounts.authenticate("ayse", "first-password").agent_id == "1001"
    assert accounts.get("ayse").locale == "tr" and accounts.get("selin").teams == ("billing", "support")
    # passwd and disable work without a reachable Redis: the sessions then run out on their own
    assert ctigw(config, "users", "passwd", "ayse", stdin="a-new-password\n", monkeypatch=monkeypatch) == 0
    with pytest.raises(SignInFailed):
        accounts.authenticate("ayse", "first-password")
    assert accounts.authenticate("ayse", "a-new-password").username == "ayse"
    assert ctigw(config, "users", "disable", "ayse", monkeypatch=monkeypatch) == 0
    with pytest.raises(AccountDisabled):
        accounts.authenticate("ayse", "a-new-password")
    assert ctigw(config, "users", "enable", "ayse", monkeypatch=monkeypatch) == 0
    assert accounts.authenticate("ayse", "a-new-password").username == "ayse"
    out = capsys.readouterr().out
    assert "first-password" not in out and "a-new-password" not in out


def test_bad_accounts_are_refused_with_a_reason(config, monkeypatch, capsys):
    cases = [
        (["ayse", "--role", "agent"], "agent id"),
        (["ayse", "--role", "agent", "--agent-id", "9999"], "no agent '9999'"),
        (["selin", "--role", "supervisor"], "teams"),
        (["selin", "--role", "supervisor", "--teams", "nosuch"], "no team 'nosuch'"),
        (["Bad Name", "--role", "admin"], "username"),
        (["root", "--role", "admin"], "password"),  # too short
    ]
    for argv, reason in cases:
        assert ctigw(config, "users", "add", *argv, stdin="short\n" if argv[0] == "root" else "long-enough-pw\n",
                     monkeypatch=monkeypatch) == 2
        assert reason in capsys.readouterr().err, argv
    assert ctigw(config, "users", "add", "root", "--role", "admin", stdin="long-enough-pw\n", monkeypatch=monkeypatch) == 0
    assert ctigw(config, "users", "add", "root", "--role", "admin", stdin="long-enough-pw\n", monkeypatch=monkeypatch) == 2
    assert "already" in capsys.readouterr().err
    assert ctigw(config, "users", "disable", "nobody", monkeypatch=monkeypatch) == 2
    assert "no account 'nobody'" in capsys.readouterr().err
