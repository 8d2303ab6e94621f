"""The published JSON Schemas (docs/schemas): current with the models, and they accept the
example files and refuse broken ones, as an editor validating with them would."""
from pathlib import Path

import jsonschema
import pytest

from gateway import schemas
from gateway.cli.main import main
from gateway.yamlfile import load_yaml, plain

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "flow.schema.json": sorted((ROOT / "ivr_flows").glob("*.yaml")),
    "roster.schema.json": [ROOT / "agents" / "roster.yaml"],
    "queues.schema.json": [ROOT / "agents" / "queues.yaml"],
}


def validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schemas.schema_of(schemas.FILES[name]))


@pytest.mark.parametrize("name", sorted(schemas.FILES))
def test_the_committed_schema_is_what_the_models_give(name):
    committed = (schemas.DOCS_DIR / name).read_text(encoding="utf-8")
    assert committed == schemas.rendered()[name], "run `ctigw schemas` and commit docs/schemas"


@pytest.mark.parametrize("name", sorted(schemas.FILES))
def test_each_schema_is_a_valid_json_schema(name):
    jsonschema.Draft202012Validator.check_schema(schemas.schema_of(schemas.FILES[name]))


@pytest.mark.parametrize("name, path", [(name, path) for name, paths in EXAMPLES.items() for path in paths],
                         ids=lambda v: getattr(v, "name", v))
def test_the_example_files_validate(name, path):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator(name).iter_errors(plain(load_yaml(path)))]
    assert errors == []


def test_the_schemas_refuse_what_the_loaders_refuse():
    flow = plain(load_yaml(ROOT / "tests" / "data" / "flows" / "schema_errors.yaml"))
    paths = {tuple(e.absolute_path) for e in validator("flow.schema.json").iter_errors(flow)}
    assert paths == {("nodes", "menu"), ("nodes", "odd")}  # retries: many, colour: blue; type: teleport
    roster = plain(load_yaml(ROOT / "agents" / "roster.yaml"))
    roster["agents"][0]["skills"]["billing"] = 11
    roster["agents"][1]["phone"] = "x"
    assert len(list(validator("roster.schema.json").iter_errors(roster))) == 2
    queues = plain(load_yaml(ROOT / "agents" / "queues.yaml"))
    queues["queues"]["billing"]["relax"][0]["outcome"] = "teleport"
    assert not validator("queues.schema.json").is_valid(queues)


def test_ctigw_schemas_writes_them_and_check_notices_a_stale_one(tmp_path, capsys):
    assert main(["schemas", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(schemas.FILES)
    assert main(["schemas", "--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "roster.schema.json").write_text("{}\n", encoding="utf-8")
    assert main(["schemas", "--out", str(tmp_path), "--check"]) == 1
    assert "roster.schema.json: not what the models give" in capsys.readouterr().err
