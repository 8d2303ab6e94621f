"""The agent's wrap-up of a call: disposition, notes and a case, into the call's one CRM activity.

    wrapups = WrapupService(acd, activity_log, directory)
    wrapups.attach()                                   # records timeout dispositions from the ACD
    form = await wrapups.form("1001", linkedid)        # dispositions, mode, deadline, open cases
    result = await wrapups.save("1001", linkedid, "resolved", "Fatura düzeltildi",
                                UpdateCase(case_id=7, status="resolved"))
    await wrapups.end_wrapup("1001")                   # refused while the queue's wrap-up is mandatory

A route validates the request's shape and calls these; nothing here knows HTTP. The rules:

- An agent wraps up only their own calls: the call they are wrapping up (or still on) in the
  ACD, or a call the CRM records as theirs. Anything else is refused with one message, so
  nobody learns whether someone else's call exists.
- The disposition is one of the call's queue's dispositions (agents/queues.yaml). Notes are
  kept exactly as typed (markup is text to whoever shows them), at most MAX_NOTES characters,
  and without control characters other than line breaks and tabs.
- The wrap-up goes through `ActivityLog.add_wrapup`, keyed by linkedid: it lands in the call's
  one activity, or in the spool while the CRM is down. A case is opened or updated first (it
  needs the database; when the CRM is down the wrap-up is still kept and the result says the
  case was not saved). Saving ends the agent's wrap-up of that call unless `finish=False`.
- A mandatory wrap-up that runs out gets its queue's timeout disposition, written only when
  the agent saved none.
"""
from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from typing import Any

from gateway.acd.acw import WrapupTimedOut
from gateway.acd.errors import AgentStateError
from gateway.acd.queue_config import BUILTIN_DISPOSITIONS, AfterCallWork, Disposition
from gateway.acd.states import AgentState, AgentStatus
from gateway.crm.backend import CrmUnavailable
from gateway.crm.directory import CallRecord, CustomerDirectory, DirectoryError
from gateway.crm.views import CaseSummary

log = logging.getLogger(__name__)

MAX_NOTES = 4000
_ALLOWED_CONTROLS = frozenset("\n\r\t")
_OWN_CALL_STATES = frozenset({AgentState.WRAP_UP, AgentState.ON_CALL})


class WrapupError(ValueError):
    """The wrap-up cannot be saved as given; the message is safe to show the agent."""


class NotYourCall(WrapupError):
    def __init__(self):
        super().__init__("this call is not yours to wrap up")


@dataclass(frozen=True)
class OpenCase:
    subject: str
    priority: str = "normal"


@dataclass(frozen=True)
class UpdateCase:
    case_id: int
    status: str | None = None
    priority: str | None = None


CaseAction = OpenCase | UpdateCase


@dataclass(frozen=True)
class WrapupForm:
    """What the wrap-up form shows for one call."""

    linkedid: str
    queue: str | None
    dispositions: tuple[Disposition, ...]
    mode: str  # optional / mandatory
    deadline: float | None  # epoch seconds the wrap-up ends at; None when not wrapping up now
    customer_id: int | None
    open_cases: tuple[CaseSummary, ...]

    def to_dict(self, language: str = "en") -> dict[str, Any]:
        return {"linkedid": self.linkedid, "queue": self.queue, "mode": self.mode, "deadline": self.deadline,
                "dispositions": [{"code": d.code, "label": d.label(language)} for d in self.dispositions],
                "customer_id": self.customer_id, "open_cases": [c.to_dict() for c in self.open_cases]}


@dataclass(frozen=True)
class WrapupResult:
    linkedid: str
    disposition: str
    activity_id: int | None  # None: spooled, written when the CRM is back
    case: CaseSummary | None
    case_error: str | None  # the case action was not done (the CRM is down)
    agent_state: str

    @property
    def spooled(self) -> bool:
        return self.activity_id is None

    def to_dict(self) -> dict[str, Any]:
        return {"linkedid": self.linkedid, "disposition": self.disposition, "activity_id": self.activity_id,
                "spooled": self.spooled, "case": self.case.to_dict() if self.case else None,
                "case_error": self.case_error, "agent_state": self.agent_state}


