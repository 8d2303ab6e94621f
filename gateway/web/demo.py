"""Sign-in accounts for `ctigw try`: one per demo agent, and the billing team's supervisor.

Idempotent: the passwords are made once and kept in the state dir (mode 600), and every run
sets them again (and enables the accounts), so the passwords the banner prints always work.
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SUPERVISOR_USERNAME = "supervisor"
SUPERVISOR_TEAM = "billing"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    display_name: str
    role: str


def _passwords(path: Path, usernames: list[str]) -> dict[str, str]:
    known = json.loads(path.read_text()) if path.exists() else {}
    missing = [u for u in usernames if u not in known]
    if missing:
        known.update({u: secrets.token_urlsafe(9) for u in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w") as fh:
            json.dump(known, fh, indent=1)
    return known


def ensure_demo_accounts(settings, endpoints: list[str]) -> list[DemoLogin]:
    """Accounts for the agents of the demo phones `endpoints` (the ones the trial registers
    and logs in), and the supervisor."""
    from gateway.acd.roster import load_roster
    from gateway.crm.migrate import sync_engine
    from gateway.web.accounts import AccountStore

    roster = load_roster(settings.acd.roster)
    agents = [a for a in (roster.by_endpoint(e) for e in endpoints) if a is not None]
    team = next((t for t in roster.teams if t.id == SUPERVISOR_TEAM), None)
    wanted = [(a.id, a.name, "agent", a.id, (), "tr" if "tr" in a.languages else "en") for a in agents]
    if team is not None:
        wanted.append((SUPERVISOR_USERNAME, team.supervisor or "Supervisor", "supervisor", None,
                       (team.id,), "tr"))
    passwords = _passwords(Path(settings.state_dir) / "demo-logins.json", [w[0] for w in wanted])
    engine = sync_engine(settings.crm_url)
    try:
        store = AccountStore(engine)
        for username, name, role, agent_id, teams, locale in wanted:
            if store.get(username) is None:
                store.add(username, passwords[username], role=role, display_name=name, agent_id=agent_id,
                          teams=teams, locale=locale)
            else:
                store.set_password(username, passwords[username])
                store.set_disabled(username, False)
    finally:
        engine.dispose()
    return [DemoLogin(w[0], passwords[w[0]], w[1], w[2]) for w in wanted]
