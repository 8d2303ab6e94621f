"""The contracts between the parts, held on both sides: every real class and every test double
implements its Protocol with the same methods and parameters (doubles: nothing more), and the
business code imports nothing of the protocol layers nor of the call layer.

A method added, renamed or given another parameter on one side only fails here, not in a
call that happens to reach it.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
from pathlib import Path
from typing import Protocol

import pytest

from doubles import RecordingAcd, RecordingConnector, RecordingDesk
from gateway.acd.model import Connector
from gateway.acd.service import Acd
from gateway.calls.agi_channel import AgiChannel
from gateway.calls.agent_actions import CallerOnHold, Dialler
from gateway.calls.ami_bridge import AmiConnector, AmiDialler
from gateway.calls.ports import AcdPort, CrmPort, DeskPort
from gateway.calls.services import IvrServices
from gateway.crm.store import CrmStore
from gateway.crm.views import CallerView
from gateway.desk.service import DeskService
from gateway.ivr.channel import CallerFacts, Channel, SelfServices, UnknownCaller
from gateway.ivr.scripted_channel import ScriptedCaller, ScriptedChannel
from gateway.tiers import TIERS

ROOT = Path(__file__).resolve().parents[2]


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ivr_fakes = _load(ROOT / "tests/unit/ivr/ivr_fakes.py", "contracts_ivr_fakes")
race_worker = _load(ROOT / "tests/acd/race_worker.py", "contracts_race_worker")


def protocol_methods(protocol: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(protocol).items()
            if not name.startswith("_") and inspect.isfunction(member)}


def public_coroutines(cls: type) -> set[str]:
    return {name for name, member in inspect.getmembers(cls, inspect.iscoroutinefunction) if not name.startswith("_")}


def shape(signature: inspect.Signature) -> list[tuple]:
    """Parameters as a caller sees them: names, kinds, defaults (annotations are the Protocol's word)."""
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def differences(protocol: type, cls: type, exact: bool) -> list[str]:
    wanted = protocol_methods(protocol)
    found = []
    for name, signature in wanted.items():
        member = getattr(cls, name, None)
        if member is None:
            found.append(f"{cls.__name__} lacks {name}")
        elif not inspect.iscoroutinefunction(member):
            found.append(f"{cls.__name__}.{name} is not async")
        elif shape(inspect.signature(member)) != shape(signature):
            found.append(f"{cls.__name__}.{name}{inspect.signature(member)} != {protocol.__name__}.{name}{signature}")
    if exact:
        found.extend(f"{cls.__name__}.{extra} is not in {protocol.__name__}"
                     for extra in sorted(public_coroutines(cls) - set(wanted)))
    return found


# (Protocol, class, exact): real classes may offer more (the ACD serves desktops too); doubles may not.
IMPLEMENTATIONS = [
    (Connector, RecordingConnector, True),
    (Connector, race_worker.AutoAnsweringCallLayer, True),
    (AcdPort, Acd, False),
    (AcdPort, RecordingAcd, True),
    (CrmPort, CrmStore, False),
    (DeskPort, DeskService, False),
    (DeskPort, RecordingDesk, True),
    (SelfServices, IvrServices, True),
    (SelfServices, ivr_fakes.Services, True),
    (Channel, AgiChannel, True),
    (Channel, ScriptedChannel, True),
]


@pytest.mark.parametrize("protocol, cls, exact", IMPLEMENTATIONS,
                         ids=[f"{cls.__name__}-{p.__name__}" for p, cls, _ in IMPLEMENTATIONS])
def test_implementations_match_their_protocol(protocol, cls, exact):
    assert issubclass(protocol, Protocol)
    assert differences(protocol, cls, exact) == []


def test_the_ami_connector_is_the_acds_connector_and_the_desks_hands_on_a_caller():
    assert differences(Connector, AmiConnector, exact=False) == []
    assert differences(CallerOnHold, AmiConnector, exact=False) == []
    assert public_coroutines(AmiConnector) == set(protocol_methods(Connector)) | set(protocol_methods(CallerOnHold))


def test_the_dialler_is_what_the_desk_needs():
    assert differences(Dialler, AmiDialler, exact=False) == []


def test_a_drift_is_caught():
    class Drifted:
        async def connect(self, call, agent, extra=None): ...
        def announce(self, call, position, estimated_wait): ...
        async def spare(self): ...

    found = differences(Connector, Drifted, exact=True)
    assert [f.split("(")[0] for f in found] == [
        "Drifted.connect", "Drifted.announce is not async", "Drifted lacks queue_outcome",
        "Drifted.spare is not in Connector"]


@pytest.mark.parametrize("cls", [CallerView, ScriptedCaller, UnknownCaller])
def test_caller_views_have_every_fact_the_ivr_reads(cls):
    facts = set(CallerFacts.__annotations__)
    have = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set(vars(cls))
    assert facts <= have


def test_the_demo_data_uses_the_tier_table():
    from gateway.crm.demo_data import TIER_MIX

    assert {tier for _, tier, _, _ in TIER_MIX} <= set(TIERS)


# Business code knows nothing of sockets nor of the call layer; protocol code nothing of customers.
FORBIDDEN = {
    "gateway/ivr": ("gateway.agi", "gateway.ami", "gateway.calls"),
    "gateway/acd": ("gateway.agi", "gateway.ami", "gateway.calls"),
    "gateway/crm": ("gateway.agi", "gateway.ami", "gateway.calls"),
    "gateway/routing.py": ("gateway.agi", "gateway.ami", "gateway.calls", "gateway.ivr", "gateway.acd", "gateway.crm"),
    "gateway/tiers.py": ("gateway.agi", "gateway.ami", "gateway.calls", "gateway.ivr", "gateway.acd", "gateway.crm"),
    "gateway/agi": ("gateway.ivr", "gateway.acd", "gateway.crm", "gateway.calls", "gateway.routing", "gateway.tiers"),
    "gateway/ami": ("gateway.ivr", "gateway.acd", "gateway.crm", "gateway.calls", "gateway.routing", "gateway.tiers"),
}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("where", sorted(FORBIDDEN))
def test_layers_import_only_what_they_may(where):
    base = ROOT / where
    files = [base] if base.suffix == ".py" else sorted(base.rglob("*.py"))
    assert files
    bad = [f"{path.relative_to(ROOT)} imports {name}" for path in files for name in sorted(imported_modules(path))
           if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[where])]
    assert bad == []
