"""The JSON schemas of vadagent's public types, by name (`vadagent schema NAME`)."""

from __future__ import annotations

from pydantic import BaseModel

from vadagent.errors import UsageError
from vadagent.rules import Rule, RuleSet
from vadagent.taxonomy import Taxonomy
from vadagent.types import (
    AnomalyEvent,
    Candidate,
    FrameScores,
    Relation,
    VideoInfo,
    VideoReport,
)

SCHEMAS: dict[str, type[BaseModel]] = {
    model.__name__: model
    for model in (VideoInfo, FrameScores, Candidate, Rule, RuleSet, Taxonomy, Relation, AnomalyEvent, VideoReport)
}


def json_schema(name: str) -> dict:
    model = SCHEMAS.get(name) or {k.lower(): v for k, v in SCHEMAS.items()}.get(name.lower())
    if model is None:
        raise UsageError(f"unknown schema {name!r}; valid names: {', '.join(SCHEMAS)}")
    return model.model_json_schema()
