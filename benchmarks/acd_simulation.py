"""Routing quality: the gateway's ACD against Asterisk app_queue's strategies, and against
Erlang C, in a discrete-event simulation of one contact-centre day.

    .venv/bin/python benchmarks/acd_simulation.py [--hours 24] [--agents 100] [--loads 0.66,0.72,0.75]
                                                  [--seeds 3] [--erlang-calls 200000]

Traffic: Poisson arrivals; five skills (billing, tech_support, sales, complaints, general)
in Turkish and English; 10 % of calls need a second skill; log-normal talk times per skill;
callers hang up after an exponentially distributed patience (mean 180 s); agents answer
2-6 s after the phone starts ringing; 10 s wrap-up. Agents have a primary skill (proficiency
4-10), up to two secondary skills (1-7), one or two languages, and a team per primary skill.
A less proficient agent talks longer: talk time x (1 + 0.05 x (10 - proficiency)), and
x 1.6 for a skill the agent lacks.

Routers, all on the same calls (same arrivals, talk-time draws and patience):
  ours        the gateway's DispatchIndex + matching.best_agent / best_call (the code the
              gateway runs), with the relax steps below
  app_queue   one queue per (primary skill, language), since app_queue has no language
              attribute; every agent who speaks the language and has the skill is a member
              with penalty 10 - proficiency, agents of the skill's team without it are
              members with penalty 10 (backups). A call rings the available members with the
              lowest penalty, chosen by the strategy: ringall (all of them ring, the first to
              answer wins, the others were tied up meanwhile), leastrecent (longest since
              their last call), fewestcalls (fewest calls answered in this queue), rrmemory
              (round robin, remembering where it stopped). A member who frees up takes the
              head call of one of their queues with callers waiting (app_queue has no
              priority across queues: whichever caller polls first, modelled as a random pick).

Single-skill check: one skill, one language, identical agents, exponential talk, no ring
time, wrap-up or abandonment: the M/M/N queue Erlang C describes exactly.
"""
from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.acd import matching  # noqa: E402
from gateway.acd.index import DispatchIndex  # noqa: E402
from gateway.acd.model import QueuedCall  # noqa: E402
from gateway.acd.queue_config import QueueConfig, QueuePolicy, RelaxStep  # noqa: E402
from gateway.acd.roster import Agent, Roster, Team  # noqa: E402
from gateway.acd.states import AgentState, AgentStatus  # noqa: E402

SERVICE_SECONDS = 20.0
EXPERT = 7
SKILLS = {  # share of calls, mean talk seconds
    "billing": (0.35, 200.0), "tech_support": (0.30, 300.0), "sales": (0.15, 240.0),
    "complaints": (0.10, 360.0), "general": (0.10, 150.0),
}
LANGUAGES = {"tr": 0.7, "en": 0.3}
SECOND_SKILL_SHARE = 0.10
PATIENCE_MEAN = 180.0
RING_SECONDS = (2.0, 6.0)
WRAPUP_SECONDS = 10.0
UNSKILLED_FACTOR = 1.6
BACKUP_PENALTY = 10


# -- traffic and staff ---------------------------------------------------------------------

@dataclass(frozen=True)
class SimCall:
    id: int
    at: float
    skills: tuple[str, ...]
    language: str
    talk: float  # talk seconds with a fully proficient agent
    patience: float


def talk_factor(agent: Agent, call: SimCall) -> float:
    factor = 1.0
    for skill in call.skills:
        level = agent.skills.get(skill, 0)
        factor = max(factor, UNSKILLED_FACTOR if level == 0 else 1 + 0.05 * (10 - level))
    return factor


def make_staff(n: int, rng: random.Random) -> Roster:
    skills = list(SKILLS)
    # Staff each primary skill in proportion to the work it brings (share x talk time).
    work = {s: share * talk for s, (share, talk) in SKILLS.items()}
    total = sum(work.values())
    agents = []
    for skill in skills:
        for _ in range(round(n * work[skill] / total)):
            k = len(agents)
            own = {skill: rng.randint(4, 10)}
            for extra in rng.sample([s for s in skills if s != skill], rng.choice((0, 1, 1, 2))):
                own[extra] = rng.randint(1, 7)
            langs = rng.choices([("tr",), ("en",), ("tr", "en")], weights=(55, 20, 25))[0]
            agents.append(Agent(f"a{k:03d}", f"agent {k}", f"{1000 + k}", skill, langs, own))
    return Roster(tuple(Team(s, s) for s in skills), tuple(agents))


