"""Runs one call through a flow: plays prompts, reads keys, ends with a FlowResult.

    result = await run_flow(flow, channel, caller, services, now=clock, sensitive_mask="*")

The engine never hangs the channel up itself: it returns an outcome (hangup, voicemail,
callback, route) and the AGI handler tells the dialplan what to do, which it can only do
while the channel is still up. A caller who hangs up mid-flow ends the run with outcome
"abandoned" and the path so far, so the call is still logged.

Sensitive digits (collect nodes with `sensitive: true`) are kept only in the run's memory
for the CRM check; `FlowResult.inputs` shows them masked with the last two digits visible
(`******78`), enough for an agent to confirm an account and useless to anyone else.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable

from gateway.ivr.channel import (NO_SUCH_APPLICATION, CallerFacts, CallerHungUp, Channel, ChannelTimeout,
                                 PromptMissing, SelfServices, UnknownCaller)
from gateway.ivr.hours import is_open
from gateway.ivr.model import (DTMF_DIGITS, BranchNode, CallbackNode, CaseStatusNode, CollectNode, Condition,
                               Flow, FlowResult, HangupNode, HoursNode, LanguageNode, MenuNode, Node, PlayNode,
                               RouteNode, ReturnNode, SubflowNode, VoicemailNode)
from gateway.ivr.validation import crm_problem, local_problem, mask
from gateway.routing import RouteRequest
from gateway.tiers import NO_TIER

log = logging.getLogger(__name__)

MAX_SUBFLOW_DEPTH = 8
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


async def run_flow(flow: Flow, channel: Channel, caller: CallerFacts | None = None,
                   services: SelfServices | None = None, *, now: dt.datetime | Clock | None = None,
                   sensitive_mask: str = "*", path: list[str] | None = None) -> FlowResult:
    """Run `flow` on `channel` for `caller` (None: an unknown caller). Never raises for the
    caller hanging up, the channel timing out, or a service failing."""
    clock = now if callable(now) else (lambda: now) if now is not None else utc_now
    run = FlowRun(flow, channel, caller or UnknownCaller(), services, clock, sensitive_mask)
    if path is not None:
        run.path = path  # the caller's list grows live: where each call is in the IVR, now
    return await run.run()


@dataclass
class _End:
    """A handler's verdict that the flow is over (or, for `return`, the sub-flow)."""

    outcome: str
    route: RouteRequest | None = None
    callback_number: str | None = None
    error: str | None = None


