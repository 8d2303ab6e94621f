"""What a loaded IVR flow is: nodes of a few kinds, each knowing where it can lead.

The loader (`loader.py`) builds these from YAML; the engine runs them; the checker and the
graph read their `exits()`. Every node remembers the line it was written on so any problem
can be reported as `file:line: node: message`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import ClassVar

from gateway.routing import RouteRequest

DTMF_DIGITS = "0123456789*#"
OUTCOMES = ("route", "hangup", "voicemail", "callback", "abandoned")


@dataclass(frozen=True)
class Exit:
    """One edge of the flow graph: `label` is a digit, a condition or a word like `next`."""

    label: str
    target: str
    is_failure: bool = False  # failure edges are drawn dashed


@dataclass
class Node:
    id: str
    line: int
    prompt: tuple[str, ...] = ()
    kind: ClassVar[str] = "node"
    # Terminal nodes may end the flow (or, for `return`, the sub-flow) with an outcome.
    terminal: ClassVar[bool] = False
    # Nodes that can fail to serve the caller (retries run out, the CRM does not answer)
    # go to their on_failure, else the flow's, else hang up.
    can_fail: ClassVar[bool] = False

    def exits(self) -> list[Exit]:
        return []

    def prompts(self) -> list[str]:
        """Every sound this node may play, for the checker and the prompt builder."""
        return list(self.prompt)


@dataclass
class Retrying:
    """Fields shared by nodes that wait for the caller and may ask again."""

    can_fail: ClassVar[bool] = True

    timeout: float = 5.0  # seconds of silence before the no-input prompt
    retries: int = 2  # further attempts after the first one
    invalid_prompt: tuple[str, ...] = ()
    no_input_prompt: tuple[str, ...] = ()
    on_failure: str | None = None  # None: the flow's default ending (see Flow.on_failure)

    def retry_prompts(self) -> list[str]:
        return [*self.invalid_prompt, *self.no_input_prompt]

    def failure_exit(self) -> list[Exit]:
        return [Exit("failure", self.on_failure, True)] if self.on_failure else []


@dataclass
class PlayNode(Node):
    kind: ClassVar[str] = "play"
    next: str | None = None

    def exits(self):
        return [Exit("next", self.next)] if self.next else []


@dataclass
class MenuNode(Retrying, Node):
    kind: ClassVar[str] = "menu"
    choices: dict[str, str] = field(default_factory=dict)  # digit -> node id

    def exits(self):
        return [Exit(d, t) for d, t in self.choices.items()] + self.failure_exit()

    def prompts(self):
        return [*self.prompt, *self.retry_prompts()]


@dataclass
class CollectNode(Retrying, Node):
    kind: ClassVar[str] = "collect"
    min_length: int = 1
    max_length: int = 20
    terminator: str = "#"
    pattern: str | None = None  # regular expression the whole input must match
    luhn: bool = False
    check: str | None = None  # a CRM check, see engine.CRM_CHECKS
    sensitive: bool = False
    store: str | None = None  # variable name; defaults to the node id
    next: str | None = None

    @property
    def variable(self) -> str:
        return self.store or self.id

    def exits(self):
        return ([Exit("valid", self.next)] if self.next else []) + self.failure_exit()

    def prompts(self):
        return [*self.prompt, *self.retry_prompts()]


@dataclass(frozen=True)
class Condition:
    """All facts named must hold (AND). Unset facts are not tested."""

    known: bool | None = None
    tier: tuple[str, ...] | None = None  # "none" stands for a caller without a tier
    language: tuple[str, ...] | None = None  # the call's current language
    open_case: bool | None = None
    repeat_caller: bool | None = None
    queue_wait_over: tuple[str, float] | None = None  # (queue, seconds)

    def describe(self) -> str:
        parts = []
        for name in ("known", "open_case", "repeat_caller"):
            value = getattr(self, name)
            if value is not None:
                parts.append(name if value else f"not {name}")
        if self.tier is not None:
            parts.append("tier " + "|".join(self.tier))
        if self.language is not None:
            parts.append("language " + "|".join(self.language))
        if self.queue_wait_over is not None:
            parts.append(f"wait {self.queue_wait_over[0]} > {self.queue_wait_over[1]:g}s")
        return " and ".join(parts) or "always"


@dataclass
class BranchNode(Node):
    kind: ClassVar[str] = "branch"
    cases: list[tuple[Condition, str]] = field(default_factory=list)  # first match wins
    otherwise: str | None = None

    def exits(self):
        out = [Exit(c.describe(), t) for c, t in self.cases]
        return out + ([Exit("else", self.otherwise)] if self.otherwise else [])


@dataclass(frozen=True)
class Schedule:
    """Opening hours in one time zone, with whole-day holidays."""

    name: str
    timezone: str
    weekly: dict[int, tuple[tuple[dt.time, dt.time], ...]]  # weekday (0 = Monday) -> ranges
    holidays: frozenset[dt.date] = frozenset()


@dataclass
class HoursNode(Node):
    kind: ClassVar[str] = "hours"
    schedule: str = ""
    open: str | None = None
    closed: str | None = None

    def exits(self):
        out = [Exit("open", self.open)] if self.open else []
        return out + ([Exit("closed", self.closed)] if self.closed else [])


@dataclass
class LanguageNode(Retrying, Node):
    kind: ClassVar[str] = "language"
    choices: dict[str, str] = field(default_factory=dict)  # digit -> language code
    use_caller_language: bool = True  # a known caller's preference skips the question
    default: str | None = None  # language taken when retries run out (instead of on_failure)
    next: str | None = None

    def exits(self):
        out = [Exit(f"{d}: {lang}", self.next) for d, lang in self.choices.items()] if self.next else []
        if self.next and self.use_caller_language:
            out.append(Exit("caller's language", self.next))
        if self.next and self.default:
            out.append(Exit(f"default {self.default}", self.next, True))
        return out + ([] if self.default else self.failure_exit())

    def prompts(self):
        return [*self.prompt, *self.retry_prompts()]


@dataclass
class CaseStatusNode(Node):
    """Self-service: reads the caller's latest case from the CRM and speaks it."""

    kind: ClassVar[str] = "case_status"
    can_fail: ClassVar[bool] = True
    intro_prompt: tuple[str, ...] = ()  # "your case number"; then the case id is said digit by digit
    status_prompts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # status -> sounds
    unknown_status_prompt: tuple[str, ...] = ()
    none_prompt: tuple[str, ...] = ()  # no case on file
    count_prompt: tuple[str, ...] = ()  # "open cases:" followed by say_number(count)
    next: str | None = None
    on_failure: str | None = None  # the CRM could not answer

    def exits(self):
        out = [Exit("next", self.next)] if self.next else []
        return out + ([Exit("failure", self.on_failure, True)] if self.on_failure else [])

    def prompts(self):
        out = [*self.prompt, *self.intro_prompt, *self.unknown_status_prompt, *self.none_prompt, *self.count_prompt]
        for sounds in self.status_prompts.values():
            out.extend(sounds)
        return out


