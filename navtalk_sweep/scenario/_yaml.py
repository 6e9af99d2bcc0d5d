"""YAML loading that remembers where every key and value came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from navtalk_sweep.errors import ScenarioError

Path = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Positions (1-based line, column) of every key and value in one YAML document."""

    path: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def position(self, loc: Path, *, key: bool = False) -> tuple[int, int]:
        """The closest known position to ``loc``, walking up to its parents."""
        table = self.keys if key else self.values
        for cut in range(len(loc), -1, -1):
            part = loc[:cut]
            if part in table:
                return table[part]
            if part in self.values:
                return self.values[part]
        return (1, 1)

    def error(self, loc: Path, message: str, *, key: bool = False) -> ScenarioError:
        line, column = self.position(loc, key=key)
        return ScenarioError(message, path=self.path, line=line, column=column)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _construct(node: yaml.Node, loc: Path, smap: SourceMap, loader: yaml.SafeLoader) -> Any:
    smap.values[loc] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                line, col = _mark(key_node)
                raise ScenarioError(f"keys must be strings, got {key!r}", path=smap.path, line=line, column=col)
            if key in out:
                line, col = _mark(key_node)
                raise ScenarioError(f"duplicate key '{key}'", path=smap.path, line=line, column=col)
            smap.keys[(*loc, key)] = _mark(key_node)
            out[key] = _construct(value_node, (*loc, key), smap, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*loc, i), smap, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_yaml(text: str, path: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document; syntax errors become a ScenarioError at their position."""
    smap = SourceMap(path)
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise ScenarioError(f"unacceptable character #x{exc.character:04x} (control characters are not allowed)",
                            path=path, line=line, column=column) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError("the file is empty", path=path, line=1, column=1)
        return _construct(node, (), smap, loader), smap
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise ScenarioError(f"YAML syntax error: {problem}", path=path, line=line, column=col) from None
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())  # one line, whatever the YAML library wrote
        raise ScenarioError(f"YAML error: {detail}", path=path, line=1, column=1) from None
    finally:
        loader.dispose()
