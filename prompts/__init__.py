"""Prompt templates (files in this package) and a strict loader.

Templates are Jinja2 files rendered with `StrictUndefined`: a missing variable is an error, not
an empty string. `PROMPTS_VERSION` changes whenever a template's wording does; it is recorded
with every result that used the prompts.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib.resources import files

import jinja2

from vadagent.errors import UsageError

PROMPTS_VERSION = "2026-12-07.1"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # Prompts are plain text sent to a model, never HTML: autoescape would corrupt them.
    return jinja2.Environment(loader=jinja2.PackageLoader("vadagent.prompts", "."), undefined=jinja2.StrictUndefined,
                              autoescape=False, keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True)


def template_names() -> list[str]:
    return sorted(p.name.removesuffix(".jinja") for p in files("vadagent.prompts").iterdir()
                  if p.name.endswith(".jinja"))


def render(name: str, **variables: object) -> str:
    """Render `prompts/NAME.jinja`; unknown templates and missing variables are errors."""
    try:
        return _environment().get_template(f"{name}.jinja").render(**variables).strip()
    except jinja2.TemplateNotFound:
        raise UsageError(f"unknown prompt template {name!r}; available: {', '.join(template_names())}") from None
    except jinja2.UndefinedError as error:
        raise ValueError(f"prompt template {name!r}: {error}") from None


def fingerprint(name: str) -> str:
    """A short digest of a template's text, to tell edited prompts apart."""
    text = (files("vadagent.prompts") / f"{name}.jinja").read_text(encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()[:12]
