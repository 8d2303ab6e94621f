"""The IVR flow file format (ivr_flows/*.yaml) as pydantic models.

Each value type says what it accepts in the words `ctigw flows check` prints; each node kind
is a model keyed by `type`, with the rules that span its keys. What depends on the rest of
the flow (the flow's languages, its schedules' names) comes from the validation context;
what depends on other nodes or files (a `next` that exists, a sub-flow file) is checked by
loader.py and checker.py. The models also give docs/schemas/flow.schema.json.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal, Union

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, WithJsonSchema,
                      model_validator)

from gateway.ivr import hours
from gateway.ivr.model import DTMF_DIGITS
from gateway.ivr.validation import CRM_CHECKS
from gateway.tiers import NO_TIER
from gateway.tiers import TIERS as CUSTOMER_TIERS
from gateway.yamlfile import Findings

TIERS = (*CUSTOMER_TIERS, NO_TIER)  # what a `tier` condition may name
DEFAULT_LANGUAGES = ("tr", "en")
# An Asterisk sound name: a path without a file extension (Asterisk picks the format).
SOUND_NAME = r"^(?!.*\.[^/]*$)[A-Za-z0-9_][A-Za-z0-9_\-./]*$"
NAME = r"^[A-Za-z_][A-Za-z0-9_\-]*$"
LANGUAGE = r"^[a-z]{2,3}(_[A-Za-z]{2})?$"


def _flow_languages(info: ValidationInfo) -> tuple[str, ...]:
    return tuple((info.context or {}).get("languages") or DEFAULT_LANGUAGES)


# --- value types: each parser returns the value or raises ValueError with what was expected --

def _sounds(value) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, str) or not re.match(SOUND_NAME, item):
            raise ValueError(f"{item!r} is not an Asterisk sound name (like vm-goodbye or ctigw/welcome, no extension)")
    return tuple(items)


def _node_ref(value) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a node id, got {value!r}")
    return value


def _whole(low: int, high: int):
    def parse(value) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}, got {value!r}")
        return int(value)
    return parse


def _seconds(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 120:
        raise ValueError(f"expected seconds (0 < s <= 120), got {value!r}")
    return float(value)


def _bool(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _text(value) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value) == "":
        raise ValueError(f"expected text, got {value!r}")
    return str(value)


def _digit(value) -> str:
    digit = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else None
    if digit is None or len(digit) != 1 or digit not in DTMF_DIGITS:
        raise ValueError(f"{value!r} is not one DTMF key (0-9, \"*\", \"#\")")
    return digit


def _language(value, info: ValidationInfo) -> str:
    languages = _flow_languages(info)
    if not isinstance(value, str) or value not in languages:
        raise ValueError(f"{value!r} is not one of the flow's languages {list(languages)}")
    return value


def _languages(value, info: ValidationInfo) -> tuple[str, ...]:
    return tuple(_language(x, info) for x in (value if isinstance(value, list) else [value]))


def _language_codes(value) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(x, str) and re.match(LANGUAGE, x) for x in items):
        raise ValueError(f"expected language codes like [tr, en], got {value!r}")
    return tuple(items)


def _pattern(value) -> str:
    try:
        re.compile(str(value))
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return str(value)


def _crm_check(value) -> str:
    if value not in CRM_CHECKS:
        raise ValueError(f"unknown CRM check {value!r} (known: {', '.join(CRM_CHECKS)})")
    return value


def _terminator(value) -> str:
    if value != "#":
        raise ValueError("only \"#\" can end digit entry (Asterisk's GET DATA)")
    return value


def _name(value) -> str:
    if not isinstance(value, str) or not re.match(NAME, value):
        raise ValueError(f"{value!r} is not a name (letters, digits, _ and -)")
    return value


def _skills(value) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(s, str) and re.match(NAME, s) for s in items):
        raise ValueError(f"expected a list of skill names, got {value!r}")
    return tuple(items)


def _schedule_ref(value, info: ValidationInfo) -> str:
    schedules = (info.context or {}).get("schedules", ())
    if value not in schedules:
        raise ValueError(f"unknown schedule {value!r} (schedules: {', '.join(schedules) or 'none defined'})")
    return value


def _tiers(value) -> tuple[str, ...]:
    tiers = tuple(str(t) if t is not None else "none" for t in (value if isinstance(value, list) else [value]))
    if not tiers or any(t not in TIERS for t in tiers):
        raise ValueError(f"tier: expected some of {', '.join(TIERS)}, got {value!r}")
    return tiers


def _timezone(value) -> str:
    hours.check_timezone(value)
    return str(value)


def _holidays(value) -> tuple[dt.date, ...]:
    if value is None:
        return ()
    out = []
    for day in value if isinstance(value, list) else [value]:
        try:
            out.append(day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)))
        except ValueError:
            raise ValueError(f"holiday {day!r} is not a date like 2026-01-01") from None
    return tuple(out)


def _raise(message: str):
    raise ValueError(message)


def _mapping(what: str):
    def check(value):
        if not isinstance(value, dict) or not value:
            raise ValueError(what)
        return value
    return check


def _one_or_many(item_schema: dict) -> dict:
    return {"anyOf": [item_schema, {"type": "array", "minItems": 1, "items": item_schema}]}


_SOUND_SCHEMA = {"type": "string", "pattern": SOUND_NAME}
_DIGIT_SCHEMA = {"anyOf": [{"type": "string", "pattern": r"^[0-9*#]$"}, {"type": "integer", "minimum": 0,
                                                                           "maximum": 9}]}
_LANGUAGE_SCHEMA = {"type": "string", "pattern": LANGUAGE}

Sounds = Annotated[tuple[str, ...], BeforeValidator(_sounds), WithJsonSchema(_one_or_many(_SOUND_SCHEMA))]
NodeRef = Annotated[str, BeforeValidator(_node_ref), WithJsonSchema({"type": "string", "minLength": 1})]
Seconds = Annotated[float, BeforeValidator(_seconds),
                    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 120})]
Flag = Annotated[bool, BeforeValidator(_bool)]
Text = Annotated[str, BeforeValidator(_text), WithJsonSchema({"type": ["string", "integer"]})]
Digit = Annotated[str, BeforeValidator(_digit), WithJsonSchema(_DIGIT_SCHEMA)]
FlowLanguage = Annotated[str, BeforeValidator(_language), WithJsonSchema(_LANGUAGE_SCHEMA)]
Name = Annotated[str, BeforeValidator(_name), WithJsonSchema({"type": "string", "pattern": NAME})]


def Whole(low: int, high: int):  # noqa: N802 - a type
    return Annotated[int, BeforeValidator(_whole(low, high)),
                     WithJsonSchema({"type": "integer", "minimum": low, "maximum": high})]


def DigitMap(value_type, value_schema: dict):  # noqa: N802 - a type
    return Annotated[dict[Digit, value_type],
                     BeforeValidator(_mapping("expected a mapping of keys to what they do, like {1: billing}")),
                     WithJsonSchema({"type": "object", "minProperties": 1,
                                     "propertyNames": {"pattern": r"^[0-9*#]$"},
                                     "additionalProperties": value_schema})]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- nodes ------------------------------------------------------------------------------------

class _Node(_Model):
    prompt: Sounds = None


class _Retrying(_Model):
    timeout: Seconds = Field(None, description="seconds of silence before the no-input prompt")
    retries: Whole(0, 9) = Field(None, description="further attempts after the first one")
    invalid_prompt: Sounds = None
    no_input_prompt: Sounds = None
    on_failure: NodeRef = Field(None, description="where the caller goes when retries run out")


class PlayNode(_Node):
    type: Literal["play"]
    next: NodeRef = None


class MenuNode(_Retrying, _Node):
    type: Literal["menu"]
    choices: DigitMap(NodeRef, {"type": "string"})


class CollectNode(_Retrying, _Node):
    type: Literal["collect"]
    prompt: Sounds
    min_length: Whole(1, 32) = None
    max_length: Whole(1, 32)
    terminator: Annotated[str, BeforeValidator(_terminator), WithJsonSchema({"const": "#"})] = None
    pattern: Annotated[str, BeforeValidator(_pattern)] = Field(None, description="a regular expression")
    luhn: Flag = None
    check: Annotated[str, BeforeValidator(_crm_check), WithJsonSchema({"enum": list(CRM_CHECKS)})] = None
    sensitive: Flag = None
    store: Name = None
    next: NodeRef = None

    @model_validator(mode="after")
    def _lengths(self):
        if self.min_length is not None and self.min_length > self.max_length:
            raise Findings([("min_length", "min_length is greater than max_length")])
        return self


def _wait_seconds(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"queue_wait_over: seconds must be a number, got {value!r}")
    return float(value)


class QueueWait(_Model):
    queue: Name
    seconds: Annotated[float, BeforeValidator(_wait_seconds), WithJsonSchema({"type": "number", "minimum": 0})]


class Condition(_Model):
    """Caller facts that must all hold."""

    known: Flag = None
    tier: Annotated[tuple[str, ...], BeforeValidator(_tiers),
                    WithJsonSchema(_one_or_many({"enum": [*TIERS[:-1], "none", None]}))] = None
    language: Annotated[tuple[str, ...], BeforeValidator(_languages),
                        WithJsonSchema(_one_or_many(_LANGUAGE_SCHEMA))] = None
    open_case: Flag = None
    repeat_caller: Flag = None
    queue_wait_over: QueueWait = None


class Case(_Model):
    when: Annotated[Condition, BeforeValidator(_mapping(
        "`when` needs caller facts, like {known: true, tier: [gold, platinum]}"))]
    goto: NodeRef


class BranchNode(_Node):
    type: Literal["branch"]
    cases: Annotated[list[Case], Field(min_length=1)]
    otherwise: NodeRef = Field(None, alias="else")


class HoursNode(_Node):
    type: Literal["hours"]
    schedule: Annotated[str, BeforeValidator(_schedule_ref), WithJsonSchema({"type": "string"})]
    open: NodeRef
    closed: NodeRef

    @model_validator(mode="after")
    def _both_ways(self):
        if self.open == self.closed:
            raise Findings([(None, "open and closed go to the same node: the hours check does nothing")])
        return self


class LanguageNode(_Retrying, _Node):
    type: Literal["language"]
    choices: DigitMap(FlowLanguage, _LANGUAGE_SCHEMA)
    use_caller_language: Flag = Field(None, description="a known caller's preference skips the question")
    default: FlowLanguage = Field(None, description="language taken when retries run out")
    next: NodeRef = None

    @model_validator(mode="after")
    def _default_or_failure(self):
        if self.default and self.on_failure is not None:
            raise Findings([("on_failure", "give either default or on_failure, not both")])
        return self


class CaseStatusNode(_Node):
    type: Literal["case_status"]
    intro_prompt: Sounds = None
    status_prompts: Annotated[dict[str, Sounds], BeforeValidator(lambda v: v if isinstance(v, dict) else _raise(
        "expected a mapping of case status to prompt, like {open: ctigw/case_open}"))] = None
    unknown_status_prompt: Sounds = None
    none_prompt: Sounds = None
    count_prompt: Sounds = None
    next: NodeRef = None
    on_failure: NodeRef = None


class VoicemailNode(_Node):
    type: Literal["voicemail"]
    mailbox: Text = None
    record_dir: Text = None
    format: Name = None
    max_seconds: Whole(5, 600) = None
    silence_seconds: Whole(0, 60) = None
    goodbye_prompt: Sounds = None


class CallbackNode(_Retrying, _Node):
    type: Literal["callback"]
    accept: Digit = None
    other_number: Digit = None
    number_prompt: Sounds = None
    confirm_prompt: Sounds = None
    min_length: Whole(3, 20) = None
    max_length: Whole(3, 20) = None
    declined: NodeRef = None

    @model_validator(mode="after")
    def _keys_and_lengths(self):
        findings = []
        if (self.min_length or 7) > (self.max_length or 15):
            findings.append(("min_length", "min_length is greater than max_length"))
        if self.other_number and self.other_number == (self.accept or "1"):
            findings.append(("other_number", "other_number uses the same key as accept"))
        if self.other_number and not self.number_prompt:
            findings.append(("other_number", "other_number needs a number_prompt"))
        if findings:
            raise Findings(findings)
        return self


class RouteNode(_Node):
    type: Literal["route"]
    queue: Name
    skills: Annotated[tuple[str, ...], BeforeValidator(_skills),
                      WithJsonSchema(_one_or_many({"type": "string", "pattern": NAME}))] = None
    language: FlowLanguage = Field(None, description="default: the call's language")
    priority: Whole(0, 100) = None

    @model_validator(mode="after")
    def _needs_skills(self):
        if not self.skills:
            raise Findings([(None, "a route node needs `skills` (the ACD matches agents on them)")])
        return self


class HangupNode(_Node):
    type: Literal["hangup"]


class SubflowNode(_Node):
    type: Literal["subflow"]
    flow: Name = Field(description="another flow file in the same folder")
    next: NodeRef = None


class ReturnNode(_Node):
    type: Literal["return"]


NODE_MODELS = (PlayNode, MenuNode, CollectNode, BranchNode, HoursNode, LanguageNode, CaseStatusNode,
               VoicemailNode, CallbackNode, RouteNode, HangupNode, SubflowNode, ReturnNode)
AnyNode = Annotated[Union[NODE_MODELS], Field(discriminator="type")]


# --- the file ---------------------------------------------------------------------------------

class ScheduleSpec(_Model):
    timezone: Annotated[str, BeforeValidator(_timezone), WithJsonSchema({"type": "string"})]
    weekly: Annotated[dict[str, Any], BeforeValidator(_mapping("weekly must map days to hours")),
                      WithJsonSchema({"type": "object", "additionalProperties": _one_or_many({"type": "string"})})]
    holidays: Annotated[tuple[dt.date, ...], BeforeValidator(_holidays),
                        WithJsonSchema(_one_or_many({"type": "string", "format": "date"}))] = ()

    @model_validator(mode="after")
    def _days_and_hours(self):
        findings = []
        for days, ranges in self.weekly.items():
            try:
                hours.parse_days(days)
                hours.parse_ranges(ranges)
            except ValueError as exc:
                findings.append((("weekly", days), str(exc)))
        if findings:
            raise Findings(findings)
        return self


class PromptSpec(BaseModel):
    """Text per language for one ctigw/<name> sound; `neutral`: one text for every language."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": {"type": "string",
                                                                                           "minLength": 1}})
    neutral: bool = False

    @model_validator(mode="before")
    @classmethod
    def _texts_and_neutral(cls, value, info: ValidationInfo):
        if not isinstance(value, dict) or not value:
            raise ValueError("expected {language: text}")
        languages = _flow_languages(info)
        findings = []
        neutral = value.get("neutral", False)
        if not isinstance(neutral, bool):
            findings.append(("neutral", "neutral must be true or false"))
        texts = 0
        for lang, text in value.items():
            if lang == "neutral":
                continue
            if lang not in languages:
                findings.append((lang, f"{lang!r} is not one of the flow's languages {list(languages)}"))
            elif not isinstance(text, str) or not text.strip():
                findings.append((lang, f"{lang} text is empty"))
            else:
                texts += 1
        if neutral is True and texts != 1:
            findings.append((None, "a neutral prompt has exactly one text"))
        if findings:
            raise Findings(findings)
        return value

    @property
    def texts(self) -> dict[str, str]:
        return dict(self.__pydantic_extra__ or {})


