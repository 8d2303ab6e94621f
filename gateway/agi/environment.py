"""The `agi_*: value` block Asterisk sends first, and the request path in it (pure).

For `AGI(agi://10.0.0.5:4573/inbound?flow=main&dnis=100)` Asterisk 22 sends
`agi_network: yes`, `agi_network_script: inbound?flow=main&dnis=100`, then
`agi_request: agi://10.0.0.5:4573/inbound?flow=main&dnis=100`, `agi_channel`, ... and an
empty line. Absent caller data is sent as the word `unknown`; it is kept as sent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from gateway.agi.errors import MalformedEnvironment

# Asterisk sends about 20 lines plus one per AGI() argument (at most 127).
MAX_ENV_LINES = 256

_ENV_LINE = re.compile(r"agi_([A-Za-z0-9_]+):(.*)\Z", re.DOTALL)


def parse_env_line(line: str) -> tuple[str, str]:
    """`agi_callerid: 905321234567` -> ("callerid", "905321234567")."""
    match = _ENV_LINE.match(line)
    if match is None:
        raise MalformedEnvironment(f"not an agi_ environment line: {line[:80]!r}")
    value = match.group(2)
    return match.group(1), value[1:] if value.startswith(" ") else value


class AgiEnvironment(dict):
    """The environment: names without the `agi_` prefix -> values (all str)."""

    channel = property(lambda self: self.get("channel", ""))
    uniqueid = property(lambda self: self.get("uniqueid", ""))
    callerid = property(lambda self: self.get("callerid", ""))
    calleridname = property(lambda self: self.get("calleridname", ""))
    dnid = property(lambda self: self.get("dnid", ""))
    extension = property(lambda self: self.get("extension", ""))
    context = property(lambda self: self.get("context", ""))
    network_script = property(lambda self: self.get("network_script", ""))

    @property
    def args(self) -> list[str]:
        """The AGI() application arguments after the URL: agi_arg_1, agi_arg_2, ..."""
        found = []
        while f"arg_{len(found) + 1}" in self:
            found.append(self[f"arg_{len(found) + 1}"])
        return found


class EnvironmentReader:
    """Collects environment lines until the empty line that ends the block.

    `feed(line)` returns None while the block goes on and the `AgiEnvironment` at its end;
    it raises MalformedEnvironment on a line that is not `agi_name: value`, an empty
    block, or more than `max_lines` lines.
    """

    def __init__(self, max_lines: int = MAX_ENV_LINES):
        self._max_lines = max_lines
        self._env = AgiEnvironment()
        self._count = 0

    def feed(self, line: str) -> AgiEnvironment | None:
        if line == "":
            if self._count == 0:
                raise MalformedEnvironment("empty environment block")
            return self._env
        self._count += 1
        if self._count > self._max_lines:
            raise MalformedEnvironment(f"environment block longer than {self._max_lines} lines")
        name, value = parse_env_line(line)
        self._env[name] = value
        return None


@dataclass(frozen=True)
class AgiRequest:
    """What the dialplan asked for: `agi://host/inbound?flow=main` -> path "inbound",
    query {"flow": "main"} (URL-decoded; a repeated key keeps its last value)."""

    path: str
    query: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, script: str) -> AgiRequest:
        """From `agi_network_script` ("inbound?x=1") or a full `agi://` URL."""
        if "://" in script:
            try:
                parts = urlsplit(script)
                path, query = parts.path, parts.query
            except ValueError:  # e.g. an unbalanced "[" in the host part
                path, query = _split_script(script.split("://", 1)[1].partition("/")[2])
        else:
            path, query = _split_script(script)
        return cls(unquote(path).strip("/"), dict(parse_qsl(query, keep_blank_values=True)))

    @classmethod
    def from_environment(cls, env: AgiEnvironment) -> AgiRequest:
        return cls.parse(env.network_script or env.get("request", ""))


def _split_script(script: str) -> tuple[str, str]:
    path, _, query = script.partition("?")
    return path, query.partition("#")[0]