def make_calls(hours: float, rate: float, rng: random.Random) -> list[SimCall]:
    calls, t, n = [], 0.0, 0
    names = list(SKILLS)
    weights = [SKILLS[s][0] for s in names]
    while True:
        t += rng.expovariate(rate)
        if t > hours * 3600:
            return calls
        primary = rng.choices(names, weights)[0]
        skills = (primary,)
        if rng.random() < SECOND_SKILL_SHARE:
            skills += (rng.choice([s for s in names if s != primary]),)
        mean = SKILLS[primary][1]
        sigma = 0.6
        talk = rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)
        calls.append(SimCall(n, t, skills, rng.choices(list(LANGUAGES), list(LANGUAGES.values()))[0], talk,
                             rng.expovariate(1 / PATIENCE_MEAN)))
        n += 1


def offered_erlangs(calls: list[SimCall], hours: float) -> float:
    return sum(c.talk for c in calls) / (hours * 3600)


# -- the simulation --------------------------------------------------------------------------

@dataclass
class AgentRun:
    agent: Agent
    free: bool = True
    last_call_end: float = 0.0
    busy_since: float = 0.0
    busy_total: float = 0.0


@dataclass
class CallRun:
    call: SimCall
    waiting: bool = True
    answered_at: float | None = None
    agent: Agent | None = None
    abandoned: bool = False


@dataclass
class Results:
    name: str
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    within_sl: int = 0
    waits: list[float] = field(default_factory=list)
    fully_skilled: int = 0
    expert: int = 0
    proficiency: list[float] = field(default_factory=list)
    occupancy: list[float] = field(default_factory=list)


class Simulation:
    """Events: arrival, abandon, ring answered, talk ended, wrap-up ended, requirements changed."""

    def __init__(self, router, roster: Roster, calls: list[SimCall], seed: int, *, ring=RING_SECONDS,
                 wrapup=WRAPUP_SECONDS, patience=True, warmup: float = 1800.0):
        self.router = router
        self.agents = {a.id: AgentRun(a) for a in roster.agents}
        self.calls = calls
        self.rng = random.Random(seed)
        self.ring = ring
        self.wrapup = wrapup
        self.patience = patience
        self.warmup = warmup
        self.events: list = []
        self.seq = 0
        self.now = 0.0
        self.runs: dict[int, CallRun] = {}
        router.bind(self)

    def at(self, when: float, kind: str, *payload) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, self.seq, kind, payload))

    def run(self) -> Results:
        for call in self.calls:
            self.at(call.at, "arrive", call)
        end = self.calls[-1].at if self.calls else 0.0
        while self.events:
            self.now, _, kind, payload = heapq.heappop(self.events)
            getattr(self, "_" + kind)(*payload)
        return self._results(end)

    # events
    def _arrive(self, call: SimCall) -> None:
        run = self.runs[call.id] = CallRun(call)
        if self.patience:
            self.at(call.at + call.patience, "abandon", run)
        self.router.arrived(run)

    def _abandon(self, run: CallRun) -> None:
        if run.waiting:
            run.waiting = False
            run.abandoned = True
            self.router.abandoned(run)

    def _answered(self, run: CallRun, winner: AgentRun, rung: list[AgentRun]) -> None:
        run.answered_at = self.now
        run.agent = winner.agent
        self.at(self.now + run.call.talk * talk_factor(winner.agent, run.call), "talk_ended", winner)
        for other in rung:
            if other is not winner:
                self._free(other)

    def _talk_ended(self, agent: AgentRun) -> None:
        agent.last_call_end = self.now
        if self.wrapup > 0:
            self.at(self.now + self.wrapup, "wrapup_ended", agent)
        else:
            self._free(agent)

    def _wrapup_ended(self, agent: AgentRun) -> None:
        self._free(agent)

    def _reevaluate(self, run: CallRun) -> None:
        if run.waiting:
            self.router.reevaluate(run)

    # actions for routers
    def offer(self, run: CallRun, agents: list[AgentRun]) -> None:
        """Ring these agents for the call; the quickest to answer takes it."""
        run.waiting = False
        delays = [self.rng.uniform(*self.ring) if self.ring else 0.0 for _ in agents]
        for agent in agents:
            agent.free = False
            agent.busy_since = self.now
        winner = agents[delays.index(min(delays))]
        self.at(self.now + min(delays), "answered", run, winner, agents)

    def _free(self, agent: AgentRun) -> None:
        agent.free = True
        agent.busy_total += self.now - max(agent.busy_since, self.warmup) if self.now > self.warmup else 0.0
        self.router.agent_free(agent)

    def _results(self, end: float) -> Results:
        res = Results(self.router.name)
        for run in self.runs.values():
            call = run.call
            if call.at < self.warmup:
                continue
            res.offered += 1
            if run.abandoned:
                res.abandoned += 1
            elif run.answered_at is not None:
                res.answered += 1
                wait = run.answered_at - call.at
                res.waits.append(wait)
                res.within_sl += wait <= SERVICE_SECONDS
                agent = run.agent
                levels = [agent.skills.get(s, 0) for s in call.skills]
                res.fully_skilled += agent.speaks(call.language) and min(levels) > 0
                res.expert += min(levels) >= EXPERT
                res.proficiency.append(min(levels))
        span = max(1.0, end - self.warmup)
        res.occupancy = [min(1.0, a.busy_total / span) for a in self.agents.values()]
        return res


