"""Import AnomalyRuler's rule files (`rule_*.txt`: four markdown sections of numbered rules).

Sections: "Anomaly Human Activities", "Anomaly Non-Human Objects", "Rules for Normal Human
Activities", "Rules for Normal Non-Human Objects". Any other heading, or a numbered line before the
first heading, is an error naming the line, so a hand-edited file cannot lose rules silently.
"""

from __future__ import annotations

import re
from pathlib import Path

from vadagent.errors import UsageError
from vadagent.rules import Provenance, Rule, RuleKind, RuleSet, RuleSubject

_HEADING = re.compile(r"^\s*\*\*(?P<title>[^*]+?)\s*:?\s*\*\*\s*:?\s*$")
_ITEM = re.compile(r"^\s*(?P<n>\d+)[.)]\s+(?P<text>.+?)\s*$")


def _section(title: str) -> tuple[RuleKind, RuleSubject] | None:
    t = title.lower()
    kind = RuleKind.ANOMALY if "anomal" in t else RuleKind.NORMAL if "normal" in t else None
    subject = RuleSubject.OBJECT if ("object" in t or "non-human" in t) else \
        RuleSubject.HUMAN_ACTIVITY if ("human" in t or "activit" in t) else None
    return (kind, subject) if kind and subject else None


def import_anomalyruler(path: str | Path, scene: str | None = None) -> RuleSet:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    current: tuple[RuleKind, RuleSubject] | None = None
    rules: list[Rule] = []
    counters: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        if heading := _HEADING.match(line):
            current = _section(heading["title"])
            if current is None:
                raise UsageError(f"{path}: line {number}: unknown section {heading['title']!r} (expected normal/anomaly "
                                 "× human activities/non-human objects)")
            continue
        item = _ITEM.match(line)
        if item is None:
            raise UsageError(f"{path}: line {number}: expected a numbered rule ('1. text'), got {line.strip()[:60]!r}")
        if current is None:
            raise UsageError(f"{path}: line {number}: a rule before any section heading")
        kind, subject = current
        prefix = ("a" if kind == RuleKind.ANOMALY else "n") + ("h" if subject == RuleSubject.HUMAN_ACTIVITY else "o")
        counters[prefix] = counters.get(prefix, 0) + 1
        rules.append(Rule(id=f"{prefix}{counters[prefix]}", text=item["text"], kind=kind, subject=subject,
                          provenance=Provenance(origin="imported", sources=[f"{path.name}:{number}"])))
    if not rules:
        raise UsageError(f"{path}: no rules found")
    return RuleSet(scene=scene or path.stem.removeprefix("rule_"), rules=rules, induced_from=[f"AnomalyRuler {path.name}"])
