"""The desk page's transfer panel: where an agent may pass their answered call on, and its words.

The queues are the ACD's queue policy (agents/queues.yaml), named in the agent's language when
the file labels them; the agents are the roster's, the agent themselves left out. Both are read
as the page is rendered, so a reload shows an edited file. The panel itself is static/transfer.js
(it posts to /desk/api/calls/{linkedid}/transfer) and templates/_transfer.html.
"""
from __future__ import annotations


def transfer_choices(acd, agent_id: str, locale: str) -> dict[str, list[tuple[str, str]]]:
    """{"queues": [(name, label)], "agents": [(id, "id · name")]} for the panel's select."""
    queues = sorted(((p.name, p.label(locale)) for p in acd.queues.queues.values()), key=lambda q: q[1].casefold())
    agents = [(a.id, f"{a.id} · {a.name}") for a in sorted(acd.roster.agents, key=lambda a: a.id) if a.id != agent_id]
    return {"queues": queues, "agents": agents}


def transfer_strings(gettext) -> dict:
    """The words transfer.js shows (the page's #desk-strings, under "transfer")."""
    _ = gettext
    return {
        "choose": _("Choose a queue or an agent to transfer to."),
        "sending": _("Transferring the call…"),
        "to_queue": _("Call transferred to the queue: %(target)s."),
        "to_agent": _("Call transferred to the agent: %(target)s."),
        "failed": _("The call was not transferred: %(error)s"),
        # Refusals that mean something particular here (the rest: the page's `refused`).
        "refused": {"403": _("This call is no longer yours to transfer; it may have ended."),
                    "409": _("Not possible now: the agent may be logged out, or the queue unknown.")},
    }