# -- routers -------------------------------------------------------------------------------

class OurAcd:
    """The gateway's own decisions: DispatchIndex feeds matching.best_agent / best_call."""

    name = "ours (gateway ACD)"

    def __init__(self, roster: Roster, queues: QueueConfig):
        self.index = DispatchIndex(roster, queues)
        self.versions: dict[str, int] = {}
        self.call_runs: dict[str, CallRun] = {}

    def bind(self, sim: Simulation) -> None:
        self.sim = sim
        for agent_id in sim.agents:
            self._set(agent_id, AgentState.AVAILABLE, 0.0)

    def _set(self, agent_id: str, state: AgentState, since: float) -> None:
        version = self.versions[agent_id] = self.versions.get(agent_id, 0) + 1
        self.index.apply_agent(AgentStatus(agent_id, state, since, version=version))

    def _queued(self, run: CallRun) -> QueuedCall:
        c = run.call
        return QueuedCall(str(c.id), "", c.skills[0], c.skills, c.language, 0.0, c.at, c.at, c.at)

    def arrived(self, run: CallRun) -> None:
        call = self._queued(run)
        self.call_runs[call.call_id] = run
        self.index.apply_call(call, self.sim.now)
        self._place(call)

    def _place(self, call: QueuedCall) -> None:
        agent = self.index.best_agent_for(call, self.sim.now)
        if agent is not None:
            self._book(call, agent)
            return
        change = matching.next_change_at(call, self.index.policy(call.queue), self.sim.now)
        if change is not None:
            self.sim.at(change, "reevaluate", self.call_runs[call.call_id])

    def _book(self, call: QueuedCall, agent: Agent) -> None:
        self._set(agent.id, AgentState.RESERVED, self.sim.now)
        self.index.remove_call(call.call_id, call.version + 1, self.sim.now)
        self.sim.offer(self.call_runs.pop(call.call_id), [self.sim.agents[agent.id]])

    def reevaluate(self, run: CallRun) -> None:
        call = self.index.calls.get(str(run.call.id))
        if call is not None:
            self._place(call)

    def abandoned(self, run: CallRun) -> None:
        call_id = str(run.call.id)
        self.call_runs.pop(call_id, None)
        self.index.remove_call(call_id, 2, self.sim.now)

    def agent_free(self, agent: AgentRun) -> None:
        self._set(agent.agent.id, AgentState.AVAILABLE, self.sim.now)
        call = self.index.best_call_for(agent.agent.id, self.sim.now)
        if call is not None:
            self._book(call, agent.agent)


