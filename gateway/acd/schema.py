"""The roster (agents/roster.yaml) and queue policy (agents/queues.yaml) file formats, as
pydantic models: types, ranges, required and unknown keys, and the rules inside one entry.

Rules across entries or files (an agent id used twice, a queue's team exists, overflow
cycles) are checked by roster.py and queue_config.py on the validated values. The models
also give the JSON Schemas published in docs/schemas/.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, WithJsonSchema, \
    model_validator

from gateway.tiers import TIERS
from gateway.yamlfile import Findings

MIN_PROFICIENCY = 1
MAX_PROFICIENCY = 10
OUTCOMES = ("voicemail", "callback")
ACW_MODES = ("optional", "mandatory")
MAX_LABEL_LENGTH = 80

# ISO 639-1: the codes a caller's language (from the IVR) and an agent's languages use.
ISO_639_1 = frozenset("""
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy
da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu
hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb
lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om
or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw
ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
""".split())


def _as_text(value):
    # YAML reads `endpoint: 1001` as a number; ids and endpoints are text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value


def _one_or_many(value):
    return [value] if isinstance(value, str) else value


def _iso_639_1(code: str) -> str:
    if code not in ISO_639_1:
        raise ValueError(f"{code!r} is not an ISO 639-1 language code")
    return code


def _distinct(items: list) -> tuple:
    return tuple(dict.fromkeys(items))


_LANGUAGE_SCHEMA = {"type": "string", "pattern": "^[A-Za-z]{2}$"}
Id = Annotated[str, BeforeValidator(_as_text), Field(min_length=1),
               WithJsonSchema({"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer"}]})]
LanguageCode = Annotated[str, BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
                         AfterValidator(_iso_639_1), WithJsonSchema(_LANGUAGE_SCHEMA)]
Languages = Annotated[list[LanguageCode], BeforeValidator(_one_or_many), Field(min_length=1),
                      AfterValidator(_distinct),
                      WithJsonSchema({"anyOf": [_LANGUAGE_SCHEMA,
                                                {"type": "array", "minItems": 1, "items": _LANGUAGE_SCHEMA}]})]
Proficiency = Annotated[int, Strict(), Field(ge=MIN_PROFICIENCY, le=MAX_PROFICIENCY)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$")]
Number = Annotated[float, Strict()]  # 5 or 5.5; not "5", not true


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- agents/roster.yaml -------------------------------------------------------------------------

class TeamEntry(_Entry):
    id: Id
    name: str = ""
    supervisor: str = ""


class AgentEntry(_Entry):
    id: Id
    name: str = ""
    endpoint: Id = Field(description="the PJSIP endpoint the connect context dials, e.g. 1001")
    team: Id
    languages: Languages = Field(description="ISO 639-1 codes, e.g. [tr, en]")
    skills: dict[Name, Proficiency] = Field(min_length=1, description="skill -> proficiency 1..10")


class RosterFile(_Entry):
    """agents/roster.yaml: teams, and agents with their phones, languages and skills."""

    model_config = ConfigDict(title="ctigw roster")
    teams: list[TeamEntry] = Field(min_length=1)
    agents: list[AgentEntry] = Field(min_length=1)


# --- agents/queues.yaml -------------------------------------------------------------------------

class RelaxStepEntry(_Entry):
    after: Annotated[Number, Field(ge=0)] = Field(description="seconds of waiting in the queue")
    min_proficiency: Proficiency | None = None
    any_team_agent: Annotated[bool, Strict()] = False
    overflow: Name | None = Field(default=None, description="move the call to this queue")
    outcome: Literal[OUTCOMES] | None = Field(default=None, description="the call layer takes the call away")

    @property
    def is_terminal(self) -> bool:
        return self.overflow is not None or self.outcome is not None

    @model_validator(mode="after")
    def _one_thing_at_a_time(self):
        findings = []
        if self.overflow is not None and self.outcome is not None:
            findings.append((None, "a step either overflows or offers an outcome, not both"))
        if self.is_terminal and (self.min_proficiency is not None or self.any_team_agent):
            findings.append((None, "an overflow/outcome step cannot also relax requirements"))
        if not self.is_terminal and self.min_proficiency is None and not self.any_team_agent:
            findings.append((None, f"relax step at {self.after}s changes nothing"))
        if findings:
            raise Findings(findings)
        return self


def _printable_label(text: str) -> str:
    text = text.strip()
    if not text or not text.isprintable():
        raise ValueError("a label is one line of printable text")
    return text


Label = Annotated[str, Strict(), Field(max_length=MAX_LABEL_LENGTH), AfterValidator(_printable_label)]


class DispositionEntry(_Entry):
    """One wrap-up outcome an agent can pick, labelled in both interface languages."""

    code: Name = Field(max_length=64, description="what the CRM activity stores, e.g. resolved")
    tr: Label = Field(description="the label in Turkish")
    en: Label = Field(description="the label in English")


class AcwEntry(_Entry):
    """After-call work: the wrap-up time an agent gets once the caller has gone."""

    mode: Literal[ACW_MODES] = Field(default="optional", description=(
        "optional: the agent may end wrap-up at any time; mandatory: only by saving a disposition, "
        "and when the time runs out timeout_disposition is recorded"))
    seconds: Annotated[Number, Field(ge=0)] | None = Field(
        default=None, description="the wrap-up countdown; the queue's wrapup_seconds when left out")
    timeout_disposition: Name | None = Field(default=None, description="recorded when the time runs out")

    @model_validator(mode="after")
    def _mandatory_needs_a_limit_and_an_outcome(self):
        findings = []
        if self.mode == "mandatory" and self.timeout_disposition is None:
            findings.append(("timeout_disposition", "mandatory after-call work needs a timeout_disposition"))
        if self.mode == "mandatory" and (self.seconds is None or self.seconds <= 0):
            findings.append(("seconds", "mandatory after-call work needs its time limit: seconds > 0"))
        if findings:
            raise Findings(findings)
        return self


def _distinct_codes(entries: list[DispositionEntry]) -> list[DispositionEntry]:
    codes = [e.code for e in entries]
    doubled = sorted({c for c in codes if codes.count(c) > 1})
    if doubled:
        raise ValueError(f"disposition code(s) listed twice: {', '.join(doubled)}")
    return entries


class QueueSettingsEntry(_Entry):
    """What `defaults` may give every queue, and each queue may set for itself."""

    min_proficiency: Proficiency | None = None
    wrapup_seconds: Annotated[Number, Field(ge=0)] | None = None
    acw: AcwEntry | None = None
    dispositions: Annotated[list[DispositionEntry], Field(min_length=1), AfterValidator(_distinct_codes)] | None = \
        Field(default=None, description="the wrap-up outcomes agents of the queue choose from")
    affinity_wait_seconds: Annotated[Number, Field(ge=0)] | None = None
    announce_every_seconds: Annotated[Number, Field(ge=0)] | None = None
    expected_handle_seconds: Annotated[Number, Field(ge=1)] | None = None


class QueueEntry(QueueSettingsEntry):
    tr: Label | None = Field(default=None, description="the queue's name for Turkish-speaking agents (else its key)")
    en: Label | None = Field(default=None, description="the queue's name for English-speaking agents (else its key)")
    team: Id | None = None
    skills: Annotated[list[Name], BeforeValidator(_one_or_many), Field(min_length=1),
                      WithJsonSchema({"anyOf": [{"type": "string"},
                                                {"type": "array", "minItems": 1, "items": {"type": "string"}}]})]
    relax: list[RelaxStepEntry] = Field(default_factory=list,
                                        description="cumulative: a step keeps what earlier ones relaxed")


def _known_tier(tier: str) -> str:
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r} (tiers: {', '.join(TIERS)})")
    return tier


class PriorityEntry(_Entry):
    aging_seconds_per_point: Annotated[Number, Field(gt=0)] = 30.0
    fit_seconds_per_level: Annotated[Number, Field(ge=0)] = 0.0
    tiers: dict[Annotated[str, BeforeValidator(lambda v: str(v).lower()), AfterValidator(_known_tier)], Number] = \
        Field(default_factory=dict)


class QueuesFile(_Entry):
    """agents/queues.yaml: queue policy (wrap-up and dispositions, proficiency, relax steps, overflow, priority)."""

    model_config = ConfigDict(title="ctigw queue policy")
    priority: PriorityEntry = Field(default_factory=PriorityEntry)
    defaults: QueueSettingsEntry = Field(default_factory=QueueSettingsEntry)
    queues: dict[Name, QueueEntry] = Field(min_length=1)
