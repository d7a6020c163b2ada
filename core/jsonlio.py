"""Reading JSON Lines files a user hands over: one object per line, errors with line numbers."""

from __future__ import annotations

import json
from pathlib import Path

from vadagent.errors import UsageError


def read_jsonl(path: str | Path, *, missing: str = "file not found") -> list[dict]:
    return [row for _, row in numbered_jsonl(path, missing=missing)]


def numbered_jsonl(path: str | Path, *, missing: str = "file not found") -> list[tuple[int, dict]]:
    """(line number, object) pairs, blank lines skipped, so callers can point at the line."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: {missing}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text file (JSON Lines are UTF-8 text)") from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise UsageError(f"{path}: line {number} is not JSON ({error})") from None
        if not isinstance(row, dict):
            raise UsageError(f"{path}: line {number} is not a JSON object")
        rows.append((number, row))
    return rows
