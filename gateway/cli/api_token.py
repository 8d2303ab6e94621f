"""`ctigw api-token --agent 1001 | --supervisor billing [--ttl 8h]`: print a bearer token for
the HTTP API; `ctigw api-token revoke TOKEN_OR_ID`: refuse that one token from now on.

The token is signed with [http] token_secret (else $CTIGW_HTTP_TOKEN_SECRET); the id must be
an agent or a team of the roster. It expires after --ttl ([http] api_token_ttl, 30 days, by
default). Only the token is printed (to stdout), so it can be piped; its id is inside it, and
`revoke` takes either (revocations are kept in the gateway's Redis).
"""
from __future__ import annotations

import asyncio
import os
import re
import sys

SECRET_ENV = "CTIGW_HTTP_TOKEN_SECRET"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> int:
    """'3600', '90m', '8h', '30d' -> seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text or "")
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"not a duration: {text!r} (e.g. 3600, 90m, 8h, 30d)")
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]


def register(sub) -> None:
    p = sub.add_parser("api-token", help="print a bearer token for the HTTP API (an agent's or a supervisor's), "
                                         "or revoke one: api-token revoke TOKEN_OR_ID")
    p.add_argument("revoke", nargs="*", metavar="revoke TOKEN_OR_ID", help="revoke one token, by itself or its id")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--agent", metavar="ID", help="an agent's token: controls only that agent")
    who.add_argument("--supervisor", metavar="TEAM", help="a team supervisor's token: the team's agents and queues")
    p.add_argument("--ttl", metavar="DURATION", help="lifetime, e.g. 8h or 30d (default [http] api_token_ttl)")
    p.set_defaults(func=api_token_command, parser=p)


def token_secret(settings) -> str:
    http = getattr(settings, "http", None)
    secret = getattr(http, "token_secret", None) if http is not None else None
    return secret or os.environ.get(SECRET_ENV, "")


def api_token_command(args) -> int:
    if args.revoke:
        if len(args.revoke) != 2 or args.revoke[0] != "revoke" or args.agent or args.supervisor:
            args.parser.error("use: api-token revoke TOKEN_OR_ID, or api-token --agent ID | --supervisor TEAM")
        return revoke_command(args.settings, args.revoke[1])
    if (args.agent is None) == (args.supervisor is None):
        args.parser.error("one of --agent or --supervisor is required")
    return issue_command(args)


def issue_command(args) -> int:
    from gateway.acd.errors import ConfigFileError
    from gateway.acd.roster import load_roster
    from gateway.api.auth import AGENT, SUPERVISOR, TokenSecretError, issue_token

    settings = args.settings
    secret = token_secret(settings)
    if not secret:
        print(f"ctigw api-token: no token secret configured; set [http] token_secret or ${SECRET_ENV}",
              file=sys.stderr)
        return 2
    try:
        ttl = duration(args.ttl) if args.ttl else getattr(settings.http, "api_token_ttl", 30 * 86400)
    except ValueError as exc:
        print(f"ctigw api-token: {exc}", file=sys.stderr)
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
        token = issue_token(secret, role, subject, ttl=ttl)
    except (TokenSecretError, ValueError) as exc:
        print(f"ctigw api-token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def revoke_command(settings, token_or_id: str) -> int:
    import redis.asyncio as aioredis

    from gateway.api.auth import TokenError, read_token_unverified
    from gateway.api.revocations import TokenRevocations
    from gateway.cli.acd import _redis_url

    token_id, expires = token_or_id, None
    if "." in token_or_id:
        try:
            said = read_token_unverified(token_or_id)
        except TokenError as exc:
            print(f"ctigw api-token: {exc}", file=sys.stderr)
            return 2
        token_id, expires = said.token_id, said.expires_at

    async def revoke() -> None:
        client = aioredis.from_url(_redis_url(settings))
        try:
            await TokenRevocations(client, settings.redis.key_prefix).revoke(token_id, expires)
        finally:
            await client.aclose()

    try:
        asyncio.run(revoke())
    except ValueError as exc:
        print(f"ctigw api-token: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"ctigw api-token: cannot reach the gateway's Redis: {exc}", file=sys.stderr)
        return 1
    print(f"token {token_id} revoked")
    return 0
