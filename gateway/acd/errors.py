"""The ACD's exceptions; callers catch AcdError for any of them."""
from __future__ import annotations


class AcdError(Exception):
    """Base of every error the ACD raises on purpose."""


class ConfigFileError(AcdError, ValueError):
    """A roster or queue file is unusable. `problems` lists every finding, each naming
    the file, the line and (where there is one) the agent or queue."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class RosterError(ConfigFileError):
    """agents/roster.yaml is invalid."""


class QueueConfigError(ConfigFileError):
    """agents/queues.yaml is invalid (or does not fit the roster)."""


class UnknownAgent(AcdError, KeyError):
    def __str__(self) -> str:
        return f"unknown agent {self.args[0]!r}"


class UnknownQueue(AcdError, KeyError):
    def __str__(self) -> str:
        return f"unknown queue {self.args[0]!r}"


class AgentStateError(AcdError):
    """An agent control that the agent's current state does not allow (e.g. ready while on a call)."""
