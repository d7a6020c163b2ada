"""Load and save pydantic models as YAML, with errors that point at file lines.

Only `yaml.safe_load` is used: a YAML file a user hands over can never construct objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from vadagent.errors import ArtifactError, UsageError

M = TypeVar("M", bound=BaseModel)


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping key."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
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
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: cannot read: {exc}") from None
    return validate_yaml_data(model, parse_yaml(text, str(path)), str(path))


def dump_yaml_model(obj: BaseModel, path: Path) -> None:
    data = obj.model_dump(mode="json", exclude_none=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")
