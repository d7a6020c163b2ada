"""`vadagent report FOLDER`: explain every video of a folder into one report each, plus an index.

Resumable: the SQLite index records each video's state; a rerun skips videos whose report is
done. Each report is written to a temporary folder and renamed into place when complete, so an
interrupted run never leaves a half-written report that looks finished. Videos run concurrently
in one event loop, as many at once as the model backend serves (`VLMClient.capacity`), so the
client's request limit holds across the whole batch.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vadagent.agents.explain.run import aexplain_video, write_report
from vadagent.app.report_html import write_html, write_index_html
from vadagent.app.scoring import candidate_policy, scorer_config
from vadagent.config import Settings, write_run_manifest
from vadagent.devices import pick_device
from vadagent.errors import UsageError, VadagentError
from vadagent.rules import RuleSet, default_rules
from vadagent.taxonomy import Taxonomy, load_taxonomy
from vadagent.tools.index import ReportIndex
from vadagent.tools.scorer import Scorer, SourceSpec
from vadagent.tools.video import VIDEO_SUFFIXES
from vadagent.tools.vlm import VLMClient, VLMUnavailable, client_from_settings
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
    config = scorer_config(settings)
    scorer = Scorer.fit([SourceSpec.parse(n) for n in normal], config, folder_fps=settings.video.folder_fps,
                        device=pick_device(settings.scorer.device))
    scorer.save(saved)
    return scorer


@dataclass
class _Batch:
    settings: Settings
    output: Path
    scorer: Scorer
    client: VLMClient | None
    taxonomy: Taxonomy
    rules: RuleSet
    index: ReportIndex
    console: Console

    async def explain_one(self, video: Path) -> bool:
        """Explain one video into OUT/<stem>/ atomically; record the outcome. False when it failed."""
        source, target = str(video), self.output / video.stem
        partial = self.output / f".{video.stem}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        self.index.start(source)
        sigma = self.settings.scorer.smoothing_sigma
        try:
            prompts: list[dict] = []
            report, scored = await aexplain_video(
                source, self.scorer, self.client, self.taxonomy, self.rules, sigma=sigma,
                policy=candidate_policy(self.settings), prompts_log=prompts)
            await asyncio.to_thread(self._write, partial, report, scored, prompts)
        except VadagentError as error:  # a corrupt video fails alone; the batch goes on
            self.index.fail(source, str(error))
            self.console.print(f"  [red]{escape(video.name)} failed:[/red] {escape(str(error))}", soft_wrap=True)
            return False
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        severities = [int(e.severity) for e in report.events if e.verdict != "rejected"]
        self.index.finish(source, str(target / "report.json"), candidates=len(report.scorer.candidates),
                          events=len(report.events), confirmed=sum(e.verdict == "confirmed" for e in report.events),
                          max_severity=max(severities) if severities else None)
        self.console.print(f"  {escape(video.name)}: {len(report.scorer.candidates)} candidate(s), "
                           f"{len(report.events)} event(s)", highlight=False)
        return True

    def _write(self, folder: Path, report, scored, prompts: list[dict]) -> None:
        sigma = self.settings.scorer.smoothing_sigma
        write_report(folder, report, scored, sigma, prompts)
        write_html(folder / "report.html", report, scored.smoothed(sigma))

    async def run(self, videos: list[Path], workers: int) -> int:
        """Explain `videos`, at most `workers` at once, with a progress bar; returns how many failed."""
        gate = asyncio.Semaphore(workers)
        columns = (TextColumn("explaining"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task("videos", total=len(videos))

            async def one(video: Path) -> bool:
                async with gate:
                    ok = await self.explain_one(video)
                bar.advance(task)
                return ok

            results = await asyncio.gather(*(one(v) for v in videos))
        return results.count(False)


def report_command(settings: Settings, folder: Path, output: Path, *, vlm: str | None, scorer_dir: Path | None,
                   normal: list[str], taxonomy: str | None, rules_file: Path | None, console: Console,
                   workers: int | None = None) -> int:
    videos = find_videos(folder)
    output.mkdir(parents=True, exist_ok=True)
    scorer = _scorer(settings, output, scorer_dir, normal)
    try:
        client = client_from_settings(vlm or settings.vlm.model or DEFAULT_LOCAL_MODEL, settings.vlm)
    except VLMUnavailable as error:
        console.print(f"[yellow]no VLM:[/yellow] {escape(str(error))}", soft_wrap=True)
        client = None
    index = ReportIndex(output / "index.sqlite")
    write_run_manifest(output, settings, sys.argv)
    pending = [v for v in videos if not (index.status(str(v)) == "done" and (output / v.stem / "report.json").is_file())]
    workers = workers or (client.capacity if client is not None else 2)  # no VLM: scoring only, one per core
    console.print(f"{len(videos)} video(s): {len(videos) - len(pending)} already done, {len(pending)} to explain, "
                  f"{min(workers, max(len(pending), 1))} at a time", highlight=False)
    batch = _Batch(settings, output, scorer, client, load_taxonomy(taxonomy or settings.taxonomy),
                   RuleSet.from_yaml(rules_file) if rules_file else default_rules(), index, console)
    try:
        failed = asyncio.run(batch.run(pending, workers))
    finally:
        rows = index.rows()
        (output / "index.json").write_text(json.dumps([r.__dict__ for r in rows], indent=2) + "\n", encoding="utf-8")
        write_index_html(output / "index.html", rows)
        index.close()
    console.print(f"{len(pending) - failed} explained, {len(videos) - len(pending)} already done, {failed} failed → {output}")
    if failed:
        return 1
    return 3 if client is None else 0
