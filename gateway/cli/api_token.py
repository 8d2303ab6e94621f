"""`ctigw api-token --agent 1001 | --supervisor billing`: print a bearer token for the HTTP API.

The token is signed with [http] token_secret (else $CTIGW_HTTP_TOKEN_SECRET); the id must be
an agent or a team of the roster. Only the token is printed (to stdout), so it can be piped.
"""
from __future__ import annotations

import os
import sys

SECRET_ENV = "CTIGW_HTTP_TOKEN_SECRET"


def register(sub) -> None:
    p = sub.add_parser("api-token", help="print a bearer token for the HTTP API (an agent's or a supervisor's)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--agent", metavar="ID", help="an agent's token: controls only that agent")
    who.add_argument("--supervisor", metavar="TEAM", help="a team supervisor's token: the team's agents and queues")
    p.set_defaults(func=api_token_command)


def token_secret(settings) -> str:
    http = getattr(settings, "http", None)
    secret = getattr(http, "token_secret", None) if http is not None else None
    return secret or os.environ.get(SECRET_ENV, "")


def api_token_command(args) -> int:
    from gateway.acd.errors import ConfigFileError
    from gateway.acd.roster import load_roster
    from gateway.api.auth import AGENT, SUPERVISOR, TokenSecretError, issue_token

    settings = args.settings
    secret = token_secret(settings)
    if not secret:
        print(f"ctigw api-token: no token secret configured; set [http] token_secret or ${SECRET_ENV}",
              file=sys.stderr)
        return 2
    role, subject = (AGENT, args.agent) if args.agent is not None else (SUPERVISOR, args.supervisor)
    try:
        roster = load_roster(settings.acd.roster)
    except (ConfigFileError, OSError) as exc:
        print(f"ctigw api-token: cannot read the roster: {exc}", file=sys.stderr)
        return 2
    known = roster.agent(subject) is not None if role == AGENT else any(t.id == subject for t in roster.teams)
    if not known:
        kind = "agent" if role == AGENT else "team"
        print(f"ctigw api-token: no {kind} {subject!r} in {settings.acd.roster}", file=sys.stderr)
        return 2
    try:
        token = issue_token(secret, role, subject)
    except (TokenSecretError, ValueError) as exc:
        print(f"ctigw api-token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0
