"""JSON Schemas of the YAML data files, generated from the pydantic models that validate them.

docs/schemas/ holds them (`ctigw schemas` writes them) so that editors validate and complete
flows and the roster as they are typed, e.g. with a first line such as
`# yaml-language-server: $schema=../docs/schemas/flow.schema.json`.
"""
from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from gateway.acd.schema import QueuesFile, RosterFile
from gateway.ivr.schema import FlowFile

DOCS_DIR = Path(__file__).resolve().parent.parent / "docs" / "schemas"
FILES: dict[str, type[BaseModel]] = {
    "flow.schema.json": FlowFile,  # ivr_flows/*.yaml
    "roster.schema.json": RosterFile,  # agents/roster.yaml
    "queues.schema.json": QueuesFile,  # agents/queues.yaml
}


def schema_of(model: type[BaseModel]) -> dict:
    schema = model.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **_without_null_defaults(schema)}


def _without_null_defaults(schema):
    # An optional key left out means "the default", never null: don't suggest null to editors.
    if isinstance(schema, dict):
        return {k: _without_null_defaults(v) for k, v in schema.items() if not (k == "default" and v is None)}
    if isinstance(schema, list):
        return [_without_null_defaults(v) for v in schema]
    return schema


def rendered() -> dict[str, str]:
    """File name -> the text `ctigw schemas` writes."""
    return {name: json.dumps(schema_of(model), indent=2, ensure_ascii=False) + "\n" for name, model in FILES.items()}


def write(directory: Path = DOCS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
