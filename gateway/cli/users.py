"""`ctigw users add | passwd | disable | enable | list`: the web's sign-in accounts.

Accounts live in the CRM database ([crm] url). A password is read from a prompt (twice), or
from the first line of standard input when that is not a terminal; never from the command
line, where other users could read it in the process list.

    ctigw users add nazli --role agent --agent-id 1001 --name "Nazlı Yılmaz" --locale tr
    ctigw users add selin --role supervisor --teams billing,support
    echo "$PASSWORD" | ctigw users passwd nazli
    ctigw users disable nazli     # and ends her signed-in sessions
"""
from __future__ import annotations

import asyncio
import getpass
import sys


def register(sub) -> None:
    p = sub.add_parser("users", help="the web's sign-in accounts: add, passwd, disable, enable, list")
    users = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = users.add_parser("add", help="add an account (the password is asked for, or read from stdin)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=("agent", "supervisor", "admin"))
    add.add_argument("--name", default="", help="display name (default: the username)")
    add.add_argument("--agent-id", help="an agent's id in the roster (role agent)")
    add.add_argument("--teams", default="", help="comma-separated team ids (role supervisor)")
    add.add_argument("--locale", default="tr", choices=("tr", "en"), help="the pages' language (default tr)")
    add.set_defaults(func=add_command)
    passwd = users.add_parser("passwd", help="set an account's password (ends its sessions)")
    passwd.add_argument("username")
    passwd.set_defaults(func=passwd_command)
    disable = users.add_parser("disable", help="stop an account from signing in (ends its sessions)")
    disable.add_argument("username")
    disable.set_defaults(func=disable_command, disabled=True)
    enable = users.add_parser("enable", help="let a disabled account sign in again")
    enable.add_argument("username")
    enable.set_defaults(func=disable_command, disabled=False)
    users.add_parser("list", help="list the accounts").set_defaults(func=list_command)


def account_store(settings):
    from gateway.crm.migrate import sync_engine, upgrade_database
    from gateway.web.accounts import AccountStore

    upgrade_database(settings.crm_url)
    return AccountStore(sync_engine(settings.crm_url))


def read_password(stream=None) -> str:
    """Asked for twice on a terminal; else the first line of `stream` (standard input)."""
    stream = stream or sys.stdin
    if stream.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    return stream.readline().rstrip("\r\n")


def _fail(message: str) -> int:
    print(f"ctigw users: {message}", file=sys.stderr)
    return 2


def add_command(args) -> int:
    from gateway.acd.errors import ConfigFileError
    from gateway.acd.roster import load_roster
    from gateway.web.accounts import AccountError

    teams = tuple(t.strip() for t in args.teams.split(",") if t.strip())
    try:
        roster = load_roster(args.settings.acd.roster)
    except (ConfigFileError, OSError) as exc:
        return _fail(f"cannot read the roster: {exc}")
    if args.agent_id and roster.agent(args.agent_id) is None:
        return _fail(f"no agent {args.agent_id!r} in {args.settings.acd.roster}")
    unknown = sorted(set(teams) - {t.id for t in roster.teams})
    if unknown:
        return _fail(f"no team {unknown[0]!r} in {args.settings.acd.roster}")
    try:
        password = read_password()
        account = account_store(args.settings).add(args.username, password, role=args.role, display_name=args.name,
                                                   agent_id=args.agent_id, teams=teams, locale=args.locale)
    except (AccountError, ValueError) as exc:
        return _fail(str(exc))
    print(f"added {account.role} {account.username}")
    return 0


def passwd_command(args) -> int:
    from gateway.web.accounts import AccountError

    try:
        account_store(args.settings).set_password(args.username, read_password())
    except (AccountError, ValueError) as exc:
        return _fail(str(exc))
    print(f"password of {args.username} changed; {_end_sessions(args.settings, args.username)}")
    return 0


def disable_command(args) -> int:
    from gateway.web.accounts import AccountError

    try:
        account_store(args.settings).set_disabled(args.username, args.disabled)
    except AccountError as exc:
        return _fail(str(exc))
    if args.disabled:
        print(f"{args.username} disabled; {_end_sessions(args.settings, args.username)}")
    else:
        print(f"{args.username} enabled")
    return 0


def _end_sessions(settings, username: str) -> str:
    """End the account's web sessions in the gateway's Redis, if it can be reached."""
    import redis.asyncio as aioredis

    from gateway.cli.acd import _redis_url
    from gateway.web.sessions import SessionStore

    async def end() -> int:
        client = aioredis.from_url(_redis_url(settings))
        try:
            store = SessionStore(client, settings.redis.key_prefix, idle=settings.http.session_idle,
                                 absolute=settings.http.session_absolute)
            return await store.end_all(username)
        finally:
            await client.aclose()

    try:
        ended = asyncio.run(end())
    except Exception as exc:  # no Redis here: the sessions run out by their idle expiry
        return f"its web sessions could not be ended ({exc}); they expire within [http] session_idle"
    return f"{ended} web session(s) ended"


def list_command(args) -> int:
    accounts = account_store(args.settings).list()
    print(f"{'username':<16} {'name':<24} {'role':<11} {'agent/teams':<20} {'locale':<6} state")
    for a in accounts:
        who = a.agent_id or ",".join(a.teams) or "-"
        print(f"{a.username:<16} {a.display_name[:24]:<24} {a.role:<11} {who[:20]:<20} {a.locale:<6} "
              f"{'disabled' if a.disabled else 'active'}")
    return 0
