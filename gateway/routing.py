"""The route request: where the IVR sends a call, as the ACD receives it.

One frozen value shared by the IVR (which makes it) and the ACD (which queues it), checked
when it is made so a bad one fails where it comes from, not in the queue.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Real


@dataclass(frozen=True)
class RouteRequest:
    """`skills` empty: the queue's own skills. `language` None: any agent. `priority` is the
    IVR's (what the caller chose); the ACD adds the customer's tier points and waiting time."""

    queue: str
    skills: tuple[str, ...] = ()
    language: str | None = None
    priority: float = 0

    def __post_init__(self):
        if not isinstance(self.queue, str) or not self.queue.strip():
            raise ValueError(f"route request: queue must be a queue name, got {self.queue!r}")
        skills = (self.skills,) if isinstance(self.skills, str) else self.skills
        if not isinstance(skills, (tuple, list)) or not all(isinstance(s, str) and s for s in skills):
            raise ValueError(f"route request: skills must be skill names, got {self.skills!r}")
        language = self.language
        if language is not None and not isinstance(language, str):
            raise ValueError(f"route request: language must be a language code, got {language!r}")
        if not isinstance(self.priority, Real) or isinstance(self.priority, bool):
            raise ValueError(f"route request: priority must be a number, got {self.priority!r}")
        object.__setattr__(self, "queue", self.queue.strip())
        object.__setattr__(self, "skills", tuple(skills))
        object.__setattr__(self, "language", (language or "").strip().lower() or None)
