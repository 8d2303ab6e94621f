"""The ACD as the call layer and the agent desktop see it.

The call layer (which owns AMI) calls `enqueue`, `agent_ringing`, `agent_answered`,
`ring_no_answer`, `call_ended` and `caller_abandoned`; agents (through their desktop or the
CLI) call `login`, `logout`, `ready`, `not_ready` and `end_wrapup`; wallboards read
`get_agent_state` and `queue_snapshot` and follow the `<prefix>:events` channel. The ACD
calls back into the call layer through a Connector (see model.Connector).

Every change is read from Redis, decided by the pure rules (states.py, matching.py) and
written back by a Lua script that checks nobody changed it meanwhile; a conflict re-reads
and decides again. Several gateway instances can share one Redis: each follows the others'
changes on the events channel, and a call is always connected by the instance whose call
layer enqueued it (its owner), whichever instance booked the agent.
"""
from __future__ import annotations

import asyncio
import logging
import random as _random
import time
from typing import Callable

from gateway.acd import acw, call_events, matching, states
from gateway.acd import events as messages
from gateway.acd.dispatch import Dispatcher
from gateway.acd.errors import AcdError, QueueConfigError, UnknownAgent, UnknownQueue
from gateway.acd.events import AGENT_STATE, AGENT_WAKEUP, CALL_REMOVED, CALL_STATE, Event
from gateway.acd.feed import EventFeed
from gateway.acd.index import DispatchIndex
from gateway.acd.model import (CallState, Connector, CustomerFacts, QueuedCall, QueueOutcome, QueueSnapshot,
                               WaitingCallView)
from gateway.acd.queue_config import AfterCallWork, QueueConfig, load_queue_config, queue_config_path_for
from gateway.acd.retry import ConnectRetry
from gateway.acd.roster import Agent, Roster, load_roster
from gateway.acd.state_log import StateRecorder, StateSink
from gateway.acd.states import AgentState, AgentStatus
from gateway.acd.store import AcdStore, CallWrite
from gateway.acd.timers import FileWatcher, Ticker
from gateway.acd.transactions import Change, StateWriter
from gateway.acd.waiting import WaitingCalls
from gateway.routing import RouteRequest

log = logging.getLogger(__name__)

OFFER_GRACE_SECONDS = 15.0  # beyond the ring timeout, before a silent offer is taken back


