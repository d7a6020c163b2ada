"""JSON schemas for constrained decoding, and validation feedback for retries."""

from __future__ import annotations

import copy
import json
import re

from pydantic import BaseModel, ValidationError

# xgrammar 0.2.x lets control characters into strings bounded by `maxLength` (most outputs then
# fail to parse), so string lengths are bounded with a pattern over safe characters instead.
SAFE_CHAR = r'[^\x00-\x1f"\\]'
# What a terminal or a page acts on instead of showing: C0 and C1 controls (an escape sequence can
# rewrite a terminal's screen or set its clipboard) and bidirectional overrides (text shown in
# another order than it reads). Answers quote what a video shows, and not every server enforces
# the decoding schema, so these are taken out of every answer before it is validated.
UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` without the characters UNSHOWABLE matches (newlines and tabs stay)."""
    return UNSHOWABLE.sub("", text)


def printable_answer(text: str) -> str:
    """A model's answer with UNSHOWABLE characters taken out, in the raw text and in its JSON strings
    (where an escape such as \\u001b decodes to one); unchanged text is returned as it was."""
    text = printable(text)
    try:
        data = json.loads(text)
    except ValueError:
        return text  # not JSON: validation says so
    cleaned = _printable(data)
    return text if cleaned == data else json.dumps(cleaned, ensure_ascii=False)


def _printable(node: object) -> object:
    if isinstance(node, str):
        return printable(node)
    if isinstance(node, list):
        return [_printable(item) for item in node]
    if isinstance(node, dict):
        return {printable(key): _printable(value) for key, value in node.items()}
    return node


def decoding_schema(model: type[BaseModel], *, max_string: int = 240, max_items: int = 4) -> dict:
    """The model's JSON schema with every free string and array bounded, for grammar engines."""
    schema = copy.deepcopy(model.model_json_schema())
    _bound(schema, max_string, max_items)
    return schema


def _bound(node: object, max_string: int, max_items: int) -> None:
    if isinstance(node, list):
        for item in node:
            _bound(item, max_string, max_items)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and "enum" not in node and "const" not in node and "format" not in node:
        longest = node.pop("maxLength", max_string)
        shortest = node.pop("minLength", 0)
        node.setdefault("pattern", f"^{SAFE_CHAR}{{{shortest},{min(longest, max_string)}}}$")
    if node.get("type") == "array":
        node["maxItems"] = min(node.get("maxItems", max_items), max_items)
    for value in node.values():
        _bound(value, max_string, max_items)


def feedback(error: ValidationError, limit: int = 8) -> str:
    """The validation errors, as a message the model can act on."""
    lines = []
    for item in error.errors()[:limit]:
        where = ".".join(str(p) for p in item["loc"]) or "(the whole answer)"
        lines.append(f"- {where}: {item['msg']}")
    more = f"\n- … and {error.error_count() - limit} more" if error.error_count() > limit else ""
    return ("Your previous answer was not valid:\n" + "\n".join(lines) + more +
            "\nAnswer again with only a JSON object that matches the schema.")
