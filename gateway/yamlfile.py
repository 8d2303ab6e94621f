"""The YAML data files (IVR flows, the roster, the queue policy): one loader that keeps the
line of every key and item, refuses a key written twice, and places validation errors on lines.

Documents load as ruamel.yaml's round-trip types: mappings are dicts, sequences lists,
each knowing the lines of its keys or items, so a pydantic error's `loc` can be walked back
to `file:line`. YAML 1.2: `yes`/`no` are text, write `true`/`false`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Iterator

from pydantic import BaseModel, TypeAdapter, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode


class YamlFileError(ValueError):
    """The file cannot be read, is not YAML, or repeats a key. `key_path` leads from the
    document's root to the repeated key."""

    def __init__(self, path: str, line: int, message: str, key_path: tuple = ()):
        self.path, self.line, self.message, self.key_path = path, line, message, key_path
        super().__init__(f"{path}:{line}: {message}")


def load_yaml(path: str | os.PathLike) -> Any:
    """One YAML document from a file; raises YamlFileError."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlFileError(path, 1, "file not found") from None
    except OSError as exc:
        raise YamlFileError(path, 1, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise YamlFileError(path, 1, "not UTF-8 text") from None
    return parse_yaml(text, path)


def parse_yaml(text: str, path: str) -> Any:
    """One YAML document from text (None when empty); raises YamlFileError."""
    try:
        return YAML(typ="rt").load(text)  # a parser per call: ruamel's is not thread-safe
    except DuplicateKeyError as exc:
        key_path = _duplicate_key_path(text) or ("?",)
        raise YamlFileError(path, exc.problem_mark.line + 1, f"key {key_path[-1]!r} written twice",
                            key_path) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(exc.problem or exc).split())
        if exc.context and exc.context_mark:
            message = f"{exc.context} (line {exc.context_mark.line + 1}): {message}"
        raise YamlFileError(path, mark.line + 1 if mark else 1, f"not valid YAML: {message}") from None
    except YAMLError as exc:
        raise YamlFileError(path, 1, f"not valid YAML: {exc}") from None


def _duplicate_key_path(text: str) -> tuple | None:
    # ruamel says where the second key is, not which mapping: find it in the node tree.
    def walk(node, path):
        if isinstance(node, MappingNode):
            seen = set()
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, ScalarNode) else id(key_node)
                if key in seen:
                    return (*path, key)
                seen.add(key)
                found = walk(value_node, (*path, key))
                if found:
                    return found
        elif isinstance(node, SequenceNode):
            for i, child in enumerate(node.value):
                found = walk(child, (*path, i))
                if found:
                    return found
        return None

    return walk(YAML(typ="rt").compose(text), ())


# --- positions --------------------------------------------------------------------------------

def _steps(doc, loc) -> Iterator[tuple[Any, tuple[int, int]]]:
    """Walk `loc` (a pydantic error location) down the document, yielding each value reached
    with the 1-based (line, column) of its key or item. Parts the document lacks (a union's
    tag, '[key]') are skipped."""
    node = doc
    for part in loc:
        lc = getattr(node, "lc", None)
        if isinstance(node, dict) and lc is not None:
            key = part if part in node else _same_key(node, part)
            if key is None:
                continue
            line, column = lc.key(key)
            node = node[key]
        elif isinstance(node, list) and lc is not None and isinstance(part, int) and 0 <= part < len(node):
            line, column = lc.item(part)
            node = node[part]
        else:
            continue
        yield node, (line + 1, column + 1)


def _same_key(mapping: dict, part):
    # pydantic may report a key in another form than YAML loaded it (1 vs "1").
    return next((k for k in mapping if str(k) == str(part)), None)


def position_at(doc, loc, default: int = 1) -> tuple[int, int]:
    """(line, column) of the deepest key or item along `loc` that the document has: sorts
    problems into file order."""
    position = (_first_line(doc, default), 0)
    for _, position in _steps(doc, loc):
        pass
    return position


def line_at(doc, loc, default: int = 1) -> int:
    """Line of the deepest key or item along `loc` that the document has."""
    return position_at(doc, loc, default)[0]


def mapping_line_at(doc, loc, default: int = 1) -> int:
    """First line of the deepest mapping along `loc`: the line of the entry a problem is in."""
    line = _first_line(doc, default)
    for node, _ in _steps(doc, loc):
        if isinstance(node, dict) and hasattr(node, "lc"):
            line = node.lc.line + 1
    return line


def _first_line(doc, default: int) -> int:
    lc = getattr(doc, "lc", None)
    return lc.line + 1 if lc is not None else default


def value_at(doc, loc, default=None):
    """The document's value at `loc`, or `default` where the document has none."""
    node = doc
    for part in loc:
        if isinstance(node, dict):
            key = part if part in node else _same_key(node, part)
            if key is None:
                return default
            node = node[key]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return default
    return node


# --- validation errors as findings --------------------------------------------------------------

class Findings(ValueError):
    """Raised by a model validator with every rule its object breaks, each as (key, message):
    `key` names the field the finding is about (its line): a key, a tuple of keys leading
    to it, or None for the object itself."""

    def __init__(self, findings: list[tuple[str | tuple | None, str]]):
        self.findings = findings
        super().__init__("; ".join(message for _, message in findings))


@dataclass(frozen=True)
class Issue:
    """One validation error: where (a pydantic loc), what (pydantic's type), and a message."""

    loc: tuple
    type: str
    message: str
    input: Any = None


def issues(exc: ValidationError) -> list[Issue]:
    """A ValidationError as a flat list: a validator's ValueError keeps its own text, and
    Findings become one Issue each."""
    out = []
    for error in exc.errors():
        loc, cause = tuple(error["loc"]), (error.get("ctx") or {}).get("error")
        if isinstance(cause, Findings):
            out.extend(Issue(loc + _key_path(key), "finding", message, error.get("input"))
                       for key, message in cause.findings)
        elif error["type"] == "value_error" and cause is not None:
            out.append(Issue(loc, "value_error", str(cause), error.get("input")))
        else:
            out.append(Issue(loc, error["type"], error["msg"], error.get("input")))
    return out


def _key_path(key) -> tuple:
    return () if key is None else key if isinstance(key, tuple) else (key,)


def plain(value):
    """The document as plain JSON-like data (keys as text, dates as ISO text): what an
    editor's JSON Schema validation sees."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


@lru_cache(maxsize=None)
def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter:
    field = next(f for n, f in model.model_fields.items() if (f.alias or n) == name)
    return TypeAdapter(Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation)


def field_value(model: type[BaseModel], name: str, raw_entry, default=None, context: dict | None = None):
    """One field of `model` (by its name in the file) validated on its own from a raw mapping,
    or `default` when it is absent or invalid: lets checks across entries see the good parts
    of a broken entry."""
    if not isinstance(raw_entry, dict) or name not in raw_entry:
        return default
    try:
        return _field_adapter(model, name).validate_python(raw_entry[name], context=context)
    except ValidationError:
        return default
