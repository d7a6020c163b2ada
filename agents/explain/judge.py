"""The judge: one VLM call per candidate, returning a schema-enforced `JudgeAnswer`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, create_model

from vadagent.rules import RuleSet
from vadagent.taxonomy import Taxonomy
from vadagent.types import AnomalyEvent, Region, Relation, Severity, Verdict


class JudgeAnswer(BaseModel):
    """What the model is asked for; times and ids are filled in from the candidate, not guessed."""

    category: str
    label: str = Field(description="a short name for the event")
    what: str
    cause: str
    effect: str
    severity: int = Field(ge=0, le=4)
    severity_rationale: str
    confidence: float = Field(ge=0.0, le=1.0)
    evidence_frames: list[Annotated[int, Field(ge=0, le=63)]] = Field(description="numbers of the keyframes that show it")
    matched_rules: list[str] = Field(default_factory=list)


def answer_type(taxonomy: Taxonomy, rules: RuleSet | None) -> type[JudgeAnswer]:
    """JudgeAnswer with `category` (and rule ids) restricted to what this run knows, so
    constrained decoding cannot produce an unknown id."""
    fields: dict = {"category": (Literal[tuple(taxonomy.ids)], ...)}
    if rules is not None and rules.rules:
        fields["matched_rules"] = (list[Literal[tuple(r.id for r in rules.rules)]], Field(default_factory=list))
    return create_model("JudgeAnswer", __base__=JudgeAnswer, **fields)


def to_event(answer: JudgeAnswer, *, event_id: str, start_s: float, end_s: float, frame_times: list[float],
             relations: list[Relation], verdict: Verdict, notes: list[str], region: Region | None = None) -> AnomalyEvent:
    cited = [frame_times[i] for i in answer.evidence_frames if 0 <= i < len(frame_times)]
    return AnomalyEvent(
        id=event_id, start_s=start_s, end_s=end_s, category=answer.category, label=answer.label or answer.category,
        what=answer.what, cause=answer.cause, effect=answer.effect, severity=Severity(answer.severity),
        severity_rationale=answer.severity_rationale, confidence=answer.confidence,
        evidence_frames=sorted(set(cited)), matched_rules=list(dict.fromkeys(answer.matched_rules)),
        relations=relations, verdict=verdict, reflection_notes=notes, region=region,
    )
