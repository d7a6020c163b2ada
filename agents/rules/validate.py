"""Validate a RuleSet on held-out normal frames: each rule's firing rate; anomaly rules that fire
on normal footage are false alarms and are removed (kept under `removed`, with their figures)."""

from __future__ import annotations

import numpy as np

from vadagent.agents.rules.match import DEFAULT_THRESHOLD, RuleMatcher
from vadagent.rules import RuleKind, RuleSet, RuleValidation

MAX_FALSE_ALARM = 0.05


def validate_rules(rules: RuleSet, descriptions: list[str], clips: list[str], *, threshold: float = DEFAULT_THRESHOLD,
                   max_false_alarm: float = MAX_FALSE_ALARM) -> RuleSet:
    """A rule fires on a frame as `RuleMatcher` says: some statement matches it (≥ threshold) and, for
    an anomaly rule, better than any normal rule."""
    if not descriptions:
        raise ValueError("validation needs at least one held-out normal frame description")
    fired = [set(m.fired) for m in RuleMatcher(rules, threshold).match(descriptions)]
    hits = np.array([[r.id in f for r in rules.rules] for f in fired], bool).reshape(len(descriptions), -1)  # frame × rule
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