class AppQueue:
    """app_queue with penalties standing in for skills (see the module docstring)."""

    def __init__(self, roster: Roster, strategy: str):
        self.name = f"app_queue {strategy}"
        self.strategy = strategy
        self.members: dict[tuple[str, str], list[tuple[Agent, int]]] = {}
        self.queues_of: dict[str, list[tuple[str, str]]] = {a.id: [] for a in roster.agents}
        for skill in SKILLS:
            for lang in LANGUAGES:
                members = []
                for agent in roster.agents:
                    if not agent.speaks(lang):
                        continue
                    if skill in agent.skills:
                        members.append((agent, 10 - agent.skills[skill]))
                    elif agent.team == skill:
                        members.append((agent, BACKUP_PENALTY))
                self.members[(skill, lang)] = members
                for agent, _ in members:
                    self.queues_of[agent.id].append((skill, lang))
        self.waiting: dict[tuple[str, str], deque[CallRun]] = {q: deque() for q in self.members}
        self.calls_in_queue: dict[tuple[tuple[str, str], str], int] = {}
        self.rr_position: dict[tuple[str, str], int] = {}

    def bind(self, sim: Simulation) -> None:
        self.sim = sim
        self.pick_rng = random.Random(sim.rng.random())

    def _queue(self, run: CallRun) -> tuple[str, str]:
        return (run.call.skills[0], run.call.language)

    def arrived(self, run: CallRun) -> None:
        queue = self._queue(run)
        if not self._ring(queue, run):
            self.waiting[queue].append(run)

    def reevaluate(self, run: CallRun) -> None:
        pass

    def abandoned(self, run: CallRun) -> None:
        self.waiting[self._queue(run)].remove(run)

    def agent_free(self, agent: AgentRun) -> None:
        queues = [q for q in self.queues_of[agent.agent.id] if self.waiting[q]]
        if queues:
            queue = self.pick_rng.choice(queues)
            run = self.waiting[queue].popleft()
            if not self._ring(queue, run):
                self.waiting[queue].appendleft(run)

    def _ring(self, queue: tuple[str, str], run: CallRun) -> bool:
        agents = self.sim.agents
        free = [(a, p) for a, p in self.members[queue] if agents[a.id].free]
        if not free:
            return False
        lowest = min(p for _, p in free)
        tier = [a for a, p in free if p == lowest]
        if self.strategy == "ringall":
            chosen = tier
        elif self.strategy == "leastrecent":
            chosen = [min(tier, key=lambda a: (agents[a.id].last_call_end, a.id))]
        elif self.strategy == "fewestcalls":
            chosen = [min(tier, key=lambda a: (self.calls_in_queue.get((queue, a.id), 0), a.id))]
        elif self.strategy == "rrmemory":
            order = [a for a, _ in self.members[queue]]
            start = self.rr_position.get(queue, -1)
            in_tier = {a.id for a in tier}
            for step in range(1, len(order) + 1):
                candidate = order[(start + step) % len(order)]
                if candidate.id in in_tier:
                    self.rr_position[queue] = (start + step) % len(order)
                    chosen = [candidate]
                    break
        else:
            raise ValueError(self.strategy)
        self.sim.offer(run, [agents[a.id] for a in chosen])
        if len(chosen) == 1:
            key = (queue, chosen[0].id)
            self.calls_in_queue[key] = self.calls_in_queue.get(key, 0) + 1
        return True


OUR_POLICY = "min proficiency 2, 1 after 5 s, any team agent after 10 s; fit 6 s per proficiency level"


def our_policies() -> QueueConfig:
    """The relax steps for this traffic (see OUR_POLICY); the language is never relaxed."""
    relax = (RelaxStep(5, min_proficiency=1), RelaxStep(10, any_team_agent=True))
    return QueueConfig({s: QueuePolicy(s, (s,), team=s, min_proficiency=2, relax=relax) for s in SKILLS},
                       aging_seconds_per_point=30.0, fit_seconds_per_level=6.0)


# -- Erlang C ---------------------------------------------------------------------------------

def erlang_c(agents: int, erlangs: float) -> float:
    """Probability that a call waits (M/M/N), via the stable Erlang B recursion."""
    b = 1.0
    for n in range(1, agents + 1):
        b = erlangs * b / (n + erlangs * b)
    rho = erlangs / agents
    return b / (1 - rho + rho * b)


def erlang_c_figures(agents: int, rate: float, handle: float, target: float) -> tuple[float, float]:
    erlangs = rate * handle
    pw = erlang_c(agents, erlangs)
    drain = agents / handle - rate
    return 1 - pw * math.exp(-drain * target), pw / drain  # service level, ASA


# -- reporting ---------------------------------------------------------------------------------

