"""Automatic call distribution: the roster, agent and call state in Redis, skills-based
matching, the atomic reservation of agents, and the timers around them.

Start at service.Acd (what the call layer and the desktops call), matching.py (who serves
whom), states.py (agent states), and agents/roster.yaml + agents/queues.yaml (the data).
"""
from gateway.acd.errors import (AcdError, AgentStateError, ConfigFileError, QueueConfigError, RosterError,
                                UnknownAgent, UnknownQueue)
from gateway.acd.model import (CallState, Connector, CustomerFacts, QueuedCall, QueueOutcome, QueueSnapshot,
                               WaitingCallView)
from gateway.acd.queue_config import QueueConfig, QueuePolicy, RelaxStep, load_queue_config
from gateway.acd.roster import Agent, Roster, Team, load_roster
from gateway.acd.service import Acd
from gateway.acd.states import AgentState, AgentStatus

__all__ = [
    "Acd", "AcdError", "Agent", "AgentState", "AgentStateError", "AgentStatus", "CallState", "ConfigFileError",
    "Connector", "CustomerFacts", "QueueConfig", "QueueConfigError", "QueueOutcome", "QueuePolicy", "QueueSnapshot",
    "QueuedCall", "RelaxStep", "Roster", "RosterError", "Team", "UnknownAgent", "UnknownQueue",
    "WaitingCallView", "load_queue_config", "load_roster",
]