def _prompt_name(value) -> str:
    if not isinstance(value, str) or not value.startswith("ctigw/") or not re.match(SOUND_NAME, value):
        raise ValueError(f"prompt {value!r}: prompts with text must be named ctigw/<name>")
    return value


class Defaults(_Model):
    """Defaults for the nodes that wait for the caller (menu, collect, language, callback)."""

    timeout: Seconds = None
    retries: Whole(0, 9) = None
    invalid_prompt: Sounds = None
    no_input_prompt: Sounds = None


class FlowFile(_Model):
    """An IVR flow: DTMF menus, digit collection, caller facts, business hours, routing."""

    model_config = ConfigDict(title="ctigw IVR flow")
    flow: Name = Field(None, description="the flow's name; default: the file name")
    description: str = None
    languages: Annotated[tuple[str, ...], BeforeValidator(_language_codes),
                         WithJsonSchema(_one_or_many(_LANGUAGE_SCHEMA))] = Field(
        None, description="the first one is the default language")
    default_language: FlowLanguage = None
    max_steps: Whole(10, 10_000) = Field(None, description="loop protection: steps per call")
    # Flows once added tier points to the route; the ACD alone does now (agents/queues.yaml).
    tier_priority: Annotated[None, BeforeValidator(lambda v: _raise(
        "tier_priority is queue policy now: set the points in agents/queues.yaml, priority: tiers")),
        WithJsonSchema({"not": {}})] = None
    schedules: Annotated[dict[str, ScheduleSpec], BeforeValidator(lambda v: v if isinstance(v, dict) else _raise(
        "`schedules` must map a schedule name to {timezone, weekly, holidays}"))] = None
    prompts: Annotated[dict[Annotated[str, BeforeValidator(_prompt_name)], PromptSpec], BeforeValidator(
        lambda v: v if isinstance(v, dict) else _raise("`prompts` must map ctigw/<name> to {language: text}"))] = None
    defaults: Defaults = None
    nodes: Annotated[dict[str, AnyNode], Field(min_length=1)]
    start: NodeRef = Field(description="the first node")
    on_failure: NodeRef = Field(None, description="where nodes go when retries run out (default: hang up)")


TOP_LEVEL = tuple(f.alias or name for name, f in FlowFile.model_fields.items())
NODE_FIELDS = {model.model_fields["type"].annotation.__args__[0]: model for model in NODE_MODELS}