class FlowRun:
    """The state of one call in a flow. One instance per call; not reusable."""

    def __init__(self, flow: Flow, channel: Channel, caller: CallerFacts, services: SelfServices | None, clock: Clock,
                 sensitive_mask: str = "*"):
        self.top = flow
        self.flow = flow
        self.channel = channel
        self.caller = caller
        self.services = services
        self.clock = clock
        self.mask_char = sensitive_mask
        self.path: list[str] = []
        self.inputs: dict[str, str] = {}
        self.variables: dict[str, str] = {}  # unmasked; never leaves this object
        self.chosen_language: str | None = None
        self.returns: list[tuple[Flow, str | None]] = []  # (parent flow, node to resume at)
        self.steps = 0
        # A service failure the flow routed around (the caller still gets somewhere); reported
        # in FlowResult.error unless a worse error ends the run.
        self.service_error: str | None = None
        self._handlers = {
            PlayNode: self._play_node, MenuNode: self._menu, CollectNode: self._collect, BranchNode: self._branch,
            HoursNode: self._hours, LanguageNode: self._language, CaseStatusNode: self._case_status,
            VoicemailNode: self._voicemail, CallbackNode: self._callback, RouteNode: self._route,
            HangupNode: self._hangup, SubflowNode: self._subflow, ReturnNode: self._return,
        }

    # --- the loop ----------------------------------------------------------------------------

    async def run(self) -> FlowResult:
        node_id: str | None = self.flow.start
        try:
            while True:
                if self.steps >= self.top.max_steps:
                    return await self._step_limit()
                node = self.flow.nodes.get(node_id) if node_id else None
                if node is None:  # only a flow that skipped the checker gets here
                    after = self.path[-1] if self.path else "start"
                    return self._result(_End("hangup", error=f"dead end: {after} leads to {node_id!r}"))
                self.steps += 1
                self.path.append(self._label(node.id))
                verdict = await self._handlers[type(node)](node)
                if isinstance(verdict, _End):
                    return self._result(verdict)
                node_id = verdict
        except CallerHungUp:
            return self._result(_End("abandoned"))
        except ChannelTimeout:
            return self._result(_End("abandoned", error="the channel stopped answering"))
        except Exception as exc:  # a bug or a broken service must not leave the caller in silence
            log.exception("IVR flow %s failed at %s", self.top.name, self.path[-1:] or "start")
            return await self._fallback(f"internal error: {exc!r}")

    def _result(self, end: _End) -> FlowResult:
        return FlowResult(outcome=end.outcome, route=end.route, path=self.path, inputs=self.inputs,
                          language=self.language, callback_number=end.callback_number,
                          error=end.error or self.service_error)

    async def _step_limit(self) -> FlowResult:
        return await self._fallback(f"step limit {self.top.max_steps} reached (a loop in the flow?)")

    async def _fallback(self, error: str) -> FlowResult:
        """Ends a run that went wrong at the top flow's on_failure node if that ends the call
        directly (a route to people, or a polite hang-up), else with a plain hang-up."""
        node = self.top.nodes.get(self.top.on_failure or "")
        if isinstance(node, (RouteNode, HangupNode)):
            self.flow = self.top
            self.path.append(node.id)
            try:
                end = await self._handlers[type(node)](node)
            except (CallerHungUp, ChannelTimeout):
                end = _End("abandoned")
            except Exception:
                end = _End("hangup")
            end.error = error
            return self._result(end)
        return self._result(_End("hangup", error=error))

    def _label(self, node_id: str) -> str:
        return node_id if self.flow is self.top else f"{self.flow.name}:{node_id}"

    def _failure(self, node: Node, why: str) -> str | _End:
        """Where a node goes when the caller could not get through it."""
        target = getattr(node, "on_failure", None) or self.flow.on_failure
        if target:
            return target
        return _End("hangup", error=f"{why} at {self._label(node.id)}")

    @property
    def language(self) -> str:
        if self.chosen_language:
            return self.chosen_language
        preferred = self.caller.language
        return preferred if preferred in self.top.languages else self.top.default_language

    # --- talking to the channel ----------------------------------------------------------------

    async def _play(self, sounds, interruptible: bool = False) -> str:
        """Plays sounds in order; returns the key that interrupted them, if allowed."""
        escape = DTMF_DIGITS if interruptible else ""
        for sound in sounds:
            try:
                digit = await self.channel.stream_file(sound, escape)
            except PromptMissing:
                # One missing recording must not end the call: the caller hears the rest of
                # the flow (and keys still work); `ctigw flows check` reports such prompts.
                log.error("IVR flow %s: prompt %r is missing on the Asterisk side", self.top.name, sound)
                continue
            if digit:
                return digit
        return ""

    async def _ask_key(self, prompt, timeout: float, pressed: str = "") -> str:
        """One key: pressed during the prompt (barge-in) or within `timeout` after it; "" if none."""
        if not pressed:
            pressed = await self._play(prompt, interruptible=True)
        if not pressed:
            pressed = await self.channel.wait_for_digit(int(timeout * 1000))
        return pressed

    async def _choose(self, node, choices: dict) -> str | None:
        """A menu dialogue: asks until a key in `choices` is pressed; None when retries run out.
        A key pressed during the invalid/no-input prompt counts as the next attempt."""
        pressed = ""
        for attempt in range(node.retries + 1):
            key = await self._ask_key(node.prompt, node.timeout, pressed)
            if key in choices:
                return key
            if attempt == node.retries:
                break
            pressed = await self._play(node.no_input_prompt if key == "" else node.invalid_prompt, interruptible=True)
        return None

    async def _set_language(self, language: str) -> None:
        await self.channel.exec_app("Set", f"CHANNEL(language)={language}")
        self.chosen_language = language

    # --- node handlers: each returns the next node id or an _End --------------------------------

    async def _play_node(self, node: PlayNode):
        await self._play(node.prompt)
        return node.next

    async def _menu(self, node: MenuNode):
        key = await self._choose(node, node.choices)
        if key is None:
            return self._failure(node, "no valid choice")
        self.inputs[self._label(node.id)] = key
        return node.choices[key]

    async def _collect(self, node: CollectNode):
        for attempt in range(node.retries + 1):
            digits, _timed_out = await self.channel.get_data(
                "&".join(node.prompt), int(node.timeout * 1000), node.max_length)
            digits = digits or ""
            if digits:
                problem = local_problem(node, digits)
                if problem is None and node.check:
                    try:
                        problem = await crm_problem(node.check, digits, self.caller, self.services)
                    except (CallerHungUp, ChannelTimeout):
                        raise
                    except Exception as exc:  # the CRM is down: no point asking the caller again
                        # The type only: a message might quote the digits the caller keyed.
                        log.warning("CRM check %s failed: %s", node.check, type(exc).__name__)
                        self.service_error = f"CRM check {node.check} failed at {node.id}: {type(exc).__name__}"
                        return self._failure(node, f"CRM check {node.check} failed")
                if problem is None:
                    self.variables[node.variable] = digits
                    self.inputs[node.variable] = mask(digits, self.mask_char) if node.sensitive else digits
                    return node.next
                log.debug("input at %s rejected: %s", node.id, problem)  # never the digits themselves
            if attempt < node.retries:
                await self._play(node.invalid_prompt if digits else node.no_input_prompt)
        return self._failure(node, "no valid input")

    async def _branch(self, node: BranchNode):
        for condition, target in node.cases:
            if await self._holds(condition):
                return target
        return node.otherwise

    async def _holds(self, c: Condition) -> bool:
        caller = self.caller
        if c.known is not None and caller.known != c.known:
            return False
        if c.tier is not None and (caller.tier or NO_TIER) not in c.tier:
            return False
        if c.language is not None and self.language not in c.language:
            return False
        if c.open_case is not None and bool(caller.open_cases) != c.open_case:
            return False
        if c.repeat_caller is not None and caller.repeat_caller != c.repeat_caller:
            return False
        if c.queue_wait_over is not None:
            queue, seconds = c.queue_wait_over
            wait = await self._estimated_wait(queue)
            if wait is None or wait <= seconds:
                return False
        return True

    async def _estimated_wait(self, queue: str) -> float | None:
        if self.services is None:
            return None
        try:
            return await self.services.estimated_wait(queue)
        except Exception as exc:  # no estimate: do not offer a callback on a guess
            log.warning("estimated_wait(%s) failed: %r", queue, exc)
            return None

    async def _hours(self, node: HoursNode):
        return node.open if is_open(self.flow.schedules[node.schedule], self.clock()) else node.closed

    async def _language(self, node: LanguageNode):
        preferred = self.caller.language
        if node.use_caller_language and self.caller.known and preferred in self.top.languages:
            await self._set_language(preferred)
            return node.next
        key = await self._choose(node, node.choices)
        if key is not None:
            self.inputs[self._label(node.id)] = key
            await self._set_language(node.choices[key])
            return node.next
        if node.default:
            await self._set_language(node.default)
            return node.next
        return self._failure(node, "no language chosen")

    async def _case_status(self, node: CaseStatusNode):
        customer_id = self.caller.customer_id
        if customer_id is None:
            return self._failure(node, "case status for an unidentified caller")
        try:
            case = await self.services.case_status(customer_id)
        except (CallerHungUp, ChannelTimeout):
            raise
        except Exception as exc:
            log.warning("case_status failed: %r", exc)
            self.service_error = f"case status failed at {node.id}: {exc!r}"
            return self._failure(node, "the CRM did not answer the case status")
        await self._play(node.prompt)
        open_cases = self.caller.open_cases
        if node.count_prompt and open_cases:
            await self._play(node.count_prompt)
            await self.channel.say_number(len(open_cases))
        if case is None:
            await self._play(node.none_prompt)
            self.inputs[self._label(node.id)] = "no case"
            return node.next
        await self._play(node.intro_prompt)
        case_digits = "".join(ch for ch in str(case.id) if ch.isdigit())
        if case_digits:
            await self.channel.say_digits(case_digits)
        await self._play(node.status_prompts.get(str(case.status), node.unknown_status_prompt))
        self.inputs[self._label(node.id)] = f"case {case.id}: {case.status}"
        return node.next

    async def _voicemail(self, node: VoicemailNode):
        await self._play(node.prompt)
        if node.mailbox:
            app, args, where = "VoiceMail", f"{node.mailbox},u", node.mailbox
        else:
            # Asterisk writes the file; the channel's unique id names it.
            uniqueid = await self.channel.get_variable("UNIQUEID") or self.clock().strftime("%Y%m%d%H%M%S")
            where = f"{node.record_dir.rstrip('/')}/{uniqueid}.{node.format}"
            # k: keep the recording when the caller hangs up, which is how most messages end.
            app, args = "Record", f"{where},{node.silence_seconds},{node.max_seconds},k"
        self.inputs["voicemail"] = where
        try:
            # The recording runs as long as the caller talks: well past a command's usual timeout.
            result = await self.channel.exec_app(app, args, timeout=node.max_seconds + 60)
            status_variable = "VMSTATUS" if node.mailbox else "RECORD_STATUS"
            status = await self.channel.get_variable(status_variable)
            # Record and VoiceMail always set their status; none (or no such application)
            # means nothing was recorded.
            if result == NO_SUCH_APPLICATION or status in (None, "", "ERROR", "FAILED"):
                # Never report a message that was not kept (e.g. no such folder on Asterisk).
                log.error("IVR flow %s: voicemail could not be recorded to %s (%s=%s)",
                          self.top.name, where, status_variable, status)
                del self.inputs["voicemail"]
                return self._failure(node, "voicemail could not be recorded")
            await self._play(node.goodbye_prompt)
        except CallerHungUp:
            pass  # hanging up after the message is the normal way to finish it (Record's k keeps it)
        return _End("voicemail")

    async def _callback(self, node: CallbackNode):
        choices = {node.accept: "accept", **({node.other_number: "other"} if node.other_number else {})}
        key = ""
        for attempt in range(node.retries + 1):
            key = await self._ask_key(node.prompt, node.timeout)
            if key or attempt == node.retries:
                break
            await self._play(node.no_input_prompt)
        if key not in choices:
            self.inputs[self._label(node.id)] = key or "none"
            return node.declined or self._failure(node, "callback declined")
        number = None
        if choices[key] == "accept":
            calling = await self.channel.get_variable("CALLERID(num)") or ""
            number = calling if sum(ch.isdigit() for ch in calling) >= node.min_length else None
        if number is None and node.other_number:
            number = await self._callback_number(node)
        if number is None:
            return self._failure(node, "no callback number")
        self.inputs[self._label(node.id)] = key
        self.inputs["callback_number"] = number
        try:
            await self._play(node.confirm_prompt)
            if node.confirm_prompt:
                await self.channel.say_digits("".join(ch for ch in number if ch.isdigit()))
        except CallerHungUp:
            pass  # the callback is booked; hanging up during the confirmation is fine
        return _End("callback", callback_number=number)

    async def _callback_number(self, node: CallbackNode) -> str | None:
        for attempt in range(node.retries + 1):
            digits, _ = await self.channel.get_data("&".join(node.number_prompt), int(node.timeout * 1000),
                                                    node.max_length)
            if digits and digits.isdigit() and node.min_length <= len(digits) <= node.max_length:
                return digits
            if attempt < node.retries:
                await self._play(node.invalid_prompt if digits else node.no_input_prompt)
        return None

    async def _route(self, node: RouteNode):
        request = RouteRequest(queue=node.queue, skills=node.skills, language=node.language or self.language,
                               priority=node.priority)
        await self._play(node.prompt)
        return _End("route", route=request)

    async def _hangup(self, node: HangupNode):
        await self._play(node.prompt)
        return _End("hangup")

    async def _subflow(self, node: SubflowNode):
        if len(self.returns) >= MAX_SUBFLOW_DEPTH:
            return self._failure(node, f"sub-flows nested deeper than {MAX_SUBFLOW_DEPTH}")
        self.returns.append((self.flow, node.next))
        self.flow = self.flow.subflows[node.flow]
        return self.flow.start

    async def _return(self, node: ReturnNode):
        await self._play(node.prompt)
        if not self.returns:
            return _End("hangup", error=f"`return` at {node.id} outside a sub-flow")
        self.flow, resume_at = self.returns.pop()
        return resume_at