@dataclass
class VoicemailNode(Node):
    kind: ClassVar[str] = "voicemail"
    terminal: ClassVar[bool] = True
    mailbox: str | None = None  # VoiceMail(mailbox@context) if set, else Record to a file
    record_dir: str = "/var/spool/asterisk/ctigw-voicemail"
    format: str = "wav"
    max_seconds: int = 120
    silence_seconds: int = 5
    goodbye_prompt: tuple[str, ...] = ()

    def prompts(self):
        return [*self.prompt, *self.goodbye_prompt]


@dataclass
class CallbackNode(Retrying, Node):
    """Offers a call back: `accept` uses the calling number, `other_number` asks for one."""

    kind: ClassVar[str] = "callback"
    terminal: ClassVar[bool] = True  # accepting ends the flow; declining goes on
    accept: str = "1"
    other_number: str | None = None
    number_prompt: tuple[str, ...] = ()  # asks for the other number
    confirm_prompt: tuple[str, ...] = ()  # "we will call you back on"; then the number is said
    min_length: int = 7
    max_length: int = 15
    declined: str | None = None  # any other key, or silence

    def exits(self):
        return ([Exit("declined", self.declined)] if self.declined else []) + self.failure_exit()

    def prompts(self):
        return [*self.prompt, *self.number_prompt, *self.confirm_prompt, *self.retry_prompts()]


