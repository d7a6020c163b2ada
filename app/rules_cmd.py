"""`vadagent rules induce | validate | show | diff | test | import`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vadagent.app.job import require_vlm
from vadagent.app.scoring import progress_bar
from vadagent.config import Settings
from vadagent.errors import UsageError
from vadagent.rules import Rule, RuleKind, RuleSet
from vadagent.tools.scorer.footage import SourceSpec
from vadagent.tools.video import open_video


def induce_command(settings: Settings, normal: list[str], output: Path, *, vlm: str | None, site: str,
                   inducer: str, frames: int, heldout_frames: int, batch_size: int, min_support: int,
                   max_false_alarm: float, fps: float | None, console: Console) -> int:
    from vadagent.agents.rules.graph import InduceDeps, build_induce_graph

    if output.suffix.lower() not in {".yaml", ".yml"}:
        raise UsageError(f"{output}: the rule set is written as YAML; name it .yaml")
    specs = SourceSpec.each(normal)
    folder_fps = fps or settings.video.folder_fps
    for spec in specs:  # each opened before the model loads (minutes for a real one), so a bad one fails first
        with open_video(spec.path, folder_fps=folder_fps):
            pass
    client = require_vlm(settings, vlm, "rules need a VLM to describe frames")
    with progress_bar(console, settings.quiet) as progress:
        deps = InduceDeps(client=client, site=site, inducer=inducer, frames=frames, heldout_frames=heldout_frames,
                          batch_size=batch_size, min_support=min_support, max_false_alarm=max_false_alarm,
                          folder_fps=folder_fps, progress=progress)
        state = asyncio.run(build_induce_graph(deps).ainvoke({"sources": specs, "candidates": []}))
    rules: RuleSet = state["rules"]
    rules.to_yaml(output)
    log = output.with_suffix(".prompts.jsonl")
    log.write_text("".join(json.dumps(p) + "\n" for p in deps.prompts), encoding="utf-8")
    normal_n, anomaly_n = len(rules.by_kind(RuleKind.NORMAL)), len(rules.by_kind(RuleKind.ANOMALY))
    v = rules.validation
    console.print(f"{normal_n} normal and {anomaly_n} anomaly rule(s) from {len(state['described'])} described frames "
                  f"({deps.failed_descriptions} failed); validation on {v.frames_checked} held-out frames: "
                  f"{len(rules.removed)} rule(s) removed, remaining anomaly rules fire on {v.frames_fired}; "
                  f"{deps.usage.prompt_tokens + deps.usage.completion_tokens} tokens → {output}", highlight=False)
    return 0


def validate_command(path: Path, out: Console) -> int:
    rules = RuleSet.from_yaml(path)  # raises UsageError with line numbers
    out.print(f"{path}: valid RuleSet '{rules.scene}' v{rules.version}: {len(rules.by_kind(RuleKind.NORMAL))} normal, "
              f"{len(rules.by_kind(RuleKind.ANOMALY))} anomaly rule(s)" + (f", {len(rules.removed)} removed at validation"
                                                                          if rules.removed else ""), highlight=False)
    return 0


def _validation_cell(rule: Rule) -> str:
    v = rule.validation
    return f"{v.frames_fired}/{v.frames_checked} ({v.false_alarm_rate:.0%})" if v and v.frames_checked else "—"


def show_command(path: Path, out: Console) -> int:
    rules = RuleSet.from_yaml(path)
    out.print(f"[bold]{escape(rules.scene)}[/bold] v{rules.version} · induced from {len(rules.induced_from)} source(s)"
              + (f" · held-out check: {rules.validation.frames_fired}/{rules.validation.frames_checked} frames fire an "
                 "anomaly rule" if rules.validation else ""))
    for title, group in (("rules", rules.rules), ("removed at validation", rules.removed)):
        if not group:
            continue
        table = Table(title=title, show_lines=False)
        for column in ("id", "kind", "subject"):
            table.add_column(column, no_wrap=True)
        table.add_column("text", overflow="fold", ratio=1)
        table.add_column("from", no_wrap=True)
        table.add_column("held-out fires", no_wrap=True)
        for r in group:
            origin = r.provenance.origin + (f" ×{r.provenance.support}" if r.provenance.support else "")
            table.add_row(r.id, r.kind.value, r.subject.value.replace("human_activity", "activity"), escape(r.text),
                          origin, _validation_cell(r))
        out.print(table)
    return 0


def diff_rulesets(a: RuleSet, b: RuleSet) -> list[str]:
    """Human-readable differences, by rule id: added, removed, changed fields."""
    lines = []
    if (a.scene, a.version) != (b.scene, b.version):
        lines.append(f"~ set: {a.scene} v{a.version} → {b.scene} v{b.version}")
    old, new = {r.id: r for r in a.rules}, {r.id: r for r in b.rules}
    for rule_id in old.keys() - new.keys():
        lines.append(f"- {rule_id} [{old[rule_id].kind.value}] {old[rule_id].text}")
    for rule_id in new.keys() - old.keys():
        lines.append(f"+ {rule_id} [{new[rule_id].kind.value}] {new[rule_id].text}")
    for rule_id in old.keys() & new.keys():
        before, after = old[rule_id].model_dump(mode="json"), new[rule_id].model_dump(mode="json")
        for key in before.keys() | after.keys():
            if before.get(key) != after.get(key):
                lines.append(f"~ {rule_id}.{key}: {_short(before.get(key))} → {_short(after.get(key))}")
    removed_a, removed_b = {r.id for r in a.removed}, {r.id for r in b.removed}
    lines += [f"x {i} removed at validation" for i in removed_b - removed_a]
    return sorted(lines, key=lambda line: (line[2:].split()[0].split(".")[0], line))


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def diff_command(a: Path, b: Path, out: Console) -> int:
    lines = diff_rulesets(RuleSet.from_yaml(a), RuleSet.from_yaml(b))
    for line in lines or ["no differences"]:
        style = {"+": "green", "-": "red", "x": "red", "~": "yellow"}.get(line[0], "")
        out.print(f"[{style}]{escape(line)}[/{style}]" if style else escape(line), highlight=False, soft_wrap=True)
    return 0


def test_command(settings: Settings, rules_file: Path, video: str, *, vlm: str | None, every_s: float,
                 fps: float | None, as_json: bool, out: Console, console: Console) -> int:
    """Describe a frame every `every_s` seconds and show which rules fire there."""
    from vadagent.agents.rules.graph import InduceDeps, describe_frames
    from vadagent.agents.rules.match import RuleMatcher
    from vadagent.agents.rules.sampling import SampledFrame

    rules = RuleSet.from_yaml(rules_file)
    folder_fps = fps or settings.video.folder_fps
    with open_video(video, folder_fps=folder_fps) as source:
        info = source.info
    times = np.arange(0.0, info.duration_s, every_s)
    frames = [SampledFrame(video, info.frame_at(float(t)), float(t)) for t in times]
    client = require_vlm(settings, vlm, "rules need a VLM to describe frames")
    with progress_bar(console, settings.quiet) as progress:
        deps = InduceDeps(client=client, site=rules.scene, folder_fps=folder_fps, progress=progress)
        described = asyncio.run(describe_frames(deps, frames, "describing frames"))
    matches = RuleMatcher(rules).match([d.description.text() for d in described])
    texts = {r.id: r for r in rules.rules}
    rows = [{"time_s": float(d.ref.rsplit("@", 1)[1].rstrip("s")), "frame": d.ref, "score": round(m.score, 4),
             "fired": m.fired, "anomaly_rules": [i for i in m.fired if texts[i].kind == RuleKind.ANOMALY],
             "statement": m.best_statement} for d, m in zip(described, matches)]
    if as_json:
        out.print_json(json.dumps({"rules": str(rules_file), "video": video, "frames": rows}))
        return 0
    table = Table(title=f"{rules.scene}: rules firing in {Path(video).name}")
    for column in ("time", "score", "anomaly rules", "normal rules", "most anomalous statement"):
        table.add_column(column, overflow="fold")
    for row in rows:
        normal = [i for i in row["fired"] if i not in row["anomaly_rules"]]
        table.add_row(f"{row['time_s']:.1f} s", f"{row['score']:+.2f}", ", ".join(row["anomaly_rules"]) or "—",
                      ", ".join(normal) or "—", escape(row["statement"]))
    out.print(table)
    return 0


def add_command(path: Path, text: str, *, kind: str, subject: str, rule_id: str | None, open_world: bool,
                out: Console) -> int:
    """Append a hand-written rule (or an open-world definition) and bump the set's version."""
    from vadagent.rules import Provenance, RuleSubject

    rules = RuleSet.from_yaml(path) if path.exists() else RuleSet(scene=path.stem)
    try:
        kind_value, subject_value = RuleKind(kind), RuleSubject(subject)
    except ValueError as error:
        raise UsageError(f"{error}; kind is normal|anomaly, subject is "
                         f"{'|'.join(s.value for s in RuleSubject)}") from None
    taken = {r.id for r in rules.rules + rules.removed}
    prefix = "n" if kind_value == RuleKind.NORMAL else "a"
    rule_id = rule_id or next(f"{prefix}{i}" for i in range(1, len(taken) + 2) if f"{prefix}{i}" not in taken)
    if rule_id in taken:
        raise UsageError(f"{path}: rule id {rule_id!r} is taken")
    rule = Rule(id=rule_id, text=text, kind=kind_value, subject=subject_value,
                provenance=Provenance(origin="open_world" if open_world else "manual"))
    updated = rules.model_copy(update={"rules": rules.rules + [rule], "version": rules.version + 1})
    RuleSet.model_validate(updated.model_dump())  # the whole set still validates
    updated.to_yaml(path)
    out.print(escape(f"{rule_id} [{kind_value.value}] {text} → {path} v{updated.version}"), highlight=False, soft_wrap=True)
    return 0


def import_command(path: Path, output: Path, fmt: str, scene: str | None, out: Console) -> int:
    from vadagent.agents.rules.anomalyruler import import_anomalyruler

    if fmt != "anomalyruler":
        raise UsageError(f"unknown rule format {fmt!r}; known: anomalyruler")
    rules = import_anomalyruler(path, scene)
    rules.to_yaml(output)
    out.print(f"{len(rules.rules)} rules ({len(rules.by_kind(RuleKind.NORMAL))} normal, "
              f"{len(rules.by_kind(RuleKind.ANOMALY))} anomaly) → {output}", highlight=False)
    return 0
