"""`vadagent report FOLDER`: explain every video of a folder into one report each, plus an index.

Resumable: the SQLite index records each video's state; a rerun skips videos whose report is
done. Each report is written to a temporary folder and renamed into place when complete, so an
interrupted run never leaves a half-written report that looks finished.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from vadagent.agents.explain.run import explain_video, write_report
from vadagent.app.report_html import write_html, write_index_html
from vadagent.config import Settings, write_run_manifest
from vadagent.devices import pick_device
from vadagent.errors import UsageError, VadagentError
from vadagent.rules import RuleSet, default_rules
from vadagent.taxonomy import load_taxonomy
from vadagent.tools.index import ReportIndex
from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec
from vadagent.tools.video import VIDEO_SUFFIXES
from vadagent.tools.vlm import VLMUnavailable, client_from_settings
from vadagent.tools.vlm.spec import DEFAULT_LOCAL_MODEL


def find_videos(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    videos = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise UsageError(f"{folder}: no videos ({', '.join(sorted(VIDEO_SUFFIXES))})")
    return videos


def _scorer(settings: Settings, output: Path, scorer_dir: Path | None, normal: list[str]) -> Scorer:
    saved = output / "scorer"
    if scorer_dir is not None:
        return Scorer.load(scorer_dir)
    if (saved / "scorer.json").is_file():  # a resumed run keeps the scorer it started with
        return Scorer.load(saved)
    if not normal:
        raise UsageError("give either --scorer DIR (from 'vadagent fit') or --normal FOOTAGE to fit on first")
    config = ScorerConfig(tier=settings.scorer.tier, max_side=settings.scorer.max_side)
    scorer = Scorer.fit([SourceSpec.parse(n) for n in normal], config, folder_fps=settings.video.folder_fps,
                        device=pick_device(settings.scorer.device))
    scorer.save(saved)
    return scorer


def report_command(settings: Settings, folder: Path, output: Path, *, vlm: str | None, scorer_dir: Path | None,
                   normal: list[str], taxonomy: str | None, rules_file: Path | None, console: Console) -> int:
    videos = find_videos(folder)
    output.mkdir(parents=True, exist_ok=True)
    scorer = _scorer(settings, output, scorer_dir, normal)
    try:
        client = client_from_settings(vlm or settings.vlm.model or DEFAULT_LOCAL_MODEL, settings.vlm)
    except VLMUnavailable as error:
        console.print(f"[yellow]no VLM:[/yellow] {escape(str(error))}", soft_wrap=True)
        client = None
    tax = load_taxonomy(taxonomy or settings.taxonomy)
    rules = RuleSet.from_yaml(rules_file) if rules_file else default_rules()
    index = ReportIndex(output / "index.sqlite")
    write_run_manifest(output, settings, sys.argv)
    done = skipped = failed = 0
    for number, video in enumerate(videos, 1):
        source, target = str(video), output / video.stem
        if index.status(source) == "done" and (target / "report.json").is_file():
            skipped += 1
            continue
        console.print(f"[{number}/{len(videos)}] {video.name}", highlight=False)
        index.start(source)
        partial = output / f".{video.stem}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            prompts: list[dict] = []
            report, scored = explain_video(source, scorer, client, tax, rules, sigma=settings.scorer.smoothing_sigma,
                                           calls_per_minute=settings.candidates.calls_per_minute,
                                           min_gap_s=settings.candidates.min_gap_s, prompts_log=prompts)
            write_report(partial, report, scored, settings.scorer.smoothing_sigma, prompts)
            write_html(partial / "report.html", report, scored.smoothed(settings.scorer.smoothing_sigma))
        except VadagentError as error:  # a corrupt video fails alone; the batch goes on
            index.fail(source, str(error))
            console.print(f"  [red]failed:[/red] {escape(str(error))}", soft_wrap=True)
            failed += 1
            continue
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        severities = [int(e.severity) for e in report.events if e.verdict != "rejected"]
        index.finish(source, str(target / "report.json"), candidates=len(report.scorer.candidates),
                     events=len(report.events), confirmed=sum(e.verdict == "confirmed" for e in report.events),
                     max_severity=max(severities) if severities else None)
        done += 1
    rows = index.rows()
    (output / "index.json").write_text(json.dumps([r.__dict__ for r in rows], indent=2) + "\n", encoding="utf-8")
    write_index_html(output / "index.html", rows)
    index.close()
    console.print(f"{done} explained, {skipped} already done, {failed} failed → {output}")
    if failed:
        return 1
    return 3 if client is None else 0
