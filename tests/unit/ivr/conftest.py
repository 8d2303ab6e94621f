"""Fixtures for the IVR tests; the fakes themselves are in ivr_fakes.py."""
from __future__ import annotations

from pathlib import Path

import pytest
from ivr_fakes import FLOWS_DIR, OPEN, Caller, Services

from gateway.ivr.engine import run_flow
from gateway.ivr.loader import load_flow
from gateway.ivr.scripted_channel import ScriptedChannel


@pytest.fixture(scope="session")
def main_flow():
    return load_flow(FLOWS_DIR / "main.yaml")


@pytest.fixture
def call(main_flow):
    """call(script, caller=None, services=None, now=OPEN) -> (result, channel)"""

    async def run(script, caller=None, services=None, now=OPEN, flow=None, **kwargs):
        channel = ScriptedChannel(script)
        result = await run_flow(flow or main_flow, channel, caller or Caller(), services or Services(),
                                now=now, **kwargs)
        return result, channel

    return run


@pytest.fixture
def write_flow(tmp_path):
    """write_flow(name, yaml_text) -> path of a flow file in a temporary folder."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