def summarise(results: list[Results]) -> dict[str, float]:
    """Figures pooled over the seeds."""
    offered = sum(r.offered for r in results)
    answered = sum(r.answered for r in results)
    waits = [w for r in results for w in r.waits]
    occupancy = [o for r in results for o in r.occupancy]
    ordered = sorted(occupancy)
    return {
        "sl": sum(r.within_sl for r in results) / offered,
        "asa": statistics.mean(waits) if waits else 0.0,
        "abandon": sum(r.abandoned for r in results) / offered,
        "skilled": sum(r.fully_skilled for r in results) / answered,
        "expert": sum(r.expert for r in results) / answered,
        "prof": statistics.mean(p for r in results for p in r.proficiency),
        "occ_mean": statistics.mean(occupancy),
        "occ_p10": ordered[len(ordered) // 10],
        "occ_p90": ordered[len(ordered) * 9 // 10],
        "occ_sd": statistics.pstdev(occupancy),
        "offered": offered,
    }


def print_table(rows: list[tuple[str, dict[str, float]]]) -> None:
    print(f"  {'router':<24} {'SL 20s':>7} {'ASA':>7} {'aband.':>7} {'fully':>7} {'prof>=7':>8} {'min prof':>8}"
          f" {'occupancy mean  p10-p90   sd':>30}")
    for name, f in rows:
        print(f"  {name:<24} {f['sl']:7.1%} {f['asa']:6.1f}s {f['abandon']:7.1%} {f['skilled']:7.1%} "
              f"{f['expert']:8.1%} {f['prof']:8.2f}    {f['occ_mean']:6.1%} {f['occ_p10']:6.1%}-{f['occ_p90']:<6.1%}"
              f" {f['occ_sd']:6.3f}")


def multi_skill(args, load: float) -> None:
    routers = [lambda roster: OurAcd(roster, our_policies())] + \
              [lambda roster, s=s: AppQueue(roster, s) for s in ("ringall", "leastrecent", "fewestcalls", "rrmemory")]
    per_router: list[list[Results]] = [[] for _ in routers]
    sizes = []
    for seed in range(args.seeds):
        rng = random.Random(1000 + seed)
        roster = make_staff(args.agents, rng)
        # Offered talk load = `load` x agents, before ring time, wrap-up and slower agents.
        mean_talk = sum(share * talk for share, talk in SKILLS.values())
        calls = make_calls(args.hours, load * len(roster.agents) / mean_talk, rng)
        sizes.append((len(roster.agents), len(calls), offered_erlangs(calls, args.hours)))
        for i, make in enumerate(routers):
            per_router[i].append(Simulation(make(roster), roster, calls, seed=seed).run())
    agents, n_calls, erlangs = sizes[0]
    print(f"\nmulti-skill, talk load {load:.0%}: {agents} agents, {args.hours:g} h x {args.seeds} seeds, "
          f"~{n_calls:,} calls per seed, {erlangs:.1f} erlangs of talk at full proficiency "
          f"(+ ring, wrap-up, slower agents)")
    print_table([(results[0].name, summarise(results)) for results in per_router])


def single_skill(args) -> None:
    agents, handle = args.erlang_agents, 180.0
    rate = args.erlang_load * agents / handle
    rng = random.Random(42)
    calls, t = [], 0.0
    for n in range(args.erlang_calls):
        t += rng.expovariate(rate)
        calls.append(SimCall(n, t, ("general",), "tr", rng.expovariate(1 / handle), math.inf))
    roster = Roster((Team("general", "general"),),
                    tuple(Agent(f"a{k}", f"a{k}", str(k), "general", ("tr",), {"general": 10}) for k in range(agents)))
    queues = QueueConfig({"general": QueuePolicy("general", ("general",), min_proficiency=1)})
    rows = []
    for router in (OurAcd(roster, queues), AppQueue(roster, "leastrecent")):
        res = Simulation(router, roster, calls, seed=1, ring=None, wrapup=0.0, patience=False,
                         warmup=calls[len(calls) // 20].at).run()
        rows.append((router.name, summarise([res])))
    sl, asa = erlang_c_figures(agents, rate, handle, SERVICE_SECONDS)
    print(f"\nsingle skill, M/M/N: {agents} agents, {args.erlang_load * agents:.1f} erlangs "
          f"({args.erlang_load:.0%} occupancy), mean handle {handle:.0f} s, {len(calls):,} calls, no abandonment")
    print_table(rows)
    print(f"  {'Erlang C':<24} {sl:7.1%} {asa:6.1f}s")
    for name, f in rows:
        print(f"  {name}: service level {(f['sl'] - sl) * 100:+.1f} points, ASA {(f['asa'] - asa) / asa:+.1%} "
              f"against Erlang C")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--loads", default="0.66,0.72,0.75",
                        help="talk loads per agent at full proficiency, comma-separated")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--erlang-agents", type=int, default=20)
    parser.add_argument("--erlang-load", type=float, default=0.85)
    parser.add_argument("--erlang-calls", type=int, default=200_000)
    args = parser.parse_args()
    print(f"{len(SKILLS)} skills, {len(LANGUAGES)} languages, {SECOND_SKILL_SHARE:.0%} of calls need two skills; "
          f"patience mean {PATIENCE_MEAN:.0f} s; ring {RING_SECONDS[0]:g}-{RING_SECONDS[1]:g} s; "
          f"wrap-up {WRAPUP_SECONDS:g} s")
    print(f"ours: {OUR_POLICY}; the language is always required")
    print("SL 20s = answered within 20 s / offered; fully = answered by an agent with every skill the call needs "
          "(and its language); prof>=7 = proficiency >= 7 in all of them; min prof = mean weakest proficiency "
          "(0 = lacks a skill); occupancy = per agent, busy (ringing, talking, wrap-up) / time")
    for load in (float(x) for x in args.loads.split(",")):
        multi_skill(args, load)
    single_skill(args)


if __name__ == "__main__":
    main()
