"""`ctigw run` (the gateway) and `ctigw try` (the gateway with a local Asterisk to call)."""
from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys

log = logging.getLogger("ctigw")

# The trial's agent phones. Besides 1001..1005 (the end-to-end tests' agents): 1009 for
# English technical support, 1010 for Turkish sales and 1014 for complaints in both
# languages, so every queue the main flow can reach has an agent for every caller language
# (tests/web/test_demo_accounts.py checks it against the flow, queues.yaml and the roster).
DEMO_AGENTS = ["1001", "1002", "1003", "1004", "1005", "1009", "1010", "1014"]


def register(sub) -> None:
    p = sub.add_parser("run", help="run the gateway against the configured Asterisk, Redis and CRM")
    p.set_defaults(func=run_command)
    p = sub.add_parser("try", help="try the gateway: local Asterisk 22, SQLite CRM with demo customers, "
                                   "private Redis, demo agent phones that answer")
    p.add_argument("--customers", type=int, default=2000, help="demo customers to create the first time")
    p.add_argument("--agents", default=",".join(DEMO_AGENTS),
                   help="agent phones (endpoints) to register, log in and auto-answer; '' for none")
    p.add_argument("--answer-after", type=float, default=3.0, help="seconds a demo agent's phone rings")
    p.add_argument("--real-hours", action="store_true",
                   help="follow the main flow's office hours by the real clock (by default the trial's IVR "
                        "is always open, so a call reaches an agent whenever you try it)")
    p.set_defaults(func=try_command)


def run_until_interrupted(main) -> int:
    """Run `main()` on the gateway's loop (asyncio + Twisted) until it ends or SIGINT/SIGTERM."""
    from gateway.loop import install_reactor

    loop = install_reactor()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: its terminal closed
        loop.add_signal_handler(sig, stop.set)
    return loop.run_until_complete(main(stop))


def run_command(args) -> int:
    from gateway.app import Gateway
    from gateway.loop import freeze_startup_heap
    from gateway.sd_notify import notify

    async def main(stop):
        gateway = Gateway(args.settings)
        await gateway.start()
        freeze_startup_heap()
        notify("READY=1", f"STATUS=gateway {args.settings.gateway.instance} ready")
        try:
            await stop.wait()
        finally:
            notify("STOPPING=1")
            await gateway.stop()
        return 0

    return run_until_interrupted(main)


def _ctigw(*argv: str) -> None:
    subprocess.run([sys.executable, "-m", "gateway.cli.main", *argv], check=True)


