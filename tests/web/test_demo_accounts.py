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
    assert store.get("1001").locale == "tr" and store.get("1003").locale == "en"  # 1003 speaks English only
    assert store.get("supervisor").teams == ("billing",)
    rig = SimpleNamespace(sip_port=5060, ami_port=5038)
    print_try_banner(settings, rig, DEMO_AGENTS, again)
    banner = capsys.readouterr().out
    assert f"http://127.0.0.1:{settings.http.port}/login" in banner
    for login in again:
        assert f"{login.username:<11} {login.password}" in banner
    assert any(d.role == "supervisor" and f"{d.username:<11} {d.password}" in banner for d in again)
    calls = [line.strip() for line in banner.splitlines() if "ctigw call " in line]
    assert calls and all(c.startswith(f".venv/bin/ctigw call {settings.rig.inbound_number} --caller-id +")
                         for c in calls)


def _trial(settings):
    """What `ctigw try` does by default: its agent phones (registered and logged in to the
    ACD) and the desktop accounts it makes for them."""
    import argparse

    from gateway.cli.run import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    phones = [e for e in parser.parse_args(["try"]).agents.split(",") if e]
    upgrade_database(settings.crm_url)
    return phones, ensure_demo_accounts(settings, phones)


def test_no_demo_agent_has_a_demo_customers_name(tmp_path):
    from gateway.acd.roster import load_roster
    from gateway.crm import demo_data
    from gateway.crm.folding import fold_name

    settings = Settings()
    settings.gateway.state_dir = str(tmp_path)
    _, logins = _trial(settings)
    # Every name the demo CRM can hold: the fixed customers and whatever the generator can
    # put together from its name lists, whatever the seed and the number of customers.
    generator = demo_data.DemoGenerator(seed=1)
    customers = {row[2] for row in generator.fixed()["customers"]}
    customers |= {f"{first} {last}" for firsts, lasts in ((demo_data.TR_FIRST, demo_data.TR_LAST),
                                                           (demo_data.EN_FIRST, demo_data.EN_LAST))
                  for first in firsts for last in lasts}
    customers |= {row[2] for row in generator.batch(0, 2000)["customers"]}  # the generator's real output
    folded_customers = {fold_name(name) for name in customers}
    people = {a.name for a in load_roster(settings.acd.roster).agents} | {d.display_name for d in logins}
    assert len(people) > len(logins)
    assert sorted(p for p in people if fold_name(p) in folded_customers) == []


def test_every_queue_the_demo_flow_reaches_has_a_signed_in_demo_agent_for_each_language(tmp_path):
    """A caller the main flow routes anywhere, in any of its languages, finds a demo agent
    the ACD would give the call to at once (its own matching rule, before any relax step),
    who has a desktop account and whose demo phone the trial registers."""
    from gateway.acd import matching
    from gateway.acd.model import QueuedCall
    from gateway.acd.queue_config import load_queue_config, queue_config_path_for
    from gateway.acd.roster import load_roster
    from gateway.ivr.checker import reachable_routes
    from gateway.ivr.loader import flow_file, load_flow

    settings = Settings()
    settings.gateway.state_dir = str(tmp_path)
    phones, logins = _trial(settings)
    roster = load_roster(settings.acd.roster)
    queues = load_queue_config(queue_config_path_for(settings.acd.roster), roster=roster)
    flow = load_flow(flow_file(settings.ivr.flows_dir, settings.ivr.main_flow))
    store = AccountStore(sync_engine(settings.crm_url))
    account_agents = {store.get(d.username).agent_id for d in logins if d.role == "agent"}
    signed_in = [a for a in roster.agents if a.endpoint in phones and a.id in account_agents]

    # (queue, skills) a call can wait in: each route's, then where the queue overflows to
    # (the call takes the new queue's skills there).
    waits = []
    for route in reachable_routes(flow):
        policy = queues.policy(route.queue)
        skills = route.skills or policy.skills
        while True:
            waits.append((policy, skills))
            step = policy.terminal_step
            if step is None or step.overflow is None:
                break
            policy = queues.policy(step.overflow)
            skills = policy.skills
    assert waits, "the main flow routes no caller anywhere"

    unserved = []
    for policy, skills in waits:
        for language in flow.languages:
            call = QueuedCall(call_id="c", channel="PJSIP/x", queue=policy.name, skills=tuple(skills),
                              language=language, priority=1.0, enqueued_at=0.0, queue_entered_at=0.0, rank_key=0.0)
            needs = matching.requirements_at(call, policy, 0.0)
            if not any(matching.is_eligible(agent, needs) for agent in signed_in):
                unserved.append((policy.name, skills, language))
    assert unserved == []
