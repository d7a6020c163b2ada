"""What the `vadagent` command's modules share: the settings, loaded once per invocation (the root callback
loads them from --config; a command asks `settings()`), the two consoles (progress and errors on stderr, results
on stdout) and the scorer tiers' options."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from vadagent.config import Settings, load_settings
from vadagent.errors import UsageError

console = Console(stderr=True)
out = Console()


VLM_HELP = "Model string (default: settings vlm.model, else the in-process default)."


class State:
    settings: Settings | None = None
    config_file: Path | None = None


def _tier_help() -> str:
    from vadagent.tools.scorer.tiers import TIERS

    return "; ".join(f"{name} ({cls.summary})" for name, cls in TIERS.items()) + ". Default from settings: motion,objects."


TIER_HELP = _tier_help()


def tier_names(tiers: str | None, tier: str | None) -> list[str] | None:
    """--tiers a,b or --tier a, checked against the registry."""
    from vadagent.tools.scorer.tiers import tier_class

    if tiers and tier:
        raise UsageError("give --tiers A,B or --tier A, not both")
    names = [t.strip() for t in (tiers or tier or "").split(",") if t.strip()]
    for name in names:
        tier_class(name)
    return names or None


def settings() -> Settings:
    if State.settings is None:
        State.settings = load_settings(State.config_file)
    return State.settings
