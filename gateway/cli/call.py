"""`ctigw call NUMBER`: place one test call into the trial rig from a pjsua2 caller.

    ctigw call 100 --caller-id +905321234567 --digits 1,2

The call arrives on the carrier trunk of the local Asterisk ([rig] sip_port) as if from the
caller's number ("" or "anonymous": a withheld number), presses the digits once audio flows,
prints its progress and exits when the call ends (or after --wait seconds, hanging up).
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time


def register(sub) -> None:
    p = sub.add_parser("call", help="place a test call into the local Asterisk (pjsua2 caller)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    p.add_argument("number", help="the number dialled (DNIS), e.g. 100")
    p.add_argument("--caller-id", default="+905321234567",
                   help="the caller's number (default +905321234567; '' or 'anonymous' = withheld)")
    p.add_argument("--digits", default="", help="keys to press, e.g. 1,2 or 42# (commas are ignored)")
    p.add_argument("--digit-gap", type=float, default=0.6, help="seconds between keys (default 0.6)")
    p.add_argument("--digits-after", type=float, default=2.0,
                   help="seconds after the call is answered before the first key (default 2)")
    p.add_argument("--wait", type=float, default=60.0,
                   help="hang up after this many seconds if the call is still up (default 60)")
    p.add_argument("--instance", default="trial", help="rig instance (default: trial)")
    p.set_defaults(func=cmd_call)


def cmd_call(args) -> int:
    from gateway.rig.asterisk import rig_from_settings
    from gateway.rig.trial_extra import missing_trial_extra

    if problem := missing_trial_extra():
        print(f"ctigw call: {problem}", file=sys.stderr)
        return 1
    rig = rig_from_settings(args.settings, instance=args.instance)
    if not rig.is_running:
        print(f"ctigw call: the rig's Asterisk ({args.instance}) is not running; start it with "
              f"`ctigw rig start` (or `scripts/try`)", file=sys.stderr)
        return 2
    digits = args.digits.replace(",", "").replace(" ", "")
    try:
        return asyncio.run(_call(rig, args.number, args.caller_id, digits, args))
    except KeyboardInterrupt:
        return 130


async def _call(rig, number: str, caller_id: str, digits: str, args) -> int:
    from gateway.rig.phones import PhoneBank, PhoneError

    t0 = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - t0:6.2f}s] {text}", flush=True)

    bank = PhoneBank(sip_host="127.0.0.1", sip_port=rig.sip_port, carrier_secret=rig.carrier_secret,
                     agent_secret=rig.agent_secret)
    await bank.start()
    try:
        who = caller_id if caller_id not in ("", "anonymous") else "a withheld number"
        say(f"calling {number} from {who} via sip:127.0.0.1:{rig.sip_port}")
        call = await bank.call(number=number, caller_id=caller_id, digits=digits,
                               digit_gap=args.digit_gap, digits_after=args.digits_after)
        seen = 0
        sent = ""
        deadline = time.monotonic() + args.wait
        answered = False
        while call.state != "disconnected":
            for _, state, code, reason in call.history[seen:]:
                say(f"{state}" + (f" ({code} {reason})" if code else ""))
                answered = answered or state == "confirmed"
            seen = len(call.history)
            if call.digits_sent != sent:
                say(f"pressed {call.digits_sent[len(sent):]}")
                sent = call.digits_sent
            if time.monotonic() > deadline:
                say(f"still up after {args.wait:.0f}s: hanging up")
                await call.hangup()
                break
            try:
                await call._wait(lambda: len(call.history) > seen or call.digits_sent != sent, 0.5, "progress")
            except PhoneError as exc:
                if "timed out" not in str(exc):
                    raise
        await call.wait_ended(timeout=10)
        for _, state, code, reason in call.history[seen:]:
            say(f"{state}" + (f" ({code} {reason})" if code else ""))
            answered = answered or state == "confirmed"
        say(f"call ended: {call.last_status_code} {call.disconnect_reason or ''}".rstrip())
        return 0 if answered else 1
    finally:
        await bank.stop()
