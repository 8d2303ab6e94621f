"""`ctigw acd ...`: check the roster and queues, see agents and queues, act for an agent.

    ctigw acd check                      validate agents/roster.yaml and agents/queues.yaml
    ctigw acd status [--queue billing]   agent states and waiting calls, from Redis
    ctigw acd login 1001                 also: logout, ready, not-ready (--reason), end-wrapup

Agent actions change the state in Redis; the running gateway hears of it on the events
channel and matches the agent (this process books no calls itself).
"""
from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path

from gateway.acd.errors import AcdError, ConfigFileError
from gateway.acd.queue_config import load_queue_config, queue_config_path_for
from gateway.acd.roster import load_roster

AGENT_ACTIONS = ("login", "logout", "ready", "not-ready", "end-wrapup")


def register(sub) -> None:
    p = sub.add_parser("acd", help="the ACD: check roster and queues, show agent and queue state, agent actions")
    actions = p.add_subparsers(dest="acd_action", metavar="ACTION")
    p.set_defaults(func=lambda args: p.print_help() or 2)

    check = actions.add_parser("check", help="validate the roster and the queue configuration")
    check.add_argument("--roster", metavar="FILE", help="agent roster (default: [acd] roster)")
    check.add_argument("--queues", metavar="FILE", help="queue configuration (default: queues.yaml beside the roster)")
    check.set_defaults(func=check_command)

    status = actions.add_parser("status", help="agent states and waiting calls, as Redis has them")
    status.add_argument("--queue", action="append", help="only these queues (repeatable)")
    status.set_defaults(func=status_command)

    for action in AGENT_ACTIONS:
        ap = actions.add_parser(action, help=f"{action} an agent")
        ap.add_argument("agent", help="agent id, e.g. 1001")
        if action == "not-ready":
            ap.add_argument("--reason", default="break", help="reason code (default: break)")
        if action == "login":
            ap.add_argument("--not-ready", action="store_true", help="log in not ready")
        ap.set_defaults(func=agent_command, action=action)


def _paths(settings, roster=None, queues=None) -> tuple[str, str]:
    roster_path = roster or settings.acd.roster
    return roster_path, queues or str(queue_config_path_for(roster_path))


def check_command(args) -> int:
    roster_path, queues_path = _paths(args.settings, args.roster, args.queues)
    try:
        roster = load_roster(roster_path)
        queues = load_queue_config(queues_path, roster=roster, default_wrapup_seconds=args.settings.acd.wrapup_seconds)
    except ConfigFileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    teams = Counter(a.team for a in roster.agents)
    languages = Counter(lang for a in roster.agents for lang in a.languages)
    print(f"{roster_path}: {len(roster.agents)} agents in {len(roster.teams)} teams "
          f"({', '.join(f'{t} {n}' for t, n in sorted(teams.items()))}); "
          f"languages {', '.join(f'{l} {n}' for l, n in sorted(languages.items()))}; "
          f"skills {', '.join(sorted(roster.all_skills()))}")
    for policy in queues.queues.values():
        end = policy.terminal_step
        ending = "" if end is None else f", after {end.after:g}s " + (f"overflow to {end.overflow}" if end.overflow
                                                                       else end.outcome)
        steps = " -> ".join(f"{s.after:g}s: min {s.min_proficiency}{' or team' if s.any_team_agent else ''}"
                            for s in policy.stages)
        print(f"{queues_path}: queue {policy.name}: skills {', '.join(policy.skills)}; {steps}{ending}; "
              f"wrap-up {policy.wrapup_seconds:g}s{_mandatory(policy.acw)}; "
              f"dispositions {', '.join(d.code for d in policy.dispositions)}")
    print("roster and queues OK")
    return 0


def _redis_url(settings) -> str:
    if settings.redis.url:
        return settings.redis.url
    from gateway.redis_local import LocalRedis

    local = LocalRedis(Path(settings.state_dir))
    if not local.socket.exists():
        raise AcdError("no [redis] url is set and the gateway's private Redis is not running")
    return local.url


def _acd(settings):
    import redis.asyncio as aioredis

    from gateway.acd.service import Acd

    client = aioredis.from_url(_redis_url(settings))
    # A tool process: it changes state but leaves matching to the running gateway instances.
    return Acd.from_settings(settings, client, instance=f"{settings.gateway.instance}-cli", dispatch=False), client


def status_command(args) -> int:
    async def show() -> int:
        acd, client = _acd(args.settings)
        try:
            states = await acd.agent_states()
            print(f"{'agent':<8} {'name':<22} {'state':<11} {'reason':<10} {'since':>9} {'call':<14} handled")
            now = acd.clock()
            for status in states:
                agent = acd.roster.agent(status.agent_id)
                since = f"{now - status.since:7.0f}s" if status.since else "-"
                print(f"{status.agent_id:<8} {agent.name[:22]:<22} {status.state.value:<11} {status.reason[:10]:<10} "
                      f"{since:>9} {status.call_id[:14]:<14} {status.calls_handled}")
            for name in args.queue or acd.queues.names():
                snap = await acd.queue_snapshot(name)
                free = snap.agents_by_state["available"]
                print(f"\nqueue {name}: {len(snap.waiting)} waiting, longest {snap.longest_wait_seconds:.0f}s, "
                      f"{free} agents available")
                for w in snap.waiting:
                    print(f"  {w.position:>3}. {w.call_id}  waited {w.waited_seconds:.0f}s  "
                          f"priority {w.effective_priority:.1f}  {w.language or '-'}  {','.join(w.skills)}")
            return 0
        finally:
            await client.aclose()

    return asyncio.run(show())


def agent_command(args) -> int:
    async def act() -> int:
        acd, client = _acd(args.settings)
        try:
            if args.action == "login":
                status = await acd.login(args.agent, ready=not args.not_ready)
            elif args.action == "logout":
                status = await acd.logout(args.agent)
            elif args.action == "ready":
                status = await acd.ready(args.agent)
            elif args.action == "not-ready":
                status = await acd.not_ready(args.agent, args.reason)
            else:
                status = await acd.end_wrapup(args.agent)
        except AcdError as exc:
            print(f"ctigw acd {args.action}: {exc}", file=sys.stderr)
            return 1
        finally:
            await client.aclose()
        pending = f" (then {status.pending})" if status.pending else ""
        reason = f" ({status.reason})" if status.reason else ""
        print(f"agent {status.agent_id}: {status.state.value}{reason}{pending}")
        return 0

    return asyncio.run(act())


def _mandatory(acw) -> str:
    return f" mandatory (on timeout: {acw.timeout_disposition})" if acw.mandatory else ""