@dataclass
class RouteNode(Node):
    kind: ClassVar[str] = "route"
    terminal: ClassVar[bool] = True
    queue: str = ""
    skills: tuple[str, ...] = ()
    language: str | None = None  # None: the call's language
    priority: int = 0  # the IVR's; the ACD adds the caller's tier points (agents/queues.yaml)


@dataclass
class HangupNode(Node):
    kind: ClassVar[str] = "hangup"
    terminal: ClassVar[bool] = True


@dataclass
class SubflowNode(Node):
    kind: ClassVar[str] = "subflow"
    flow: str = ""  # name of another flow file in the same folder
    next: str | None = None  # where the caller goes when the sub-flow returns

    def exits(self):
        return [Exit(f"return from {self.flow}", self.next)] if self.next else []


@dataclass
class ReturnNode(Node):
    kind: ClassVar[str] = "return"
    terminal: ClassVar[bool] = True  # ends the sub-flow; the parent goes on


NODE_KINDS: dict[str, type[Node]] = {
    cls.kind: cls
    for cls in (PlayNode, MenuNode, CollectNode, BranchNode, HoursNode, LanguageNode, CaseStatusNode,
                VoicemailNode, CallbackNode, RouteNode, HangupNode, SubflowNode, ReturnNode)
}


@dataclass(frozen=True)
class PromptText:
    """What `ctigw prompts build` synthesises for one sound name.

    Normally one text per language, built to <out>/<lang>/ctigw/<name>.wav, so Asterisk
    plays the one in the channel's language. A `neutral` prompt has one text, built to
    <out>/ctigw/<name>.wav and played whatever the channel language (Asterisk looks in the
    channel's language folder, then in none): "Türkçe için 1'e basınız" before a language
    is chosen.
    """

    sound: str
    texts: dict[str, str]
    line: int
    neutral: bool = False


@dataclass
class Flow:
    name: str
    path: str
    start: str
    nodes: dict[str, Node]
    languages: tuple[str, ...] = ("tr", "en")
    default_language: str = "tr"
    max_steps: int = 200
    on_failure: str | None = None  # default ending for nodes without their own on_failure
    schedules: dict[str, Schedule] = field(default_factory=dict)
    # Sound name -> its text per language: what `ctigw prompts build` synthesises.
    prompt_texts: dict[str, PromptText] = field(default_factory=dict)
    # Sub-flows this flow (or its sub-flows) calls, loaded with it so a call never mixes versions.
    subflows: dict[str, "Flow"] = field(default_factory=dict)
    # Every file the flow was built from, with its mtime, so a registry knows when to reload.
    sources: dict[str, float] = field(default_factory=dict)

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def failure_target(self, node: Node) -> str | None:
        """Where `node` sends a caller it could not serve: its own on_failure, else the
        flow's; None when it cannot fail or would hang up."""
        if not node.can_fail or getattr(node, "default", None):
            return None
        return getattr(node, "on_failure", None) or self.on_failure

    def all_flows(self) -> list["Flow"]:
        """This flow and every sub-flow it may enter, each once."""
        seen: dict[str, Flow] = {}
        pending = [self]
        while pending:
            flow = pending.pop()
            if flow.path in seen:
                continue
            seen[flow.path] = flow
            pending.extend(flow.subflows.values())
        return list(seen.values())


@dataclass
class FlowResult:
    outcome: str  # one of OUTCOMES
    route: RouteRequest | None = None
    path: list[str] = field(default_factory=list)  # node ids in order; sub-flow nodes as "flow:node"
    inputs: dict[str, str] = field(default_factory=dict)  # what the caller keyed; sensitive values masked
    language: str | None = None
    callback_number: str | None = None
    error: str | None = None
