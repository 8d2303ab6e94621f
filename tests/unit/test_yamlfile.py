"""The one YAML loader of the data files: positions kept, duplicate keys and bad YAML named by line."""
import pytest

from gateway.yamlfile import YamlFileError, line_at, load_yaml, mapping_line_at, parse_yaml, value_at

TEXT = """\
# a comment
teams:
  - id: a
    name: A
  - {id: b,
     name: B}
nodes:
  x: {type: menu, choices: {1: y}}
"""


def test_lines_of_keys_items_and_entries():
    doc = parse_yaml(TEXT, "f.yaml")
    assert line_at(doc, ("teams",)) == 2
    assert line_at(doc, ("teams", 1, "name")) == 6
    assert mapping_line_at(doc, ("teams", 1, "name")) == 5
    assert line_at(doc, ("nodes", "x", "menu", "choices", "1")) == 8  # a union's tag skipped, "1" finds 1
    assert line_at(doc, ("teams", 7)) == 2  # deepest part the document has
    assert value_at(doc, ("nodes", "x", "choices", 1)) == "y"


@pytest.mark.parametrize("text, line, key_path", [
    ("a: 1\nb: 2\na: 3\n", 3, ("a",)),
    ("nodes:\n  x:\n    type: play\n    next: y\n    type: hangup\n", 5, ("nodes", "x", "type")),
    ("agents:\n  - {id: 1, id: 2}\n", 2, ("agents", 0, "id")),
])
def test_a_key_written_twice_is_named_by_line_and_path(text, line, key_path):
    with pytest.raises(YamlFileError) as caught:
        parse_yaml(text, "f.yaml")
    assert (caught.value.line, caught.value.key_path) == (line, key_path)
    assert str(caught.value) == f"f.yaml:{line}: key {key_path[-1]!r} written twice"


def test_bad_yaml_names_the_line_and_what_was_being_parsed():
    with pytest.raises(YamlFileError) as caught:
        parse_yaml("a: {b: 1\nc: 2\n", "f.yaml")
    assert str(caught.value).startswith("f.yaml:2: not valid YAML: while parsing a flow mapping (line 1)")


def test_unreadable_files(tmp_path):
    with pytest.raises(YamlFileError, match="missing.yaml:1: file not found"):
        load_yaml(tmp_path / "missing.yaml")
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("name: Ay\xfee\n".encode("latin-1"))
    with pytest.raises(YamlFileError, match="latin1.yaml:1: not UTF-8 text"):
        load_yaml(latin1)
