"""Per-batch rule induction: by a VLM (schema-enforced Rule objects), or from the text alone.

The text inducer needs no model: every person, object and scene phrase of a batch's descriptions
is a candidate normal rule; aggregation across batches then keeps the ones that recur. It gives
normal rules only (it cannot imagine what would be anomalous), which deduction handles by scoring
what no normal rule covers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, Field

from vadagent.agents.rules.describe import FrameDescription, Phrase
from vadagent.prompts import render
from vadagent.rules import RuleKind, RuleSubject
from vadagent.tools.vlm import Message, Sampling, Usage, VLMClient

MAX_RULES_PER_BATCH = 12


class InducedRule(BaseModel):
    text: Phrase
    kind: RuleKind
    subject: RuleSubject = RuleSubject.OTHER


class InducedRules(BaseModel):
    rules: Annotated[list[InducedRule], Field(min_length=1, max_length=MAX_RULES_PER_BATCH)]


@dataclass
class DescribedFrame:
    ref: str  # clip#frame@time
    source: str
    description: FrameDescription


@dataclass
class CandidateRule:
    """A rule proposed by one batch, before aggregation."""

    text: str
    kind: RuleKind
    subject: RuleSubject
    batch: int
    frames: list[str] = field(default_factory=list)  # clip#frame@time references
    sources: list[str] = field(default_factory=list)  # the clips' paths


def induce_from_text(batch: int, frames: list[DescribedFrame]) -> list[CandidateRule]:
    found: dict[tuple[str, RuleSubject], CandidateRule] = {}
    for frame in frames:
        d = frame.description
        for phrases, subject in ((d.people, RuleSubject.HUMAN_ACTIVITY), (d.objects, RuleSubject.OBJECT),
                                 ([d.scene], RuleSubject.SCENE)):
            for phrase in phrases:
                key = (" ".join(phrase.lower().split()).rstrip("."), subject)
                rule = found.setdefault(key, CandidateRule(key[0], RuleKind.NORMAL, subject, batch))
                rule.frames.append(frame.ref)
                rule.sources.append(frame.source)
    return list(found.values())


async def induce_with_vlm(client: VLMClient, batch: int, frames: list[DescribedFrame], site: str,
                          prompts: list[dict] | None = None) -> tuple[list[CandidateRule], Usage]:
    prompt = render("induce_rules", site=site, max_rules=MAX_RULES_PER_BATCH,
                    descriptions=[{"ref": f.ref, "people": f.description.people, "objects": f.description.objects,
                                   "scene": f.description.scene} for f in frames])
    if prompts is not None:
        prompts.append({"step": "induce", "batch": batch, "prompt": prompt})
    result = await client.agenerate([Message.user(prompt)], InducedRules, Sampling(max_tokens=1024))
    refs, sources = [f.ref for f in frames], list(dict.fromkeys(f.source for f in frames))
    return [CandidateRule(r.text, r.kind, r.subject, batch, list(refs), sources) for r in result.output.rules], result.usage
