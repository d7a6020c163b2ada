"""`vadagent report FOLDER`: explain every video of a folder into one report each, plus an index.

Resumable: the SQLite index records each video's state; a rerun skips videos that are explained
(and, without a reachable model, those detected too) and redoes the rest. Each report is
written to a temporary folder and renamed into place when complete, so an interrupted run never
leaves a half-written report that looks finished. Videos run concurrently in one event loop, as
many at once as the model backend serves (`VLMClient.capacity`) plus one, which is scored while the
model explains the others; the client's request limit holds across the whole batch. An in-process
model still loading holds up no scoring: videos are scored meanwhile and wait for it to explain.
Videos are scored in processes of this machine on four cores or more (`--processes`, app/processes.py),
on a Ray cluster with `--ray` (app/cluster.py), else in threads of this process. Ctrl-C (or SIGTERM)
stops the run at once: finished reports stay, the videos under way are marked pending for the rerun.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from vadagent.agents.explain.detection import Detection
from vadagent.app.cluster import RayCluster
from vadagent.app.job import Job
from vadagent.app.outputs import LOCK_NAME, Destination, claim_output, destination, is_url
from vadagent.app.processes import ScoringProcesses
from vadagent.app.report_html import write_index_html
from vadagent.app.scoring import folder_rate, say_other_view
from vadagent.app.stopping import STOPPED_EXIT, end_stopped, hold_further_stops, run_stoppable
from vadagent.config import Settings, write_run_manifest
from vadagent.devices import usable_cores
from vadagent.errors import UsageError, VadagentError
from vadagent.jsonlio import numbered_jsonl
from vadagent.tools.index import IndexEvent, IndexRow, ReportIndex
from vadagent.tools.scorer import Scorer
from vadagent.tools.scorer.side_by_side import default_processes
from vadagent.tools.scorer.view import OTHER_VIEW_WORDS
from vadagent.tools.video import VIDEO_SUFFIXES, frame_files
from vadagent.tools.video.finding import is_frame_folder, videos_under
from vadagent.types import Verdict, VideoReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inputs:
    """The batch's videos, and what a JSONL manifest says of some of them."""

    videos: list[Path]
    scorers: dict[Path, Path] = field(default_factory=dict)  # video → its site's scorer folder
    sites: dict[Path, str] = field(default_factory=dict)  # video → site name (noted in its report)
    root: Path | None = None  # the folder (or the manifest's) the videos are named from in what the batch says

    def label(self, video: Path) -> str:
        """How the batch names `video` to its user: its path from the root (cam1/0101.mp4), or its name."""
        try:
            shown = video.relative_to(self.root).as_posix() if self.root else video.name
        except ValueError:
            return video.name
        return video.name if shown == "." else shown  # a folder of frames given as the batch


def find_videos(source: Path, *, recursive: bool = False, output: Path | None = None,
                console: Console | None = None) -> Inputs:
    """The videos of a folder (video files and folders of frames; with `recursive`, of its subfolders too, less
    `output` and any other run's output), or of a manifest: a text file naming one video or frame folder per
    line, or JSON Lines of {"video": PATH, "scorer": DIR, "site": NAME} (scorer and site optional). Relative
    paths are from the manifest's folder; blank lines and # comments are skipped. `console` is told of the
    videos in subfolders left unread."""
    if source.is_file():
        if recursive:
            raise UsageError(f"{source}: --recursive reads a folder's subfolders; a manifest names each of its videos")
        return _manifest(source)
    if not source.is_dir():
        raise UsageError(f"{source}: not a folder or a manifest file")
    own = output.resolve() if output is not None else None

    def written_by_a_run(folder: Path) -> bool:  # this one's output, another's, or a report in it (a UI's preview copy)
        return folder.resolve() == own or (folder / LOCK_NAME).exists() or (folder / "report.json").is_file()

    found = videos_under(source, recursive=recursive, leave_out=written_by_a_run)
    if not found.videos:
        images = len(frame_files(source))
        raise UsageError(f"{source}: no videos ({', '.join(sorted(VIDEO_SUFFIXES))}, or folders of frame images)"
                         + (f"; {found.left_below} in its subfolders: add --recursive" if found.left_below else "")
                         + ("; it holds one image, and a video's frames are two or more" if images == 1 else ""))
    if found.left_below and console is not None:
        console.print(f"{found.left_below} video(s) in subfolders of {source} left unread: add --recursive to explain "
                      "them too", highlight=False, soft_wrap=True)
    return Inputs(found.videos, root=source)