def _demo_customers_present() -> bool:
    """`crm lookup` exits 0 only for a known caller: the first demo customer."""
    done = subprocess.run([sys.executable, "-m", "gateway.cli.main", "crm", "lookup", "+905321234567"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return done.returncode == 0


def try_command(args) -> int:
    from gateway.rig.asterisk import rig_from_settings
    from gateway.rig.provision import provision
    from gateway.rig.trial_extra import missing_trial_extra

    settings = args.settings
    if problem := missing_trial_extra():
        print(f"ctigw try: {problem}", file=sys.stderr)
        return 1
    print("==> the local Asterisk 22 (Debian sid chroot)", flush=True)
    provision(settings.rig.root)
    rig = rig_from_settings(settings)
    settings.ami.port = rig.ami_port
    settings.ami.secret = rig.ami_secret
    settings.http.token_secret = settings.http.token_secret or _trial_token_secret(settings.state_dir)
    print("==> the CRM (SQLite) with demo customers", flush=True)
    _ctigw("crm", "migrate")
    if _demo_customers_present():
        print("    demo customers already there (ctigw crm demo-data --replace starts afresh)")
    else:
        _ctigw("crm", "demo-data", "--customers", str(args.customers))
    print("==> IVR prompts (espeak-ng, 8 kHz)", flush=True)
    _ctigw("prompts", "build", "--out", str(settings.state_dir / "prompts"))
    rig.start(replace=True)
    agents = [a for a in args.agents.split(",") if a]
    from gateway.web.demo import ensure_demo_accounts
    logins = ensure_demo_accounts(settings, agents)  # the desktop's sign-ins, one per phone

    async def main(stop):
        from gateway.app import Gateway
        from gateway.rig.phones import PhoneBank

        clock = None if args.real_hours else always_open_clock(settings)
        gateway = Gateway(settings, private_redis=True, ivr_clock=clock)  # empty [redis] url: a Redis of its own
        await gateway.start()
        bank = PhoneBank(sip_port=rig.sip_port, carrier_secret=rig.carrier_secret, agent_secret=rig.agent_secret)
        try:
            for endpoint in agents:
                await bank.register_agent(endpoint, answer_after=args.answer_after)
                agent = gateway.acd.roster.by_endpoint(endpoint)
                if agent is not None:
                    await gateway.acd.login(agent.id)
            print_try_banner(settings, rig, agents, logins, args.real_hours)
            await stop.wait()
        finally:
            await bank.stop()
            await gateway.stop()
        return 0

    try:
        return run_until_interrupted(main)
    finally:
        rig.stop()


def always_open_clock(settings, now=None):
    """The trial IVR's business-hours clock: the real time when the main flow's offices are
    open, else the next moment they are, so a newcomer's call reaches an agent at any hour."""
    from datetime import datetime, timezone

    from gateway.ivr.hours import is_open, next_open
    from gateway.ivr.loader import flow_file, load_flow

    real = now or (lambda: datetime.now(timezone.utc))
    flow = load_flow(flow_file(settings.ivr.flows_dir, settings.ivr.main_flow))
    schedules = [s for f in flow.all_flows() for s in f.schedules.values()]
    opens = next_open(schedules, real().replace(second=0, microsecond=0))
    if not schedules or opens is None:
        return None

    def clock():
        moment = real()
        return moment if all(is_open(s, moment) for s in schedules) else opens

    return clock


def _trial_token_secret(state_dir) -> str:
    """The trial's HTTP API secret, made once and kept (mode 600) so tokens outlive restarts."""
    import os
    import secrets

    path = state_dir / "http-token.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def print_try_banner(settings, rig, agents, logins=(), real_hours: bool = False) -> None:
    from gateway.api import issue_token

    agent_token = issue_token(settings.http.token_secret, "agent", agents[0]) if agents else ""
    supervisor_token = issue_token(settings.http.token_secret, "supervisor", "billing")
    api = f"http://{settings.http.bind}:{settings.http.port}/api/v1"
    sign_ins = "\n".join(f"  {d.username:<11} {d.password:<14} {d.display_name} ({d.role})" for d in logins)
    call = f".venv/bin/ctigw call {settings.rig.inbound_number}"
    hours = ("The IVR follows its office hours (ivr_flows/main.yaml); out of hours it offers a voice\n"
             "message or a call back instead of an agent." if real_hours else
             "The IVR is always in office hours here (--real-hours: the flow's own hours, by the clock).")
    print(f"""
The gateway is running (Ctrl-C stops it and the local Asterisk).

  Asterisk 22   SIP 127.0.0.1:{rig.sip_port}, AMI 127.0.0.1:{rig.ami_port}, inbound number {settings.rig.inbound_number}
  gateway       FastAGI 127.0.0.1:{settings.agi.port}, CRM {settings.crm_url}
  agents        {', '.join(agents) or 'none'} registered, logged in, answering after a few rings

The agent desktop: open http://{settings.http.bind}:{settings.http.port}/login and sign in as an agent
(username, password); the caller pops up there while the agent's demo phone rings:

{sign_ins}

In another terminal, place calls and press keys in the IVR (this window logs each call).
{hours}

  # Emily Clarke, a known English customer: main menu 1 (billing) -> English billing agent 1003
  {call} --caller-id +442071234567 --digits 1 --digits-after 6
  # Çağrı Öztürk, a repeat caller with an open case: 1 = an agent about it (complaints) -> 1014
  {call} --caller-id +905321234567 --digits 1 --digits-after 6
  # an unknown caller: 1 = Türkçe, then main menu 1 (billing) -> best Turkish billing agent, 1001
  {call} --caller-id +905559876543 --digits 1,1 --digit-gap 6
  # what the agent's screen pop shows for Çağrı Öztürk, whatever form the number comes in
  .venv/bin/ctigw crm lookup 05321234567

  .venv/bin/ctigw acd status             # agents and queues, live
  .venv/bin/ctigw flows graph main       # the IVR as a picture (main.svg)

The agent-control API ({api}, OpenAPI at {api}/openapi.json), as agent {agents[0] if agents else '-'}
and as the billing team's supervisor:

  curl -s -H 'Authorization: Bearer {agent_token}' {api}/agents/{agents[0] if agents else '1001'}
  curl -s -X POST -H 'Authorization: Bearer {agent_token}' -d '{{"reason": "break"}}' {api}/agents/{agents[0] if agents else '1001'}/not-ready
  curl -s -H 'Authorization: Bearer {supervisor_token}' {api}/queues/billing
""", flush=True)