class Acd:
    def __init__(self, redis, roster: Roster, queues: QueueConfig, *, connector: Connector | None = None,
                 key_prefix: str = "ctigw",
                 instance: str = "gw1", clock: Callable[[], float] = time.time, ring_timeout: float = 15.0,
                 dispatch: bool = True, roster_path: str | None = None, queues_path: str | None = None,
                 default_wrapup_seconds: float = 10.0, connect_retry: ConnectRetry = ConnectRetry(),
                 random: Callable[[], float] = _random.random):
        queues.check_against(roster)
        self.instance = instance
        self.clock = clock
        self.connector = connector
        self.ring_timeout = ring_timeout
        self.dispatch_enabled = dispatch
        self.roster_path = roster_path
        self.queues_path = queues_path
        self.default_wrapup_seconds = default_wrapup_seconds
        self.connect_retry = connect_retry  # after connect_retry.attempts failures: "connect_failed"
        self._random = random  # the retry delays' jitter
        self.store = AcdStore(redis, key_prefix, instance)
        self.index = DispatchIndex(roster, queues)
        self.writer = StateWriter(self.store, self.index, clock)
        self.dispatcher = Dispatcher(self.index, self.store, clock, self._booked)
        self.waiting = WaitingCalls(index=self.index, store=self.store, writer=self.writer,
                                    dispatcher=self.dispatcher, connector=lambda: self.connector,
                                    instance=instance, dispatch=dispatch)
        self.feed = EventFeed(redis, self.store.keys.channel, self._on_event, self.resync)
        self.ticker: Ticker | None = None
        self._tasks: set[asyncio.Task] = set()
        self._tick_lock = asyncio.Lock()
        self._connected_version: dict[str, int] = {}  # call id -> version we connected (once each)
        self._wrapup_timeout_listeners: list[Callable[[acw.WrapupTimedOut], Any]] = []
        self._event_listeners: list[Callable[[Event], None]] = []

    @classmethod
    def from_settings(cls, settings, redis, connector: Connector | None = None, **overrides) -> "Acd":
        """The ACD for a gateway's settings: roster from [acd] roster, queues.yaml beside it."""
        roster_path = settings.acd.roster
        queues_path = str(queue_config_path_for(roster_path))
        roster = load_roster(roster_path)
        queues = load_queue_config(queues_path, default_wrapup_seconds=settings.acd.wrapup_seconds, roster=roster)
        options = dict(connector=connector, key_prefix=settings.redis.key_prefix, instance=settings.gateway.instance,
                       ring_timeout=settings.acd.ring_timeout, roster_path=roster_path, queues_path=queues_path,
                       default_wrapup_seconds=settings.acd.wrapup_seconds,
                       connect_retry=ConnectRetry(attempts=settings.acd.connect_attempts,
                                                  initial=settings.acd.connect_retry_initial,
                                                  maximum=settings.acd.connect_retry_max,
                                                  jitter=settings.acd.connect_retry_jitter))
        options.update(overrides)
        return cls(redis, roster, queues, **options)

    @property
    def roster(self) -> Roster:
        return self.index.roster

    @property
    def queues(self) -> QueueConfig:
        return self.index.queues

    # -- life cycle ---------------------------------------------------------------------
    async def start(self, *, background: bool = True, tick_interval: float = 1.0) -> None:
        """Load the state from Redis; with `background`, follow events and tick by the clock."""
        if not background:
            await self.resync()
            return
        self.feed.start()
        await asyncio.wait_for(self.feed.subscribed.wait(), 30)
        watcher = None
        if self.roster_path and self.queues_path:
            watcher = FileWatcher([self.roster_path, self.queues_path])
        self.ticker = Ticker(self.tick, self.clock, tick_interval, watcher, self.reload)
        self.ticker.start()

    async def stop(self) -> None:
        if self.ticker is not None:
            await self.ticker.stop()
        await self.feed.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def resync(self) -> None:
        """Reload every agent's state and every live call from Redis into the index."""
        ids = {a.id for a in self.roster.agents} | await self.store.known_agent_ids()
        for status in await self.store.load_agents(sorted(ids)):
            self.index.apply_agent(status)
        calls = await self.store.load_calls()
        now = self.clock()
        live = {c.call_id for c in calls}
        for call in calls:
            self.index.apply_call(call, now)
        for call_id, call in list(self.index.calls.items()):
            if call_id not in live:
                self.index.remove_call(call_id, call.version + 1, now)

    async def reload(self) -> None:
        """Re-read the roster and queue files; agents keep their state. Raises ConfigFileError
        (and keeps the current ones) when the files are invalid."""
        if not self.roster_path:
            raise AcdError("this ACD was not built from files; nothing to reload")
        roster = load_roster(self.roster_path)
        queues = load_queue_config(self.queues_path or queue_config_path_for(self.roster_path),
                                   default_wrapup_seconds=self.default_wrapup_seconds, roster=roster)
        self.apply_config(roster, queues)
        log.info("roster reloaded: %d agents, %d queues", len(roster.agents), len(queues.queues))
        for status in list(self.index.agents_in(AgentState.AVAILABLE)):
            await self._dispatch_agent(status.agent_id)  # new skills may fit waiting calls

    def apply_config(self, roster: Roster, queues: QueueConfig) -> None:
        queues.check_against(roster)
        dropped = [q for q in self.queues.names() if q not in queues.queues and self.index.waiting_count(q)]
        if dropped:  # their callers would be stranded: refuse, keep the current configuration
            raise QueueConfigError([f"{queues.path}: queue {q} still has {self.index.waiting_count(q)} waiting "
                                    f"call(s); keep it until they are served" for q in dropped])
        self.index.set_queues(queues)
        self.index.set_roster(roster)
        self.waiting.rematch_all()  # requirements may have changed without a relax step

    # -- the call layer's entry points --------------------------------------------------
    async def enqueue(self, call_id: str, channel: str, route: RouteRequest, customer: CustomerFacts | None = None
                      ) -> QueuedCall:
        """Queue a call the IVR has routed, and connect it at once if a suitable agent is free.

        The call's priority is the route's plus the customer's tier points (queues.yaml). A
        replayed enqueue of a live call returns it as is.
        """
        if not isinstance(route, RouteRequest):
            raise TypeError(f"enqueue needs a RouteRequest, not {type(route).__name__}")
        if customer is not None and not isinstance(customer, CustomerFacts):
            raise TypeError(f"enqueue needs CustomerFacts, not {type(customer).__name__}")
        queue, language = route.queue, route.language
        policy = self.queues.policy(queue)
        if policy is None:
            raise UnknownQueue(queue)
        facts = customer or CustomerFacts()
        now = self.clock()
        priority = matching.call_priority(route.priority, facts.tier, self.queues.tier_points)
        call = QueuedCall(call_id=call_id, channel=channel, queue=queue, skills=route.skills or policy.skills,
                          language=language, priority=priority, enqueued_at=now, queue_entered_at=now,
                          rank_key=matching.rank_key(now, priority, self.queues.aging_seconds_per_point),
                          customer=facts, owner=self.instance)
        if language is not None and language not in self.roster.all_languages():
            log.warning("call %s wants language %r, which no agent speaks", call_id, language)
        if await self.writer.commit(Change(call=CallWrite(None, call)), now) is None:
            existing = await self.store.load_call(call_id)
            if existing is not None:
                return existing
            raise AcdError(f"call {call_id} could not be queued")
        self.waiting.note(call, now)
        if self.dispatch_enabled and await self.dispatcher.place_call(call_id) is not None:
            return await self.store.load_call(call_id) or call
        await self.waiting.announce(call, now, force=True)
        return call

    async def agent_ringing(self, agent_id: str, call_id: str) -> None:
        await self.writer.settle(call_id, call_events.ringing(agent_id, call_id), agent_id=agent_id)

    async def agent_answered(self, agent_id: str, call_id: str) -> None:
        if await self.writer.settle(call_id, call_events.answered(agent_id, call_id), agent_id=agent_id) is None:
            log.warning("agent %s answered call %s, which was not offered to them", agent_id, call_id)

    async def ring_no_answer(self, agent_id: str, call_id: str) -> None:
        """The agent let it ring out: not ready ("RONA"), and the call goes back to the head of its queue."""
        done = await self.writer.settle(call_id, call_events.ring_no_answer(agent_id, call_id), agent_id=agent_id)
        if done is not None and done.call is not None:
            await self._dispatch_call(call_id)

    async def call_ended(self, call_id: str) -> None:
        """The connected call is over: the agent wraps up for the queue's wrap-up time, then is
        available again (by the tick, or earlier with end_wrapup)."""
        await self._call_over(call_id)

    async def caller_abandoned(self, call_id: str) -> None:
        """The caller hung up while waiting or while an agent's phone rang: the call leaves no
        trace and a booked agent is free at once."""
        await self._call_over(call_id)

    async def _call_over(self, call_id: str) -> None:
        done = await self.writer.settle(call_id, call_events.call_over(self._wrapup_seconds))
        self._forget_call(call_id)
        call = self.index.calls.get(call_id)
        if done is None and call is not None:  # gone from Redis already: do not offer it either
            self.index.remove_call(call_id, call.version + 1, self.clock())
        if done is not None and done.freed_agent is not None:
            await self._dispatch_agent(done.freed_agent.agent_id)

    def _wrapup_seconds(self, queue: str) -> float:
        policy = self.queues.policy(queue)
        return policy.wrapup_seconds if policy is not None else self.default_wrapup_seconds

    def after_call_work(self, queue: str) -> AfterCallWork:
        """The queue's after-call work (optional with the default time for a queue no longer configured)."""
        policy = self.queues.policy(queue)
        return policy.acw if policy is not None else AfterCallWork(seconds=self.default_wrapup_seconds)

    # -- the agent's own calls ----------------------------------------------------------
    async def start_outbound(self, agent_id: str, call_id: str) -> AgentStatus:
        """The agent is about to dial out: on a call now (raises AgentStateError unless they are
        available or not ready), so no inbound call is offered to them meanwhile."""
        if self.roster.agent(agent_id) is None:
            raise UnknownAgent(agent_id)
        _, new = await self.writer.change_agent(agent_id, lambda s, now: states.dialling_out(s, now, call_id))
        return new

    async def agent_leg_ended(self, agent_id: str, call_id: str, *, wrapup: bool = True) -> AgentStatus:
        """The agent's outbound call is over: wrap-up (or straight on, when it never connected)."""
        seconds = self.default_wrapup_seconds if wrapup else 0.0
        return await self._change_agent(agent_id, lambda s, now: states.leg_ended(s, now, call_id, seconds))

    async def transfer(self, call_id: str, from_agent: str, queue: str, *, required_agent: str | None = None,
                       ) -> QueuedCall:
        """Blind transfer: `from_agent` (who must be talking to the caller) wraps up, and the call
        waits again in `queue` (with that queue's skills and the caller's language), or for
        `required_agent` alone. Raises AcdError when the call is not theirs to transfer."""
        policy = self.queues.policy(queue)
        if policy is None:
            raise UnknownQueue(queue)
        if required_agent is not None and self.roster.agent(required_agent) is None:
            raise UnknownAgent(required_agent)
        current = await self.store.load_call(call_id)
        language = current.language if current is not None else None
        skills, language = ((), None) if required_agent else (policy.skills, language)
        decide = call_events.transferred(from_agent, queue, skills, language, required_agent, self._wrapup_seconds)
        done = await self.writer.settle(call_id, decide, agent_id=from_agent)
        if done is None:
            raise AcdError(f"call {call_id} is not connected to agent {from_agent}; only they may transfer it")
        moved = done.call.new
        self._forget_call(call_id)  # connect it again (a new version), announce it again
        self.waiting.note(moved, self.clock())
        await self._dispatch_call(call_id)  # first: the transferring agent is the last to get it back
        if done.freed_agent is not None:
            await self._dispatch_agent(from_agent)
        return await self.store.load_call(call_id) or moved

    # -- agent controls -----------------------------------------------------------------
    async def login(self, agent_id: str, *, ready: bool = True) -> AgentStatus:
        """Log in, available at once (or not ready with reason "login" when ready=False)."""
        if self.roster.agent(agent_id) is None:
            raise UnknownAgent(agent_id)
        return await self._change_agent(agent_id, lambda s, now: states.login(s, now, ready=ready))

    async def logout(self, agent_id: str) -> AgentStatus:
        """Log out now, or once the call in progress is done."""
        return await self._change_agent(agent_id, states.logout)

    async def ready(self, agent_id: str) -> AgentStatus:
        return await self._change_agent(agent_id, states.ready)

    async def not_ready(self, agent_id: str, reason: str = "break") -> AgentStatus:
        """Not ready with a reason code, now or once the call in progress is done."""
        return await self._change_agent(agent_id, lambda s, now: states.not_ready(s, now, reason))

    async def end_wrapup(self, agent_id: str) -> AgentStatus:
        """The agent ends their wrap-up. Raises AgentStateError while it is mandatory (it then
        ends only with a saved disposition, `disposition_saved`, or by its timer)."""
        return await self._change_agent(agent_id, acw.agent_ends_wrapup(self.after_call_work))

    async def disposition_saved(self, agent_id: str, call_id: str) -> AgentStatus:
        """The agent saved the wrap-up of `call_id`: their wrap-up of it ends now, in either mode."""
        return await self._change_agent(agent_id, acw.disposition_saved(call_id))

    def on_wrapup_timeout(self, listener: Callable[[acw.WrapupTimedOut], Any]) -> None:
        """Call `listener` (a coroutine function) when a mandatory wrap-up runs out of time on
        this instance; it records the queue's timeout disposition for the call."""
        self._wrapup_timeout_listeners.append(listener)

    def on_event(self, listener: Callable[[Event], None]) -> None:
        """Call `listener(event)` (plain, quick) for every event on the ACD's channel, this
        instance's and the others', once the ACD has applied it (e.g. the gateway's metrics)."""
        self._event_listeners.append(listener)

    async def _change_agent(self, agent_id: str, transition, now: float | None = None) -> AgentStatus:
        _, new = await self.writer.change_agent(agent_id, transition, now)
        if new.state is AgentState.AVAILABLE:
            await self._dispatch_agent(agent_id)
        # After a dispatch the agent may already be reserved; report what is true now.
        current = self.index.statuses.get(agent_id)
        return current if current is not None and current.version >= new.version else new

    # -- the history of agent states -----------------------------------------------------
    def state_recorder(self, sink: StateSink, *, unavailable: tuple[type[BaseException], ...] = (),
                       consumer: str | None = None, **options) -> StateRecorder:
        """This instance's recorder of agent state changes into `sink` (start() it; see state_log.py)."""
        return StateRecorder(self.store.redis, self.store.keys.agent_states, sink, consumer=consumer or self.instance,
                             unavailable=unavailable, **options)

    # -- wallboards ---------------------------------------------------------------------
    async def get_agent_state(self, agent_id: str) -> AgentStatus:
        """The agent's state as Redis has it now (logged_out if never logged in)."""
        return await self.store.load_agent(agent_id)

    async def agent_states(self) -> list[AgentStatus]:
        return await self.store.load_agents(a.id for a in self.roster.agents)

    async def queue_snapshot(self, queue: str) -> QueueSnapshot:
        policy = self.queues.policy(queue)
        if policy is None:
            raise UnknownQueue(queue)
        now = self.clock()
        members = await self.store.queue_members(queue)
        calls = {c.call_id: c for c in await self.store.load_calls([m for m, _ in members])}
        aging = self.queues.aging_seconds_per_point
        waiting = []
        for position, (call_id, _) in enumerate((m for m in members if m[0] in calls), start=1):
            call = calls[call_id]
            waiting.append(WaitingCallView(call_id, position, round(now - call.enqueued_at, 3),
                                           round(matching.effective_priority(call, now, aging), 3),
                                           call.language, call.skills, call.customer.tier))
        serving = [a.id for a in self.roster.agents
                   if all(s in a.skills for s in policy.skills) or (policy.team and a.team == policy.team)]
        by_state = {s.value: 0 for s in AgentState}
        for status in await self.store.load_agents(serving):
            by_state[status.state.value] += 1
        return QueueSnapshot(queue=queue, at=now, waiting=tuple(waiting),
                             longest_wait_seconds=max((w.waited_seconds for w in waiting), default=0.0),
                             agents_by_state=by_state)

    async def estimated_wait(self, queue: str) -> float | None:
        """How long a call joining `queue` now would wait, roughly (the IVR offers a call back on it)."""
        policy = self.queues.policy(queue)
        return None if policy is None else self.waiting.estimated_wait(policy, self.clock())

    # -- timers -------------------------------------------------------------------------
    async def tick(self, now: float | None = None) -> None:
        """Time-driven work: wrap-ups that end, offers nobody acted on, relax steps, outcomes
        and announcements of this instance's waiting calls."""
        now = self.clock() if now is None else now
        async with self._tick_lock:
            await self._end_wrapups(now)
            await self._take_back_stale_offers(now)
            await self.waiting.advance(now)
            self.index.forget_removed(now)

    async def _end_wrapups(self, now: float) -> None:
        for status in list(self.index.agents_in(AgentState.WRAP_UP)):
            if status.wrapup_until > now:
                continue
            old, new = await self.writer.change_agent(status.agent_id, states.expire_wrapup, now)
            if new is not old and old.state is AgentState.WRAP_UP:  # this instance's timer ended it
                timeout = acw.timed_out(old, self.after_call_work(old.queue))
                if timeout is not None:
                    await self._wrapup_timed_out(timeout)
            if new.state is AgentState.AVAILABLE:
                await self._dispatch_agent(status.agent_id)

    async def _wrapup_timed_out(self, timeout: acw.WrapupTimedOut) -> None:
        log.info("agent %s: mandatory wrap-up of call %s ran out; recording %s", timeout.agent_id,
                 timeout.call_id, timeout.disposition)
        for listener in list(self._wrapup_timeout_listeners):
            try:
                await listener(timeout)
            except Exception:
                log.exception("recording the timeout disposition of call %s failed", timeout.call_id)

    async def _take_back_stale_offers(self, now: float) -> None:
        # The call layer reports ringing and ring-no-answer; if those reports were lost (an AMI
        # outage), the agent must not stay booked forever.
        limit = self.ring_timeout + OFFER_GRACE_SECONDS
        offered = [*self.index.agents_in(AgentState.RESERVED), *self.index.agents_in(AgentState.RINGING)]
        for status in offered:
            if now - status.since >= limit:
                log.warning("agent %s %s for call %s since %.0fs without news: taking the offer back",
                            status.agent_id, status.state.value, status.call_id, now - status.since)
                await self.ring_no_answer(status.agent_id, status.call_id)

    # -- booking and connecting ---------------------------------------------------------
    async def _dispatch_agent(self, agent_id: str) -> None:
        if self.dispatch_enabled:
            await self.dispatcher.serve_agent(agent_id)
        else:  # a CLI or tool process: let the gateway instances match the agent
            await self.store.publish(messages.agent_wakeup_message(agent_id, self.instance))

    async def _dispatch_call(self, call_id: str) -> None:
        if self.dispatch_enabled:
            await self.dispatcher.place_call(call_id)

    async def _booked(self, call: QueuedCall, agent: Agent) -> None:
        self.waiting.forget(call.call_id)
        if call.owner == self.instance:
            await self._connect(call, agent)
        # else: the owner instance connects when it sees the reservation (_on_event)

    async def _connect(self, call: QueuedCall, agent: Agent) -> None:
        if self._connected_version.get(call.call_id) == call.version:
            return
        self._connected_version[call.call_id] = call.version
        if self.connector is None:
            log.error("call %s booked agent %s but this ACD has no connector", call.call_id, agent.id)
            return
        try:
            await self.connector.connect(call, agent)
        except (ConnectionError, TimeoutError) as exc:  # the link to Asterisk: retried, no trace needed
            log.warning("connecting call %s to agent %s failed: %s", call.call_id, agent.id, exc)
            await self._connect_failed(call, agent)
        except Exception:
            log.exception("connecting call %s to agent %s failed", call.call_id, agent.id)
            await self._connect_failed(call, agent)

    async def _connect_failed(self, booked: QueuedCall, agent: Agent) -> None:
        # The call waits out a backoff before its next attempt (QueuedCall.retry_at); the tick
        # matches it again once that is over, so nothing here waits for it.
        retry = self.connect_retry
        decide = call_events.connect_failed(agent.id, retry.attempts, lambda n: retry.delay(n, self._random))
        done = await self.writer.settle(booked.call_id, decide, agent_id=agent.id)
        if done is None:
            return
        if done.call.new is None:
            log.error("call %s: %d connect attempts failed; it leaves queue %s", booked.call_id, retry.attempts,
                      booked.queue)
            self._forget_call(booked.call_id)
            await self.waiting.offer_outcome(booked, QueueOutcome("connect_failed", booked.call_id, booked.queue))
        else:
            log.warning("call %s: connect attempt %d failed; next attempt in %.1f s", booked.call_id,
                        done.call.new.connect_failures, done.call.new.retry_at - self.clock())
        if done.freed_agent is not None:
            await self._dispatch_agent(agent.id)  # the agent may take another call meanwhile

    # -- events from every instance -----------------------------------------------------
    async def _on_event(self, event: Event) -> None:
        now = self.clock()
        if event.type == AGENT_STATE:
            self.index.apply_agent(event.agent_status)
        elif event.type == CALL_STATE:
            call = event.call
            self.index.apply_call(call, now)
            if (call.state is CallState.RESERVED and call.owner == self.instance
                    and event.instance != self.instance and call.agent_id):
                agent = self.roster.agent(call.agent_id)
                if agent is not None:
                    self.waiting.forget(call.call_id)
                    self._spawn(self._connect(call, agent))
        elif event.type == CALL_REMOVED:
            body = event.body
            self.index.remove_call(body["call_id"], int(body["version"]), now)
            self._forget_call(body["call_id"])
        elif event.type == AGENT_WAKEUP and self.dispatch_enabled and event.instance != self.instance:
            agent_id = event.body["agent_id"]
            self.index.apply_agent(await self.store.load_agent(agent_id), force=True)
            self._spawn(self.dispatcher.serve_agent(agent_id))
        for listener in self._event_listeners:
            try:
                listener(event)
            except Exception:
                log.exception("ACD event listener %r failed", listener)

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("ACD background work failed", exc_info=task.exception())

    def _forget_call(self, call_id: str) -> None:
        self.waiting.forget_for_good(call_id)
        self._connected_version.pop(call_id, None)
