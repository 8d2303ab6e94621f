"""`ctigw try`'s sign-ins: one account per demo agent and the billing supervisor, made once,
their passwords printed in the banner and always valid."""
import stat
from types import SimpleNamespace

from gateway.cli.run import DEMO_AGENTS, print_try_banner
from gateway.config import Settings
from gateway.crm.migrate import sync_engine, upgrade_database
from gateway.web.accounts import AccountStore
from gateway.web.demo import ensure_demo_accounts


def test_demo_accounts_are_made_once_and_their_printed_passwords_work(tmp_path, capsys):
    settings = Settings()
    settings.gateway.state_dir = str(tmp_path)
    settings.http.token_secret = "demo-secret-demo-secret"
    upgrade_database(settings.crm_url)
    first = ensure_demo_accounts(settings, DEMO_AGENTS)
    assert [(d.username, d.role) for d in first] == [(a, "agent") for a in DEMO_AGENTS] + [("supervisor", "supervisor")]
    assert stat.S_IMODE((tmp_path / "demo-logins.json").stat().st_mode) == 0o600
    store = AccountStore(sync_engine(settings.crm_url))
    store.set_password("1001", "changed-by-someone")
    store.set_disabled("1002")
    again = ensure_demo_accounts(settings, DEMO_AGENTS)
    assert again == first
    for login in again:
        assert store.authenticate(login.username, login.password).username == login.username
    assert store.get("1001").locale == "tr" and store.get("1003").locale == "en"  # Emily speaks English only
    assert store.get("supervisor").teams == ("billing",)
    rig = SimpleNamespace(sip_port=5060, ami_port=5038)
    print_try_banner(settings, rig, DEMO_AGENTS, again)
    banner = capsys.readouterr().out
    assert f"http://127.0.0.1:{settings.http.port}/login" in banner
    for login in again:
        assert f"{login.username:<11} {login.password}" in banner
