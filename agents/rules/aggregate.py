"""Aggregate per-batch rules: merge the ones that mean the same, keep the ones that recur.

Meaning is compared with sentence embeddings (cosine, greedy clustering in order of frequency);
support is the number of distinct batches a merged rule came from (AnomalyRuler keeps rules that
recur across batches; here the count is recorded as provenance).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from vadagent.agents.rules.induce import CandidateRule
from vadagent.rules import Provenance, Rule, RuleKind
from vadagent.tools.embedding import embed

MERGE_SIMILARITY = 0.8


def aggregate(candidates: list[CandidateRule], *, min_support: int = 2, merge_similarity: float = MERGE_SIMILARITY,
              model: str | None = None, origin: str = "induced", max_frames: int = 12) -> list[Rule]:
    rules: list[Rule] = []
    for kind in (RuleKind.NORMAL, RuleKind.ANOMALY):
        group = [c for c in candidates if c.kind == kind]
        if not group:
            continue
        counts = Counter(c.text for c in group)
        texts = sorted(counts, key=lambda t: (-counts[t], t))  # most frequent first: it names the cluster
        vectors = embed(texts)
        cluster_of = np.full(len(texts), -1)
        heads: list[int] = []
        for i in range(len(texts)):
            if heads:
                sims = vectors[heads] @ vectors[i]
                best = int(np.argmax(sims))
                if sims[best] >= merge_similarity:
                    cluster_of[i] = best
                    continue
            cluster_of[i] = len(heads)
            heads.append(i)
        for number, head in enumerate(heads):
            members = {texts[i] for i in np.flatnonzero(cluster_of == number)}
            found = [c for c in group if c.text in members]
            batches = sorted({c.batch for c in found})
            if len(batches) < min_support:
                continue
            subject = Counter(c.subject for c in found).most_common(1)[0][0]
            frames = list(dict.fromkeys(f for c in found for f in c.frames))
            rules.append(Rule(
                id=f"{'n' if kind == RuleKind.NORMAL else 'a'}{sum(r.kind == kind for r in rules) + 1}",
                text=texts[head][0].upper() + texts[head][1:], kind=kind, subject=subject,
                provenance=Provenance(origin=origin, sources=sorted({s for c in found for s in c.sources}),
                                      frames=frames[:max_frames], support=len(batches), model=model),
            ))
    return rules
