"""Load and save pydantic models as YAML, with errors that point at file lines.

Only a safe loader is used: a YAML file a user hands over can never construct objects. Files are
bounded in size and in aliases (an alias bomb expands to billions of nodes once validated), and a
key given twice is an error, not a silent override.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from vadagent.errors import UsageError

M = TypeVar("M", bound=BaseModel)

MAX_YAML_BYTES = 1 << 20  # rules, taxonomies and settings are hand-written: a megabyte is plenty
MAX_ALIASES = 100


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key."""

    aliases = 0

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise yaml.composer.ComposerError(problem=f"more than {MAX_ALIASES} aliases (an alias bomb?)",
                                                  problem_mark=self.peek_event().start_mark)
        return super().compose_node(parent, index)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, Hashable):
            if key in seen:
                raise yaml.constructor.ConstructorError(problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark)
            seen.add(key)
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    lines = {key_node.value: key_node.start_mark.line + 1 for key_node, _ in node.value if hasattr(key_node, "value")}
    mapping = _Lined(mapping)
    mapping.lines = lines
    mapping.line = node.start_mark.line + 1
    return mapping


class _Lined(dict):
    lines: dict[str, int]
    line: int


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_of(data: object, loc: tuple) -> int | None:
    """The deepest YAML line known for a pydantic error location."""
    line = getattr(data, "line", None)
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            line = getattr(node, "lines", {}).get(part, line)
            node = node[part]
            line = getattr(node, "line", line)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            line = getattr(node, "line", line)
        else:
            break
    return line


def read_yaml_text(path: Path) -> str:
    """A user's YAML file as text: it must exist, be UTF-8 and at most MAX_YAML_BYTES."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise UsageError(f"{path}: {size:,} bytes; a YAML file here is at most {MAX_YAML_BYTES:,} bytes")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read as UTF-8 text: {exc}") from None


def parse_yaml(text: str, source: str = "<string>") -> object:
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "unknown line"
        problem = getattr(exc, "problem", None) or str(exc)
        raise UsageError(f"{source}: malformed YAML at {where}: {problem}") from None


def validate_yaml_data(model: type[M], data: object, source: str) -> M:
    if not isinstance(data, dict):
        raise UsageError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            line = _line_of(data, loc)
            where = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"line {line}: {where}: {error['msg']}" if line else f"{where}: {error['msg']}")
        raise UsageError(f"{source}: invalid {model.__name__}: " + "; ".join(problems)) from None


def load_yaml_model(model: type[M], path: Path) -> M:
    return validate_yaml_data(model, parse_yaml(read_yaml_text(path), str(path)), str(path))


def dump_yaml_model(obj: BaseModel, path: Path) -> None:
    data = obj.model_dump(mode="json", exclude_none=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")
