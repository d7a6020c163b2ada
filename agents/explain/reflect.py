"""Taxonomy-driven reflection: check a judge answer and decide what happens next.

Pure functions of the answer, the taxonomy and the rules (SmartHome-Bench's taxonomy-driven
reflective chain is the anchor): no model call here, so every branch is testable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vadagent.agents.explain.judge import JudgeAnswer
from vadagent.rules import RuleKind, RuleSet
from vadagent.taxonomy import Taxonomy

Action = Literal["confirm", "reask", "widen", "reject"]
VAGUE = {"", "unknown", "unclear", "n/a", "none", "not visible"}
MIN_CONFIDENCE = 0.35
STRONG_EVIDENCE = 2.0  # peak score / threshold above which "normal" needs a second look


@dataclass
class Reflection:
    action: Action
    critique: list[str] = field(default_factory=list)


def reflect(answer: JudgeAnswer, taxonomy: Taxonomy, rules: RuleSet | None, frames: int,
            evidence: float = 0.0) -> Reflection:
    """`evidence` is the candidate's peak score over the threshold: "normal" against strong motion
    evidence is never accepted silently (text in a scene may have talked the model into it)."""
    if answer.category == "normal":
        if evidence >= STRONG_EVIDENCE:
            return Reflection("reask", [f"the motion evidence is strong ({evidence:.1f}× the threshold): say what moves "
                                        "and why, and answer 'normal' only if that motion is ordinary here"])
        return Reflection("reject", ["the judge found the moment normal"])
    category = taxonomy.get(answer.category)
    critique = []
    if answer.severity == 0:
        critique.append(f"severity 0 means nothing anomalous, yet the category is {category.id!r}; "
                        "choose 'normal' or a severity of 1-4")
    if category.typical_severity is not None and abs(answer.severity - category.typical_severity) >= 3:
        critique.append(f"severity {answer.severity} is far from what {category.name!r} usually is "
                        f"({category.typical_severity}): {category.severity or 'check the effect'}")
    if not [i for i in answer.evidence_frames if 0 <= i < frames]:
        critique.append(f"cite at least one keyframe number (0-{frames - 1}) that shows the event")
    normal = {r.id for r in (rules.by_kind(RuleKind.NORMAL) if rules else [])}
    if normal and answer.matched_rules and set(answer.matched_rules) <= normal:
        if evidence < STRONG_EVIDENCE:  # deduction: the best match is a normal rule and nothing else flags it
            return Reflection("reject", [f"the judge matched only normal rules ({', '.join(answer.matched_rules)})"])
        critique.append("every rule you matched describes normal activity, yet the motion evidence is strong "
                        f"({evidence:.1f}× the threshold): say what breaks them, or answer 'normal'")
    if critique:
        return Reflection("reask", critique)
    if answer.cause.strip().lower() in VAGUE or answer.confidence < MIN_CONFIDENCE:
        return Reflection("widen", ["the cause is not visible in these frames: look further before and after"])
    return Reflection("confirm")
