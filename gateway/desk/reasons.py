"""The not-ready reasons an agent picks from on their desk, labelled in Turkish and English:
`[acd] not_ready_reasons` (gateway.config; its defaults when not set).

The ACD keeps any reason code it is given (the REST API's tokens may send their own); the
desk offers this list, and the desk's route accepts only its codes. "RONA" (ring, no answer)
and "login" are the ACD's own and never picked by hand (the codes are lower case).
"""
from __future__ import annotations

from gateway.config import DEFAULT_NOT_READY_REASONS
from gateway.labels import LabelledCode


class NotReadyReason(LabelledCode):
    """Why an agent is not ready, picked on their desk."""


NOT_READY_REASONS: tuple[NotReadyReason, ...] = tuple(NotReadyReason(*r) for r in DEFAULT_NOT_READY_REASONS)


def not_ready_reasons(settings) -> tuple[NotReadyReason, ...]:
    """The configured list (`settings.acd.not_ready_reasons`)."""
    return tuple(NotReadyReason(r.code, r.tr, r.en) for r in settings.acd.not_ready_reasons)
