"""The `explain` command: check the inputs, build the job, resolve the scorer, write the report."""

from __future__ import annotations

import itertools
import os
import re
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

from vadagent.agents.chat.session import load_report
from vadagent.agents.explain.run import left_in_progress
from vadagent.app.job import ClientLoad, Job
from vadagent.app.outputs import writes_output
from vadagent.app.scoring import SHOWN_CANDIDATES, folder_rate, progress_bar, say_other_view, show_candidates
from vadagent.app.stopping import end_stopped, hold_further_stops
from vadagent.config import Settings, write_run_manifest
from vadagent.errors import UsageError
from vadagent.tools.scorer import Scorer
from vadagent.tools.scorer.scorer import Progress
from vadagent.tools.video import open_video

EXIT_NOT_EXPLAINED = 3


def _end_stopped(output: Path, console: Console) -> NoReturn:
    """Ctrl-C or SIGTERM: say what `output` holds, and end (typer would end with 130 and no word)."""
    hold_further_stops()
    try:
        stand_in = left_in_progress(load_report(output)[0])
    except UsageError:  # no report there
        stand_in = False
    console.print(f"stopped; {output} holds the detection only: the same command again explains it" if stand_in
                  else "stopped before this run wrote a report", highlight=False, soft_wrap=True)
    end_stopped()


def set_aside_conversations(output: Path, video: str, console: Console) -> None:
    """A folder holding another video's report keeps its conversations about that video under a name of their own
    (chat-OLDNAME.sqlite, said): a chat here after this run is about the new video from its first question, and
    the old conversations are not lost. A rerun on the same video keeps them where they are."""
    store = output / "chat.sqlite"
    if not store.is_file():
        return
    try:
        old = load_report(output)[0].video.path
    except UsageError:  # no readable report beside it: nothing says whose conversations they are
        return
    if old == video or ("://" not in old and "://" not in video and os.path.abspath(old) == os.path.abspath(video)):
        return
    stem = re.sub(r"[^\w.-]+", "_", Path(old.split("?")[0]).stem) or "video"
    aside = next(p for n in itertools.count(1) if not (p := output / f"chat-{stem}{f'-{n}' if n > 1 else ''}.sqlite").exists())
    for suffix in ("", "-wal", "-shm"):  # SQLite's journal files travel with it
        if (output / f"chat.sqlite{suffix}").exists():
            (output / f"chat.sqlite{suffix}").rename(aside.with_name(aside.name + suffix))
    console.print(f"{output} held the report of {escape(Path(old).name)}: its conversations are kept in {aside.name}",
                  highlight=False, soft_wrap=True)


@writes_output
def explain_command(settings: Settings, video: str, output: Path, *, vlm: str | None, scorer_dir: Path | None,
                    normal: list[str], taxonomy: str | None, rules_file: Path | None, fps: float | None,
                    console: Console, client_load: ClientLoad | None = None, progress: Progress | None = None) -> int:
    """`client_load`: a caller's load of its model (started or done), used instead of loading `vlm`.
    `progress`: a caller's `(stage, done, total)` for the fitting and scoring (the web UI's bar), else a
    bar on the terminal. With neither a scorer nor normal footage, the scorer is fitted on the video's
    opening (said, and noted)."""
    if scorer_dir is not None and normal:
        raise UsageError("give either --scorer DIR (from 'vadagent fit') or --normal FOOTAGE to fit on, not both")
    scorer = Scorer.load(scorer_dir) if scorer_dir is not None else None
    fps = folder_rate(settings, fps, scorer, [video], console)
    with open_video(video, folder_fps=fps or settings.video.folder_fps):
        pass  # the video is readable: checked before anything slow
    set_aside_conversations(output, video, console)
    job = Job.build(settings, console, vlm=vlm, taxonomy=taxonomy, rules_file=rules_file, fps=fps,
                    client_load=client_load)
    try:
        if scorer is None and normal:
            scorer = job.fit(normal, console)  # (with its own bar)
        # the bar is gone before the model is asked: a stop then ends the process at once (app/stopping.py)
        with progress_bar(console, settings.quiet) if progress is None else nullcontext(progress) as scoring:
            detection, note = job.detect(video, scorer, progress=scoring)
        if scorer is None:
            console.print(note, highlight=False, soft_wrap=True)
        say_other_view(console, detection.scored, video)
        prompts: list[dict] = []
        said = None if settings.quiet else (  # a line each on the terminal: a bar would outlive a stop (os._exit)
            lambda stage, done, total: console.print(f"{stage}: {done}/{total}", highlight=False))
        explained = job.explain(detection, prompts, progress=progress or said,
                                on_detected=lambda detected, scores: job.write(output, detected, scores, []))
        if explained is None:  # stopped while the model was asked
            _end_stopped(output, console)
        report, scored = explained
        if note:
            report.notes.insert(0, note)
        job.write(output, report, scored, prompts)
    except KeyboardInterrupt:  # Ctrl-C while fitting or scoring
        _end_stopped(output, console)
    write_run_manifest(output, settings, sys.argv)
    if not report.explained:
        console.print(f"detected {len(report.scorer.candidates)} candidate(s), not explained: "
                      f"{escape(report.notes[-1])} → {output}", soft_wrap=True)
        if not settings.quiet:
            show_candidates(console, report.scorer.candidates, output / "report.json")
        return EXIT_NOT_EXPLAINED
    confirmed = sum(e.verdict == "confirmed" for e in report.events)
    failed = sum(c.status == "failed" for c in report.contexts)
    console.print(f"{len(report.scorer.candidates)} candidate(s), {len(report.events)} judged, {confirmed} confirmed, "
                  f"{report.usage.calls} VLM call(s) → {output}", soft_wrap=True)
    if not settings.quiet:
        for e in report.events[:SHOWN_CANDIDATES]:
            where = f", {e.region.where}" if e.region else ""
            # the model's words, shown as text (escaped: a sign it read may hold markup)
            console.print(f"  {e.id} {e.start_s:.1f}–{e.end_s:.1f} s: {escape(e.category)} ({escape(e.label)}), severity "
                          f"{int(e.severity)}, {e.verdict.value}{where}: {escape(e.what)}", highlight=False)
    if failed:
        console.print(f"[yellow]{escape(report.notes[-1])}[/yellow]", soft_wrap=True)
    return 0
