"""Validate a RuleSet on held-out normal frames: each rule's firing rate; anomaly rules that fire
on normal footage are false alarms and are removed (kept under `removed`, with their figures)."""

from __future__ import annotations

import numpy as np

from vadagent.agents.rules.match import DEFAULT_THRESHOLD, RuleMatcher, statements
from vadagent.rules import RuleKind, RuleSet, RuleValidation

MAX_FALSE_ALARM = 0.05


def validate_rules(rules: RuleSet, descriptions: list[str], clips: list[str], *, threshold: float = DEFAULT_THRESHOLD,
                   max_false_alarm: float = MAX_FALSE_ALARM) -> RuleSet:
    """An anomaly rule fires on a frame when some statement matches it (≥ threshold) better than any
    normal rule; a normal rule fires when some statement matches it (≥ threshold)."""
    if not descriptions:
        raise ValueError("validation needs at least one held-out normal frame description")
    matcher = RuleMatcher(rules, threshold)
    hits = np.zeros((len(descriptions), len(rules.rules)), bool)  # frame × rule
    normal_cols = ~matcher.is_anomaly
    for row, description in enumerate(descriptions):
        sims = matcher.similarities(statements(description))
        if not len(sims):
            continue
        best_normal = sims[:, normal_cols].max(1, keepdims=True) if normal_cols.any() else np.full((len(sims), 1), -1.0)
        hit = sims >= threshold
        hit[:, matcher.is_anomaly] &= sims[:, matcher.is_anomaly] > best_normal
        hits[row] = hit.any(0)
    kept, removed, kept_anomaly = [], [], np.zeros(len(rules.rules), bool)
    for column, (rule, count) in enumerate(zip(rules.rules, hits.sum(0).tolist())):
        figures = RuleValidation(clips=clips, frames_checked=len(descriptions), frames_fired=count, threshold=threshold)
        rule = rule.model_copy(update={"validation": figures})
        drop = rule.kind == RuleKind.ANOMALY and figures.false_alarm_rate > max_false_alarm
        (removed if drop else kept).append(rule)
        kept_anomaly[column] = rule.kind == RuleKind.ANOMALY and not drop
    # the set's own false alarms: held-out frames on which any kept anomaly rule fires
    summary = RuleValidation(clips=clips, frames_checked=len(descriptions),
                             frames_fired=int(hits[:, kept_anomaly].any(1).sum()),
                             threshold=threshold)
    return rules.model_copy(update={"rules": kept, "removed": rules.removed + removed, "validation": summary})