class WrapupService:
    def __init__(self, acd, activity_log, directory: CustomerDirectory):
        self.acd = acd
        self.activity_log = activity_log
        self.directory = directory

    def attach(self) -> None:
        """Record the timeout disposition when a mandatory wrap-up runs out on this instance."""
        self.acd.on_wrapup_timeout(self.record_timeout)

    async def record_timeout(self, timeout: WrapupTimedOut) -> None:
        await self.activity_log.add_timeout_disposition(timeout.call_id, timeout.agent_id, timeout.disposition)

    # -- the form ----------------------------------------------------------------------
    async def form(self, agent_id: str, linkedid: str) -> WrapupForm:
        status, record, _ = await self._own_call(agent_id, linkedid, need_record=True)
        queue = self._queue_of(status, record, linkedid)
        acw = self._acw(queue)
        wrapping_up = status.state is AgentState.WRAP_UP and status.call_id == linkedid
        customer_id = record.customer_id if record is not None else None
        cases = tuple(await self.directory.open_cases(customer_id)) if customer_id is not None else ()
        return WrapupForm(linkedid, queue, self._dispositions(queue), acw.mode,
                          status.wrapup_until if wrapping_up else None, customer_id, cases)

    # -- saving ------------------------------------------------------------------------
    async def save(self, agent_id: str, linkedid: str, disposition: str, notes: str | None = None,
                   case_action: CaseAction | None = None, *, finish: bool = True) -> WrapupResult:
        notes = _clean_notes(notes)
        _check_case_action(case_action)
        status, record, crm_down = await self._own_call(agent_id, linkedid, need_record=case_action is not None)
        queue = self._queue_of(status, record, linkedid)
        if not isinstance(disposition, str) or disposition not in {d.code for d in self._dispositions(queue)}:
            raise WrapupError(f"not a disposition of queue {queue or '(none)'}")

        case, case_error = None, None
        if case_action is not None and crm_down:
            case_error = "the CRM is unavailable; the case was not saved"
        elif case_action is not None:
            customer_id = record.customer_id if record is not None else None
            if customer_id is None:
                raise WrapupError("the caller is not a customer yet: link or create the customer first")
            try:
                case = await self._apply_case(customer_id, agent_id, case_action)
            except CrmUnavailable as exc:
                log.warning("wrap-up of call %s: case not saved, CRM unavailable: %s", linkedid, exc)
                case_error = "the CRM is unavailable; the case was not saved"

        activity_id = await self.activity_log.add_wrapup(linkedid, agent_id, disposition, notes,
                                                         case_id=case.id if case is not None else None)
        state = status
        if finish:
            state = await self.acd.disposition_saved(agent_id, linkedid)
        return WrapupResult(linkedid, disposition, activity_id, case, case_error, state.state.value)

    async def end_wrapup(self, agent_id: str) -> AgentStatus:
        """The agent's "done": refused (AgentStateError) while mandatory, unless the call's
        disposition is already saved (e.g. the form was saved before the caller hung up)."""
        status = await self.acd.get_agent_state(agent_id)
        if status.state is AgentState.WRAP_UP and self._acw(status.queue).mandatory:
            try:
                record = await self.directory.call_record(status.call_id)
            except (CrmUnavailable, DirectoryError):
                record = None
            if record is not None and record.disposition is not None:
                return await self.acd.disposition_saved(agent_id, status.call_id)
        return await self.acd.end_wrapup(agent_id)

    async def check_may_leave_wrapup(self, agent_id: str, status: AgentStatus | None = None) -> None:
        """Raise AgentStateError if the agent is in a mandatory wrap-up whose disposition is not
        saved yet: going not ready or logging out must not skip it either."""
        status = status or await self.acd.get_agent_state(agent_id)
        if status.state is not AgentState.WRAP_UP or not self._acw(status.queue).mandatory:
            return
        try:
            record = await self.directory.call_record(status.call_id)
        except (CrmUnavailable, DirectoryError):
            record = None
        if record is None or record.disposition is None:
            raise AgentStateError(f"agent {agent_id} must save the wrap-up of call {status.call_id} first "
                                  "(mandatory after-call work)")

    # -- internals ---------------------------------------------------------------------
    async def _own_call(self, agent_id: str, linkedid: str, *, need_record: bool
                        ) -> tuple[AgentStatus, CallRecord | None, bool]:
        """The agent's status and the CRM's record of the call (when needed or when only the
        CRM can tell whose call it is), and whether the CRM could not be asked."""
        if not isinstance(linkedid, str) or not linkedid or len(linkedid) > 64 or not linkedid.isprintable():
            raise NotYourCall()
        status = await self.acd.get_agent_state(agent_id)
        in_acd = status.call_id == linkedid and status.state in _OWN_CALL_STATES
        record, crm_down = None, False
        if need_record or not in_acd:
            try:
                record = await self.directory.call_record(linkedid)
            except DirectoryError:
                raise NotYourCall() from None
            except CrmUnavailable:
                if not in_acd:
                    raise  # nothing else can tell whose call it is
                crm_down = True
        if not in_acd and (record is None or record.agent_id != agent_id):
            raise NotYourCall()
        return status, record, crm_down

    @staticmethod
    def _queue_of(status: AgentStatus, record: CallRecord | None, linkedid: str) -> str | None:
        if status.call_id == linkedid and status.queue:
            return status.queue
        return record.queue if record is not None else None

    def _acw(self, queue: str | None) -> AfterCallWork:
        return self.acd.after_call_work(queue or "")

    def _dispositions(self, queue: str | None) -> tuple[Disposition, ...]:
        policy = self.acd.queues.policy(queue) if queue else None
        return policy.dispositions if policy is not None else BUILTIN_DISPOSITIONS

    async def _apply_case(self, customer_id: int, agent_id: str, action: CaseAction) -> CaseSummary:
        try:
            if isinstance(action, OpenCase):
                return await self.directory.open_case(customer_id, action.subject, priority=action.priority,
                                                      owner=agent_id)
            return await self.directory.update_case(customer_id, action.case_id, status=action.status,
                                                    priority=action.priority)
        except DirectoryError as exc:
            raise WrapupError(str(exc)) from None


def _clean_notes(notes) -> str | None:
    if notes is None:
        return None
    if not isinstance(notes, str):
        raise WrapupError("notes must be text")
    if len(notes) > MAX_NOTES:
        raise WrapupError(f"notes are longer than {MAX_NOTES} characters ({len(notes)})")
    if any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in _ALLOWED_CONTROLS for ch in notes):
        raise WrapupError("notes contain control characters")
    return notes if notes.strip() else None


def _check_case_action(action) -> None:
    if action is not None and not isinstance(action, (OpenCase, UpdateCase)):
        raise WrapupError("a case action opens a case or updates one")
