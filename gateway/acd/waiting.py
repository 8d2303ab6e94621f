"""A waiting call as time passes: matched again when its requirements relax (or its
last-agent window closes), moved or taken out of the queue by its queue's last step
(overflow, voicemail, callback), and told its position and estimated wait.

Only the instance that owns a call (whose call layer holds the caller) does this for it.
"""
from __future__ import annotations

import logging
from typing import Callable

from gateway.acd import events as messages
from gateway.acd import matching
from gateway.acd.dispatch import Dispatcher
from gateway.acd.index import DispatchIndex
from gateway.acd.model import Connector, QueuedCall, QueueOutcome
from gateway.acd.queue_config import QueuePolicy, RelaxStep
from gateway.acd.store import AcdStore, CallWrite
from gateway.acd.transactions import Change, StateWriter

log = logging.getLogger(__name__)

SERVING_CACHE_SECONDS = 1.0


class WaitingCalls:
    def __init__(self, *, index: DispatchIndex, store: AcdStore, writer: StateWriter, dispatcher: Dispatcher,
                 connector: Callable[[], Connector | None], instance: str, dispatch: bool):
        self.index = index
        self.store = store
        self.writer = writer
        self.dispatcher = dispatcher
        self.connector = connector  # the call layer's connector, looked up when needed (None: no call layer)
        self.instance = instance
        self.dispatch = dispatch
        self._announced_at: dict[str, float] = {}
        self._requirements_seen: dict[str, tuple] = {}
        self._outcome_offered: set[str] = set()
        self._serving_cache: dict[str, tuple[float, int]] = {}

    def note(self, call: QueuedCall, now: float) -> None:
        """The call was just matched (or tried) with its current requirements."""
        self._requirements_seen[call.call_id] = self._requirements_key(call, now)

    def rematch_all(self) -> None:
        """The next tick matches every waiting call again (after a configuration change)."""
        self._requirements_seen.clear()

    def forget(self, call_id: str) -> None:
        """The call is no longer waiting (booked, ended, gone)."""
        self._announced_at.pop(call_id, None)
        self._requirements_seen.pop(call_id, None)

    def forget_for_good(self, call_id: str) -> None:
        self.forget(call_id)
        self._outcome_offered.discard(call_id)

    async def advance(self, now: float) -> None:
        """Time has passed: relax, move on or announce each waiting call this instance owns."""
        for call in list(self.index.calls.values()):
            if call.owner != self.instance or call.call_id not in self.index.calls:
                continue
            step = matching.due_terminal_step(call, self.index.policy(call.queue), now)
            if step is not None and call.call_id not in self._outcome_offered:
                await self._end_of_the_road(call, step, now)
                continue
            key = self._requirements_key(call, now)
            if self._requirements_seen.get(call.call_id) != key:
                self._requirements_seen[call.call_id] = key
                if self.dispatch and await self.dispatcher.place_call(call.call_id) is not None:
                    continue
            current = self.index.calls.get(call.call_id)
            if current is not None:
                await self.announce(current, now)

    def _requirements_key(self, call: QueuedCall, now: float) -> tuple:
        # A failed connect's backoff ending counts as a change: the call is matched again then.
        req = self.index.requirements(call, now)
        return (call.queue, req.stage, req.only_agent, call.retry_at > now)

    async def _end_of_the_road(self, call: QueuedCall, step: RelaxStep, now: float) -> None:
        waited = round(now - call.queue_entered_at, 3)
        if step.overflow is not None:
            await self._overflow(call, self.index.policy(step.overflow), waited, now)
            return
        outcome = QueueOutcome(step.outcome, call.call_id, call.queue, None, waited)
        self._outcome_offered.add(call.call_id)
        if self.connector() is None:
            # Nobody here can take the caller elsewhere: say so, and keep serving the call.
            log.warning("call %s is due for %s, but this ACD has no connector to act on it; it stays queued",
                        call.call_id, step.outcome)
            await self.store.publish(messages.call_outcome_message(outcome, self.instance))
            return
        change = Change(call=CallWrite(call, None, removed_reason=step.outcome),
                        extra_messages=(messages.call_outcome_message(outcome, self.instance),))
        if await self.writer.commit(change, now) is None:
            self._outcome_offered.discard(call.call_id)  # changed meanwhile; the next tick decides again
            return
        self.forget_for_good(call.call_id)
        await self.offer_outcome(call, outcome)

    async def _overflow(self, call: QueuedCall, target: QueuePolicy, waited: float, now: float) -> None:
        # The call keeps its rank (how long it has waited counts in the new queue too), takes the
        # new queue's skills, and its relax clock starts again.
        outcome = QueueOutcome("overflow", call.call_id, call.queue, target.name, waited)
        moved = call.advanced(queue=target.name, skills=target.skills, queue_entered_at=now,
                              overflowed_from=call.queue, required_agent=None)
        change = Change(call=CallWrite(call, moved),
                        extra_messages=(messages.call_outcome_message(outcome, self.instance),))
        if await self.writer.commit(change, now) is None:
            return
        log.info("call %s overflowed from %s to %s after %.0fs", call.call_id, call.queue, target.name, waited)
        await self.offer_outcome(moved, outcome)
        self.note(moved, now)
        if self.dispatch:
            await self.dispatcher.place_call(call.call_id)

    async def offer_outcome(self, call: QueuedCall, outcome: QueueOutcome) -> None:
        connector = self.connector()
        if connector is None:
            return
        try:
            await connector.queue_outcome(call, outcome)
        except Exception:
            log.exception("connector failed to act on %s for call %s", outcome.kind, call.call_id)

    async def announce(self, call: QueuedCall, now: float, force: bool = False) -> None:
        """Tell the caller their position and estimated wait (the connector plays it)."""
        connector = self.connector()
        if connector is None or call.owner != self.instance:
            return
        policy = self.index.policy(call.queue)
        last = self._announced_at.get(call.call_id)
        if not force and (policy.announce_every_seconds <= 0 or
                          (last is not None and now - last < policy.announce_every_seconds)):
            return
        self._announced_at[call.call_id] = now
        position = self.index.position(call)
        wait = matching.estimated_wait(position, self.agents_serving(policy, now), policy.expected_handle_seconds)
        try:
            await connector.announce(call, position, wait)
        except Exception:
            log.exception("announcement for call %s failed", call.call_id)

    def estimated_wait(self, policy: QueuePolicy, now: float) -> float:
        """For a call that would join the queue now."""
        ahead = self.index.waiting_count(policy.name) - self.index.available_for(policy)
        if ahead < 0:
            return 0.0  # a suitable agent is free now
        return matching.estimated_wait(ahead + 1, self.agents_serving(policy, now), policy.expected_handle_seconds)

    def agents_serving(self, policy: QueuePolicy, now: float) -> int:
        # Counting walks every agent; announcements come in bursts, so a second-old count will do.
        cached = self._serving_cache.get(policy.name)
        if cached is not None and now - cached[0] < SERVING_CACHE_SECONDS:
            return cached[1]
        count = self.index.agents_serving(policy)
        self._serving_cache[policy.name] = (now, count)
        return count
