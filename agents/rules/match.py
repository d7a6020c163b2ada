"""Deduction without a VLM: match frame descriptions to a RuleSet by meaning.

A description is split into short statements ("the third person rides a bicycle"); each statement
is compared, by what it says is done (its predicate), with every rule and each example a rule lists
(sentence embeddings, cosine). A statement's anomaly evidence is its closest anomaly rule minus its
closest normal rule, so "walking with a backpack" is explained away by a normal rule while "riding a
bicycle" is not; a frame scores its most anomalous statement. A rule set with only normal rules
scores a frame by how much of it (mean over statements) no normal rule covers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vadagent.rules import RuleKind, RuleSet
from vadagent.tools.embedding import embed

DEFAULT_THRESHOLD = 0.5  # cosine at which a statement counts as matching a rule (MiniLM scale)
_SPLIT = re.compile(r"(?<=[.;!?])\s+|,\s+(?:and\s+|while\s+|but\s+)?(?=(?:the|a|an|one|another|two|three|some|"
                    r"other|there)\b)", re.I)


_HEDGES = re.compile(r"\b(?:appears? to be|seems? to be|possibly|probably|likely|also|and so on|"
                     r"first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
                     r"\d+(?:st|nd|rd|th))\b", re.I)
_EXAMPLES = re.compile(r"\s*(?:\bsuch as\b|\be\.g\.|\bfor example\b|\bincluding\b|\(|:)\s*", re.I)
_ITEMS = re.compile(r"\s*(?:,|;|\bor\b|\band\b|/|\betc\.?)\s*", re.I)


def statements(description: str) -> list[str]:
    """Short statements of a description: sentences, and clauses that start a new subject, with
    hedges and ordinals dropped ("the third person seems to be riding" → "the person riding")."""
    parts = [" ".join(_HEDGES.sub(" ", p).split()).strip(" ,.") for p in _SPLIT.split(description.strip())]
    return [p for p in parts if len(p) >= 3] or ([description.strip()] if description.strip() else [])


_SUBJECT = re.compile(
    r"^(?:there (?:is|are) )?(?:(?:the|a|an|one|another|two|three|some|several|many|about \w+|a few|a small|a crowd of|"
    r"a group of|a pair of|groups of|pairs of|small|large)\s+)*(?:person|people|man|woman|men|women|individuals?|"
    r"students?|pedestrians?|groups?|crowd|pairs?|child|children)(?:\s+(?:is|are|who is|who are|of people))?\s*", re.I)


def predicate(text: str) -> str:
    """What a statement says someone does, without the generic subject ("the person riding a bicycle" →
    "riding a bicycle"): with the subject in, every sentence about a person looks alike to the embedder."""
    rest = _SUBJECT.sub("", text).strip()
    return rest if len(rest) >= 3 else text


def rule_variants(text: str) -> list[str]:
    """A rule and each example it lists: "non-walking movement such as riding a bicycle or scooter"
    also matches as "riding a bicycle" and "scooter" (one long sentence embeds too vaguely)."""
    head, *rest = _EXAMPLES.split(text, maxsplit=1)
    items = [i.strip(" .)") for i in _ITEMS.split(rest[0])] if rest else []
    return list(dict.fromkeys(predicate(v) for v in [text, head.strip(), *(i for i in items if len(i) >= 3)]))


@dataclass(frozen=True)
class FrameMatch:
    score: float
    fired: list[str]  # rules matching some statement (≥ threshold; anomaly rules also above every normal rule)
    best_statement: str


class RuleMatcher:
    def __init__(self, rules: RuleSet, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.rules, self.threshold = rules, threshold
        self.ids = [r.id for r in rules.rules]
        self.is_anomaly = np.array([r.kind == RuleKind.ANOMALY for r in rules.rules], bool)
        variants = [rule_variants(r.text) for r in rules.rules]
        self.owner = np.array([i for i, v in enumerate(variants) for _ in v], int)  # variant → rule
        self.vectors = embed([t for v in variants for t in v])

    def similarities(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), len(rules)) cosine similarity to each rule's closest variant."""
        out = np.full((len(texts), len(self.ids)), -1.0, np.float32)
        if len(texts) and len(self.ids):
            sims = embed([predicate(t) for t in texts]) @ self.vectors.T
            for rule in range(len(self.ids)):
                out[:, rule] = sims[:, self.owner == rule].max(1)
        return out

    def match(self, descriptions: Sequence[str]) -> list[FrameMatch]:
        split = [statements(d) for d in descriptions]
        # captions of consecutive frames repeat most statements: embed each distinct one once
        unique = list(dict.fromkeys(s for parts in split for s in parts))
        row = {text: i for i, text in enumerate(unique)}
        sims = self.similarities(unique)[[row[s] for parts in split for s in parts]]
        results, start = [], 0
        for parts in split:
            block = sims[start : start + len(parts)]
            start += len(parts)
            if not len(parts):
                results.append(FrameMatch(0.0, [], ""))
                continue
            normal = block[:, ~self.is_anomaly].max(1) if (~self.is_anomaly).any() else np.zeros(len(parts))
            if self.is_anomaly.any():
                evidence = block[:, self.is_anomaly].max(1) - normal
                score = float(evidence.max())
            else:  # normal rules only: how much of the frame they leave unexplained, on average
                evidence = 1.0 - normal
                score = float(evidence.mean())
            best = int(np.argmax(evidence))
            hit = block >= self.threshold  # an anomaly rule fires only where it beats every normal rule
            hit[:, self.is_anomaly] &= block[:, self.is_anomaly] > normal[:, None]
            fired = [self.ids[j] for j in np.flatnonzero(hit.any(0))]
            results.append(FrameMatch(score, fired, parts[best]))
        return results

    def scores(self, descriptions: Sequence[str]) -> np.ndarray:
        return np.array([m.score for m in self.match(descriptions)], np.float32)
