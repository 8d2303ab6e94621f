"""YAML loading that remembers line numbers, so flow errors can point at `file:line`.

Mappings load as `MarkedMap` (a dict that knows its own line and each key's line) and
sequences as `MarkedList`; scalars stay plain Python values. A key written twice is an
error here, where plain PyYAML would silently keep the last one (a duplicated node id).
"""
from __future__ import annotations

import yaml

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class MarkedMap(dict):
    line: int = 0
    key_lines: dict

    def line_of(self, key) -> int:
        return self.key_lines.get(key, self.line)


class MarkedList(list):
    line: int = 0
    item_lines: list

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class DuplicateKeyError(yaml.MarkedYAMLError):
    def __init__(self, key_path: tuple, mark):
        super().__init__(None, None, f"key {key_path[-1]!r} appears twice", mark)
        self.key_path = key_path  # keys from the document's root down to the repeated one


class _MarkedLoader(_Base):
    pass


def _construct_map(loader: _MarkedLoader, node: yaml.MappingNode) -> MarkedMap:
    loader.flatten_mapping(node)
    out = MarkedMap()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_list(loader: _MarkedLoader, node: yaml.SequenceNode) -> MarkedList:
    out = MarkedList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_MarkedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_MarkedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_list)


def load_marked(text: str):
    """Parse one YAML document; raises yaml.YAMLError (with a problem_mark) when it is not
    valid, DuplicateKeyError when a mapping repeats a key."""
    loader = _MarkedLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _refuse_duplicates(root, ())
        return loader.construct_document(root)
    finally:
        loader.dispose()


def _refuse_duplicates(node, path: tuple) -> None:
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
            if key in seen:
                raise DuplicateKeyError((*path, key), key_node.start_mark)
            seen.add(key)
            _refuse_duplicates(value_node, (*path, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            _refuse_duplicates(child, (*path, i))