def _manifest(path: Path) -> Inputs:
    if path.suffix.lower() == ".jsonl":
        rows = numbered_jsonl(path, missing="manifest not found")
    else:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise UsageError(f"{path}: not a manifest (a text file naming one video per line)") from None
        rows = [(n, {"video": line.strip()}) for n, line in enumerate(lines, 1)
                if line.strip() and not line.strip().startswith("#")]
    inputs = Inputs([], root=path.parent.resolve())
    for number, row in rows:
        if not isinstance(row.get("video"), str) or set(row) - {"video", "scorer", "site"}:
            raise UsageError(f"{path}: line {number}: expected {{\"video\": PATH, \"scorer\": DIR, \"site\": NAME}}")
        video = (path.parent / row["video"]).resolve()
        if not (video.is_file() or is_frame_folder(video)):
            raise UsageError(f"{path}: line {number}: {row['video']}: no such video or folder of frames")
        if video in inputs.videos:
            raise UsageError(f"{path}: line {number}: {row['video']} is listed twice")
        inputs.videos.append(video)
        if row.get("scorer"):
            inputs.scorers[video] = (path.parent / str(row["scorer"])).resolve()
        if row.get("site"):
            inputs.sites[video] = str(row["site"])
    if not inputs.videos:
        raise UsageError(f"{path}: the manifest names no videos")
    return inputs


RESERVED = {"scorer"}  # OUT/scorer holds the batch's scorer


def output_names(videos: list[Path]) -> dict[Path, str]:
    """Each video's report folder: its stem; stem_ext where two share a stem (a_car.mp4 and a_car.MKV; a
    folder of frames beside clip.mp4 is clip_frames) or the stem is reserved; and where even that is shared
    (a manifest's cam1/0101.mp4 and cam2/0101.mp4), stem_ext and a digest of the video's path, so no report
    ever replaces another and a video keeps its folder however the list is ordered (a resumed batch finds
    its reports)."""
    stems = Counter(v.stem.lower() for v in videos)
    names = {v: v.stem if stems[v.stem.lower()] == 1 and v.stem.lower() not in RESERVED
             else f"{v.stem}_{v.suffix.lstrip('.').lower() or 'frames'}" for v in videos}
    taken = Counter(name.lower() for name in names.values())  # folders differing in case alone collide on some disks
    return {v: name if taken[name.lower()] == 1 else f"{name}_{hashlib.sha256(str(v.resolve()).encode()).hexdigest()[:8]}"
            for v, name in names.items()}


def _saved_scorer(output: Path, scorer_dir: Path | None) -> Scorer | None:
    """The batch's scorer where there is one to load: `--scorer`'s, or the one a resumed run started with."""
    if scorer_dir is not None:
        return Scorer.load(scorer_dir)
    return Scorer.load(output / "scorer") if (output / "scorer" / "scorer.json").is_file() else None


def _fitted_scorer(job: Job, output: Path, normal: list[str], console: Console) -> Scorer | None:
    """The batch's scorer fitted on `normal` (kept for a resumed run); None: each video is fitted on its own opening,
    as `explain` does."""
    if not normal:
        return None
    scorer = job.fit(normal, console)
    scorer.save(output / "scorer")
    return scorer


