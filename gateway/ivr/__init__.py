"""The IVR: flows as data (ivr_flows/*.yaml), run against a call's channel.

    flows = FlowRegistry(settings.ivr.flows_dir)            # registry.py: reloads on change
    result = await run_flow(flows.get("main"), channel, caller, services)   # engine.py, channel.py

loader.py reads and validates flow files (errors as file:line: node: message), model.py is
what a flow is, checker.py / graph.py / prompts.py back `ctigw flows check|graph` and
`ctigw prompts build`, scripted_channel.py plays a caller from a script for tests.
"""
from gateway.ivr.engine import run_flow
from gateway.ivr.loader import FlowError, FlowProblem, load_flow
from gateway.ivr.model import Flow, FlowResult
from gateway.ivr.registry import FlowNotFound, FlowRegistry

__all__ = ["Flow", "FlowError", "FlowNotFound", "FlowProblem", "FlowRegistry", "FlowResult", "load_flow",
           "run_flow"]