@dataclass
class _Batch:
    job: Job
    destination: Destination
    scorer: Scorer | None  # None: each video is fitted on its opening
    index: ReportIndex
    console: Console
    names: dict[Path, str]
    inputs: Inputs
    # where videos are scored when not in this process's threads (explaining stays here, where the VLM is)
    scoring: RayCluster | ScoringProcesses | None = None
    site_scorers: dict[Path, Scorer] = field(default_factory=dict)  # a manifest's scorer folders, loaded once

    @property
    def output(self) -> Path:
        return self.destination.local

    @property
    def video_errors(self) -> tuple[type[BaseException], ...]:
        return (VadagentError, *(self.scoring.task_errors if self.scoring else ()))

    def scorer_of(self, video: Path) -> Scorer | None:
        folder = self.inputs.scorers.get(video)
        if folder is None:
            return self.scorer
        if folder not in self.site_scorers:
            self.site_scorers[folder] = Scorer.load(folder)
        return self.site_scorers[folder]

    async def detect(self, video: Path) -> tuple[Detection, str | None]:
        scorer = await asyncio.to_thread(self.scorer_of, video)
        if self.scoring is not None:
            return await self.scoring.detect(str(video), scorer)
        return await asyncio.to_thread(self.job.detect, str(video), scorer)

    async def explain_one(self, video: Path) -> bool:
        """Explain one video into OUT/<name>/ atomically; record the outcome. False when it failed."""
        name = self.names[video]
        source, target = str(video), self.output / name
        partial = self.output / f".{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        self.index.start(source)
        try:
            detection, note = await self.detect(video)
            say_other_view(self.console, detection.scored, self.inputs.label(video))
            prompts: list[dict] = []
            report, scored = await self.job.aexplain_detection(detection, prompts)
            if note:
                report.notes.insert(0, note)
            if video in self.inputs.sites:
                report.notes.insert(0, f"Site: {self.inputs.sites[video]}.")
            await asyncio.to_thread(self.job.write, partial, report, scored, prompts)
        except asyncio.CancelledError:  # the run was stopped: this video is for the rerun
            self.index.interrupt(source)
            raise
        except self.video_errors as error:  # a corrupt video fails alone; the batch goes on
            reason = str(getattr(error, "cause", None) or error).strip().splitlines()[-1]
            self.index.fail(source, reason)
            self.console.print(f"  [red]{escape(self.inputs.label(video))} failed:[/red] {escape(reason)}", soft_wrap=True)
            return False
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        try:
            await asyncio.to_thread(self.destination.publish, name)
        except VadagentError as error:  # the report is kept in the staging folder; a rerun uploads it again
            self.index.fail(source, str(error))
            self.console.print(f"  [red]{escape(self.inputs.label(video))} failed:[/red] {escape(str(error))}", soft_wrap=True)
            return False
        severities = [int(e.severity) for e in report.events if e.verdict != "rejected"]
        failed = [c.reason for c in report.contexts if c.status == "failed"]
        explained = self.job.client is not None and not failed
        # the index's note: why not explained, and a view that was another scene's throughout (its scores compare it
        # with a scene it is not of)
        notes = ([] if explained else [failed[0] if failed else "no VLM reachable"]) + \
            ([OTHER_VIEW_WORDS] if detection.scored.other_view else [])
        self.index.record_events(source, report.events)  # listed once the video's row says it is finished
        self.index.finish(source, self.destination.report_location(name), explained=explained,
                          note="; ".join(notes) or None,
                          candidates=len(report.scorer.candidates),
                          events=len(report.events), confirmed=sum(e.verdict == "confirmed" for e in report.events),
                          max_severity=max(severities) if severities else None,
                          peak_score=max((c.peak_score for c in report.scorer.candidates), default=None))
        await asyncio.to_thread(self.destination.publish, "index.sqlite")  # the index travels with the reports
        self.console.print(f"  {escape(self.inputs.label(video))}: {len(report.scorer.candidates)} candidate(s), "
                           f"{len(report.events)} event(s)" + (f", {len(failed)} not explained (VLM failed)" if failed else ""),
                           highlight=False, soft_wrap=True)
        return True

    async def run(self, videos: list[Path], workers: int) -> None:
        """Explain `videos`, at most `workers` at once, with a progress bar (each outcome goes to the index)."""
        gate = asyncio.Semaphore(workers)
        counts = {"running": 0, "failed": 0}
        columns = (TextColumn("explaining"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                   TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task("", total=len(videos))

            def show() -> None:
                client = self.job.client_load.loaded()  # never waits: this runs on the event loop
                in_flight = getattr(client, "in_flight", None)  # a pool of servers says per endpoint
                calls = (" · VLM calls in flight " + ", ".join(f"{url}: {n}" for url, n in in_flight().items())
                         if in_flight else "" if self.job.client_load.done() else " · model loading")
                bar.update(task, description=f"{counts['running']} running · {counts['failed']} failed{calls}")

            async def one(video: Path) -> None:
                async with gate:
                    counts["running"] += 1
                    show()
                    ok = await self.explain_one(video)
                    counts["running"] -= 1
                    counts["failed"] += not ok
                bar.advance(task)
                show()

            async def refresh() -> None:
                while True:
                    await asyncio.sleep(1.0)
                    show()

            ticker = asyncio.create_task(refresh())
            try:
                await asyncio.gather(*(one(v) for v in videos))
            finally:
                ticker.cancel()
                client = self.job.client_load.loaded()  # a model still loading (every video failed first) is left be
                if client is not None:  # its connection pool belongs to this loop
                    await client.aclose()


def report_command(settings: Settings, folder: Path, output: str, *, vlm: str | None, scorer_dir: Path | None,
                   normal: list[str], taxonomy: str | None, rules_file: Path | None, console: Console,
                   workers: int | None = None, ray: str | None = None, processes: int | None = None,
                   recursive: bool = False, fps: float | None = None) -> int:
    """`output`: a folder, or an fsspec URL (reports are staged locally and uploaded as they finish).
    `processes`: scoring processes of this machine (None: `default_processes`; 0: threads of this one)."""
    if ray and processes:
        raise UsageError("--processes is for scoring on this machine; with --ray the cluster's workers score")
    inputs = find_videos(folder, recursive=recursive, output=None if is_url(output) else Path(output), console=console)
    target = destination(output)
    with claim_output(target.local):
        code = _report(settings, inputs, target, vlm=vlm, scorer_dir=scorer_dir, normal=normal, taxonomy=taxonomy,
                       rules_file=rules_file, console=console, workers=workers, ray=ray, processes=processes, fps=fps)
    if code == STOPPED_EXIT:
        end_stopped()
    return code


def _report(settings: Settings, inputs: Inputs, target: Destination, *, vlm: str | None, scorer_dir: Path | None,
            normal: list[str], taxonomy: str | None, rules_file: Path | None, console: Console,
            workers: int | None, ray: str | None, processes: int | None, fps: float | None) -> int:
    output, videos = target.local, inputs.videos
    scorer = _saved_scorer(output, scorer_dir)
    fps = folder_rate(settings, fps, scorer, [str(v) for v in videos], console)
    job = Job.build(settings, console, vlm=vlm, taxonomy=taxonomy, rules_file=rules_file, fps=fps)
    scorer = scorer or _fitted_scorer(job, output, normal, console)
    if scorer is None and len(inputs.scorers) < len(videos):
        console.print("No --normal footage or --scorer: each video's scorer is fitted on its own opening (noted in its "
                      "report).", highlight=False, soft_wrap=True)
    index = ReportIndex(output / "index.sqlite")
    write_run_manifest(output, settings, sys.argv)
    target.publish(*(["scorer"] if (output / "scorer").is_dir() else []), "config.yaml", "versions.json")
    names = output_names(videos)
    finished = {"explained"}
    # a model can redo detection-only reports; whether there is one is known once it has loaded, so only then
    # (the model is waited for here only when a run before this one left detection-only reports)
    status = {v: index.status(str(v)) for v in videos}
    if "detected" in status.values() and job.client is None:
        finished.add("detected")
    pending = [v for v in videos if not (status[v] in finished and target.has_report(names[v]))]
    processes = min(default_processes(usable_cores()) if processes is None else processes, len(pending))
    scoring = RayCluster(ray, job, console, cpus=workers) if ray else \
        ScoringProcesses(job, console, processes) if processes else None
    # in flight: as many videos as the model serves at once, plus one being scored meanwhile (one per scoring
    # process, or per worker CPU of a cluster), so the scorer's cores and the model are busy together; the
    # client holds its own request limit (a server's semaphore, an in-process model's lock), so a video scored
    # ahead waits there, not the model
    capacity, scored_at_once = job.client_load.capacity, scoring.cpus if scoring else 1
    if ray:
        workers = scoring.cpus + capacity
    else:
        workers = workers or (capacity + scored_at_once if capacity else max(2, scored_at_once))  # no VLM: 2
    console.print(f"{len(videos)} video(s): {len(videos) - len(pending)} already done, {len(pending)} to explain, "
                  f"{min(workers, max(len(pending), 1))} at a time", highlight=False)
    batch = _Batch(job, target, scorer, index, console, names, inputs, scoring)
    stopped = True  # until the batch returns: an error ends the scoring processes without waiting either
    try:
        _, stopped = run_stoppable(batch.run(pending, workers))
        if stopped:
            hold_further_stops()  # what follows writes the index and says what was kept
    finally:
        if isinstance(scoring, ScoringProcesses):
            scoring.close(wait=not stopped)
        elif scoring is not None:
            scoring.close()
        rows, events = write_index(output, index)
        index.close()
        target.publish("index.sqlite", "index.json", "events.jsonl", "index.html")
    statuses = [index_status(rows, v) for v in pending]
    detected, failed = statuses.count("detected"), statuses.count("failed")
    console.print(f"{statuses.count('explained')} explained, {detected} detection only, "
                  f"{len(videos) - len(pending)} already done, {failed} failed"
                  + (f", {statuses.count('pending') + statuses.count(None)} not done" if stopped else "")
                  + f" → {target}")
    say_most_severe(events, inputs, console)
    if stopped:
        console.print("Stopped. Finished reports are kept; run the same command again to explain the rest.",
                      highlight=False, soft_wrap=True)
        return STOPPED_EXIT
    if failed:
        return 1
    return 3 if detected else 0


def write_index(output: Path, index: ReportIndex) -> tuple[list[IndexRow], list[IndexEvent]]:
    """index.json (a row per video), events.jsonl (every finished video's events, the most severe first) and
    index.html (both) in `output`. A video finished by a release before the index kept events has them read from its
    report here, where the report is in `output`."""
    rows = index.rows()
    for row in rows:
        if row.status in ("explained", "detected") and row.events and not index.has_events(row.source):
            local = output / Path(row.report or "").parent.name / "report.json"
            try:
                index.record_events(row.source, VideoReport.model_validate_json(local.read_bytes()).events)
            except (OSError, ValueError) as error:  # gone, or not a report: its video stays listed, its events not
                log.warning("%s: its events are not listed (%s)", local, str(error).splitlines()[0])
    events = index.events()
    (output / "index.json").write_text(json.dumps([r.__dict__ for r in rows], indent=2) + "\n", encoding="utf-8")
    with (output / "events.jsonl").open("w", encoding="utf-8") as file:
        file.writelines(json.dumps(e.__dict__) + "\n" for e in events)
    write_index_html(output / "index.html", rows, events)
    return rows, events


def say_most_severe(events: list[IndexEvent], inputs: Inputs, console: Console, shown: int = 3) -> None:
    """The batch's most severe events (those the model did not judge normal), on the terminal."""
    listed = [e for e in events if e.verdict != str(Verdict.REJECTED)]
    if not listed:
        return
    console.print(f"{len(listed)} event(s) across the batch (events.jsonl, index.html); the most severe:", highlight=False)
    for event in listed[:shown]:
        console.print(f"  severity {event.severity} · {escape(event.label)} ({event.category}) · "
                      f"{escape(inputs.label(Path(event.source)))} {event.start_s:.1f}–{event.end_s:.1f} s",
                      highlight=False, soft_wrap=True)


def index_status(rows, video: Path) -> str | None:
    return next((r.status for r in rows if r.source == str(video)), None)
