"""`vadagent watch SOURCE...`: score live cameras as frames arrive and explain what they flag.

Per camera, a reader (app/cameras.py: a thread of this process, or on machines of four cores or more
one of a process of its own, app/camera_processes.py) decodes the stream (reopening it with back-off
when it stalls or drops), keeps the last seconds of frames in a bounded ring, scores each frame with
the camera's scorer (causal: calibrated on the site's normal footage, one threshold) and opens a
moment when the score crosses it. When the moment closes, its camera holds its frames (and the context
before and after) and it waits in a bounded queue; the explainer takes it when the camera's call budget
allows (calls per minute), has the reader cut those frames into a clip, and runs the same explain branch
as for files on that one moment. As for files, a stretch of a camera's stream short of moments gives the
model its highest peaks below the threshold (`CoverageFloor`), on calls its camera has to spare. Every
moment over the threshold ends as an event in `events.jsonl` and `events.sqlite` (explained, or "detected, not
explained" with the reason), with keyframes as JPEGs and, with `--webhook`, a POST (`--alert`: of every
event, of all but those the model judged normal, or of the anomalies it explained). When the VLM
falls behind, overlapping waiting moments of a camera merge, the highest-scoring go first and the
lowest-scoring of the busiest camera are dropped: never an unbounded backlog, and each camera's budget
goes to its highest-scoring moments. A moment dropped, one that waited longer than `--max-wait`, and one
whose frames its camera lost while it waited (its process was started again) are recorded too, as not
explained and why, without spending a call of the camera's budget; either way its camera lets its
frames go.
SIGINT/SIGTERM: the cameras stop, open moments close and are explained or recorded, files are flushed. A
second one stops at once: the moments still waiting and those being explained are recorded, not explained
(STOPPED), and the watch ends without waiting for the model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape

from vadagent.agents.explain.detection import Detection, damage_note, picture_note
from vadagent.agents.explain.run import aexplain_detection
from vadagent.app.camera_processes import CameraProcesses, default_processes
from vadagent.app.cameras import (
    Camera,
    CameraReaders,
    Cut,
    Keyframes,
    WatchOptions,
    give_back_freed,
    parse_cameras,
    steady_memory,
)
from vadagent.app.job import Job
from vadagent.app.scoring import candidate_policy
from vadagent.app.stopping import run_then_end
from vadagent.app.watch_events import PRUNE_EVERY_S, EventLog, post_alert, prune, status_said
from vadagent.devices import usable_cores
from vadagent.prompts import PROMPTS_VERSION
from vadagent.tools.scorer.live import LiveScore, Moment
from vadagent.tools.scorer.result import ScoreResult
from vadagent.tools.video import open_video
from vadagent.tools.video.source import runs
from vadagent.tools.vlm import VLMClient
from vadagent.types import Candidate, ScorerSummary, VideoReport

log = logging.getLogger(__name__)


DROPPED = ("dropped: the VLM was behind, the queue of waiting moments was full and this one scored lowest of "
           "those of the camera with the most waiting")
LEFT_RING = "its frames were lost before the VLM was free (its camera's reader was started again)"
STALE = "it waited longer than --max-wait for the VLM and its camera's call budget (higher-scoring moments went first)"
STOPPED = "the watch was stopped at once (a second Ctrl-C) before the VLM had explained it"
SET_ASIDE = (DROPPED, LEFT_RING, STALE, STOPPED)  # the reasons the closing line counts one by one


@dataclass
class Pending:
    """A moment that closed, with the keyframes its camera saved then, waiting for the VLM; `holds`: the
    start times of the moments merged into it, each of which its camera holds frames for."""

    camera: Camera
    moment: Moment
    keyframes: Keyframes | None
    holds: list[float]


SetAside = Callable[[Pending, str], None]  # a moment that will not be explained, and why


class Waiting:
    """Moments waiting for the VLM, bounded: a new moment merges with an overlapping one of its camera;
    when full, the lowest-scoring moment of the camera with the most waiting is set aside (DROPPED: each
    camera has a call budget of its own, so a busy camera's backlog must not crowd out a quiet camera's
    moment). The highest-scoring moment whose camera may call goes first; one that has waited longer than
    `max_wait_s` since it closed is set aside (STALE: an alert that late helps nobody, and it holds a place
    and its frames). A moment whose frames its camera no longer keeps is set aside (LEFT_RING) before it
    would spend a call."""

    def __init__(self, size: int, set_aside: SetAside | None = None, max_wait_s: float | None = None) -> None:
        self.size, self.max_wait_s = size, max_wait_s
        self.items: list[Pending] = []
        self.set_aside = set_aside or (lambda pending, reason: None)
        self.changed = asyncio.Event()
        self.closed = False  # stopped at once: every moment is set aside as it comes

    def close(self) -> None:
        """Set aside every waiting moment, and from now on each that comes (STOPPED)."""
        self.closed = True
        for item in self.items:
            self.set_aside(item, STOPPED)
        self.items.clear()
        self.changed.set()

    def put(self, camera: Camera, moment: Moment, keyframes: Keyframes | None = None) -> None:
        if self.closed:
            self.set_aside(Pending(camera, moment, keyframes, [moment.start_s]), STOPPED)
            return
        for other in self.items:
            if other.camera is camera and other.moment.overlaps(moment, slack_s=1.0):
                if keyframes is not None:  # (None: the camera could not save them)
                    other.keyframes = keyframes if other.keyframes is None else \
                        other.keyframes.merge(other.moment, keyframes, moment)
                log.info("%s: merged a moment at %.1f s into the one waiting at %.1f s", camera.name, moment.start_s,
                         other.moment.start_s)
                other.moment = other.moment.merge(moment)
                other.holds.append(moment.start_s)
                self.changed.set()
                return
        self.items.append(Pending(camera, moment, keyframes, [moment.start_s]))
        if len(self.items) > self.size:
            waiting = Counter(item.camera.name for item in self.items)
            busiest = max(waiting.values())
            lowest = min((item for item in self.items if waiting[item.camera.name] == busiest),
                         key=lambda item: item.moment.peak_score)
            self.items.remove(lowest)
            log.warning("%s: the VLM is behind; dropped the waiting moment at %.1f s (peak %.2f)", lowest.camera.name,
                        lowest.moment.start_s, lowest.moment.peak_score)
            self.set_aside(lowest, DROPPED)
        self.changed.set()

    def take(self) -> Pending | None:
        """The highest-scoring moment whose camera may call the VLM now (the oldest of equals)."""
        now = time.time()
        for item in list(self.items):
            reason = (LEFT_RING if not item.camera.keeps(item.moment) else
                      STALE if self.max_wait_s is not None and now - item.moment.closed_wall > self.max_wait_s else None)
            if reason is not None:
                self.items.remove(item)
                self.set_aside(item, reason)
        for item in sorted(self.items, key=lambda item: -item.moment.peak_score):  # stable: the oldest of equals first
            if item.camera.take_call(spare=item.moment.below_threshold):
                self.items.remove(item)
                return item
        return None


class Watch:
    """The cameras' readers (`CameraReaders` or `CameraProcesses`) submit moments; the event loop here
    explains them as the camera's call budget and the model allow, and records each."""

    def __init__(self, job: Job, readers: CameraReaders | CameraProcesses, output: Path, options: WatchOptions,
                 console: Console) -> None:
        self.job, self.readers, self.options, self.console = job, readers, options, console
        self.cameras = readers.cameras
        self.output = output.resolve()  # reports name their clip by this path, wherever the UI runs from
        self.stopping = False
        self.stopped_now = asyncio.Event()  # a second stop: nothing more is explained
        self.waiting = Waiting(options.queue_size, self.set_aside, options.max_wait_s)
        self.calls: set[asyncio.Future] = set()  # the VLM calls under way, cancelled by a stop at once
        self.log = EventLog(output)
        self.numbered = 0  # ids, given when a moment is taken up or set aside
        self.recorded: Counter[str] = Counter()  # events by what became of them: explained, DROPPED, ...
        self.coverage: Counter[str] = Counter()  # the coverage floor's moments: explained, or let go
        self.recording: set[asyncio.Task] = set()  # records of moments set aside, being written and posted
        self.status_at = 0.0  # when cameras.json was last written (monotonic)
        self.pruned_at = float("-inf")  # when retention last walked the output (monotonic)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        waiting = self.waiting
        submit = lambda camera, moment, kept: loop.call_soon_threadsafe(waiting.put, camera, moment, kept)  # noqa: E731
        finished = lambda camera: loop.call_soon_threadsafe(setattr, camera, "alive", False)  # noqa: E731
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop)
        self.readers.start(submit, finished)
        active: set[asyncio.Task] = set()
        client = None
        try:
            client = await self.model()  # the cameras are read and scored while a model loads
            capacity = client.capacity if client is not None else 1
            while True:
                item = waiting.take() if len(active) < capacity else None  # as many at once as the model serves
                if item is not None:
                    task = asyncio.create_task(self.explain(item))
                    active.add(task)
                    task.add_done_callback(lambda done: (active.discard(done), waiting.changed.set()))
                    continue
                if not any(c.alive for c in self.cameras) and not waiting.items and not active:
                    break
                waiting.changed.clear()
                if time.monotonic() - self.status_at >= 1.0:
                    self.write_status()
                try:
                    await asyncio.wait_for(waiting.changed.wait(), timeout=0.5)
                except TimeoutError:
                    pass
        finally:
            self.readers.close()
            await asyncio.gather(*self.recording, return_exceptions=True)
            self.write_status()
            self.log.close()
            if client is not None:
                await client.aclose()
        gaps = sum(c.interruptions for c in self.cameras)
        frames = ", ".join(f"{c.name} {c.frames}" for c in self.cameras)
        count = self.recorded
        self.console.print(f"{count.total()} event(s) from {len(self.cameras)} camera(s) (frames scored: {frames}): "
                           f"{count['explained']} explained, {count[DROPPED]} moment(s) dropped while the VLM was "
                           f"behind, {count[STALE]} that waited longer than --max-wait, {count[LEFT_RING]} whose "
                           f"frames were lost first, "
                           + (f"{count[STOPPED]} left when stopped at once, " if self.stopped_now.is_set() else "")
                           + f"{count['other']} not explained otherwise; {gaps} stream interruption(s) → {self.output}"
                           + (f"; the coverage floor showed the model {self.coverage['explained']} peak(s) of stretches "
                              f"short of moments and let {self.coverage['let go']} go unexplained"
                              if self.coverage.total() else ""),
                           highlight=False)
        return 0

    async def model(self) -> VLMClient | None:
        """The model once loaded; None when the watch is stopped at once first (the load goes on in its
        daemon thread, which does not hold the process)."""
        load = asyncio.ensure_future(self.job.client_load.aresult())
        stop = asyncio.ensure_future(self.stopped_now.wait())
        await asyncio.wait({load, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not load.done():
            load.cancel()
            return None
        return load.result()

    def write_status(self) -> None:
        """cameras.json: each camera's latest score, for `vadagent ui --live` (rewritten whole, atomically)."""
        status = [{"name": c.name, "source": c.source.shown, "score": None if np.isnan(c.score) else round(c.score, 3),
                   "threshold": round(c.scorer.threshold, 3), "time_s": round(c.latest_s, 2),
                   "frames": c.frames, "alive": c.alive, "interruptions": c.interruptions, "damaged_packets": c.damaged,
                   "picture": c.reading}
                  for c in self.cameras]
        path = self.output / "cameras.json"
        path.with_suffix(".tmp").write_text(json.dumps({"updated_at": time.time(), "cameras": status}), encoding="utf-8")
        path.with_suffix(".tmp").replace(path)
        self.status_at = time.monotonic()

    def _stop(self) -> None:
        if self.stopping:
            self._stop_now()
            return
        self.console.print("stopping: closing open moments and explaining them (Ctrl-C again stops at once; they are "
                           "then recorded, not explained)", highlight=False)
        self.stopping = True
        self.readers.stop()

    def _stop_now(self) -> None:
        """The moments waiting and those being explained are recorded as not explained (STOPPED), now."""
        if self.stopped_now.is_set():
            return
        self.console.print("stopping at once: the moments waiting or being explained are recorded, not explained",
                           highlight=False)
        self.stopped_now.set()
        self.waiting.close()
        for call in self.calls:
            call.cancel()

    def next_id(self, camera: Camera) -> str:
        self.numbered += 1
        return f"{camera.name}-{self.numbered}"

    def set_aside(self, pending: Pending, reason: str) -> None:
        """A moment that will not be explained (dropped, or its frames gone) is recorded all the same; one of the
        coverage floor's, which the scorer did not flag, is let go with its keyframes (nothing was detected)."""
        self.readers.release(pending.camera, pending.holds)
        if pending.moment.below_threshold:
            self.let_go(pending, reason)
            return
        task = asyncio.get_running_loop().create_task(self.record(pending, self.next_id(pending.camera), reason))
        self.recording.add(task)
        task.add_done_callback(self.recording.discard)

    def let_go(self, pending: Pending, reason: str, files: list[Path] | None = None, report: Path | None = None) -> None:
        """A coverage floor's moment that was not explained is no event (the scorer flagged nothing there): its
        keyframes, clip and report go, and a line says why."""
        log.info("%s: the coverage floor's moment at %.1f s was not explained (%s)", pending.camera.name,
                 pending.moment.start_s, reason)
        for path in [*(pending.keyframes.paths if pending.keyframes else []), *(files or [])]:
            path.unlink(missing_ok=True)
        if report is not None:
            shutil.rmtree(report, ignore_errors=True)
        self.coverage["let go"] += 1

    async def explain(self, pending: Pending) -> None:
        taken = time.time()  # out of the queue: the camera's budget allowed a call
        camera, moment = pending.camera, pending.moment
        event_id = self.next_id(camera)
        # with the context after it, once that has arrived; None when its camera lost its frames; then they may go
        try:
            cut = await self.readers.cut(camera, moment, self.output / "clips" / f"{event_id}.mp4")
        finally:
            self.readers.release(camera, pending.holds)
        if cut is None:
            await self.record(pending, event_id, LEFT_RING, taken=taken)
            return
        clip, clock = cut.clip, ClipClock(cut.times, cut.fps)
        event, reason = None, ""
        try:
            detection = await asyncio.to_thread(moment_detection, self.job, camera, clip, moment, clock, cut.scores,
                                                cut.damaged)
            report = await self.explained(detection)
            if report is None:
                reason = STOPPED
            else:
                folder = self.output / "reports" / event_id  # what `ui --live` chats about
                await asyncio.to_thread(self.job.write, folder, report, detection.scored, [])
                context = report.contexts[0] if report.contexts else None
                if report.events and context is not None and context.status == "explained":
                    event = on_stream_time(report.events[0], clock)
                else:
                    reason = context.reason if context and context.reason else "no VLM reachable"
        except Exception as error:  # noqa: BLE001 - a service loop: one moment's failure is recorded, watching goes on
            log.exception("%s: the moment at %.1f s could not be explained", camera.name, moment.start_s)
            reason = f"could not be explained: {error}".splitlines()[0]
        await self.record(pending, event_id, reason, taken=taken, cut=cut, event=event)
        if time.monotonic() - self.pruned_at >= PRUNE_EVERY_S:
            self.pruned_at = time.monotonic()
            await asyncio.to_thread(prune, self.output, self.options.keep_days, self.options.max_gb)
        give_back_freed()

    async def explained(self, detection: Detection) -> VideoReport | None:
        """The moment's report from the VLM; None when the watch is stopped at once first (the call is
        cancelled: a server's request ends, an in-process generation's thread is left to the process's end)."""
        if self.stopped_now.is_set():
            return None
        call = asyncio.ensure_future(aexplain_detection(detection, self.job.client, folder_fps=self.job.folder_fps,
                                                        detector=self.job.detector,
                                                        deadline_s=self.job.settings.vlm.video_deadline_s,
                                                        calls_per_candidate=self.job.settings.vlm.calls_per_candidate))
        self.calls.add(call)
        try:
            report, _ = await call
            return report
        except asyncio.CancelledError:
            if asyncio.current_task().cancelling():  # this task itself was cancelled, not only its call
                raise
            return None
        finally:
            self.calls.discard(call)

    async def record(self, pending: Pending, event_id: str, reason: str, *, taken: float | None = None,
                     cut: Cut | None = None, event: dict | None = None) -> None:
        """One line of events.jsonl and row of events.sqlite, and the webhook's POST: explained with
        `event`, else not explained for `reason` (a moment set aside has its keyframes but no clip)."""
        camera, moment, keyframes = pending.camera, pending.moment, pending.keyframes
        explained = event is not None
        if moment.below_threshold and not explained:
            self.let_go(pending, reason, [cut.clip] if cut is not None else [], self.output / "reports" / event_id)
            return
        if moment.below_threshold:
            self.coverage["explained"] += 1
        alerted = time.time()
        report = self.output / "reports" / event_id / "report.json"
        record = {"id": event_id, "camera": camera.name, "source": camera.source.shown,
                  "start_s": round(moment.start_s, 2), "end_s": round(moment.end_s, 2), "peak_score": round(moment.peak_score, 3),
                  "below_threshold": moment.below_threshold,
                  "opened_at": moment.opened_wall, "alerted_at": alerted, "explained": explained,
                  "status": "explained" if explained else "detected, not explained", "reason": reason,
                  "latency_to_alert_s": round(alerted - moment.opened_wall, 2),
                  "waited_for_budget_s": round(max(0.0, taken - moment.closed_wall), 2) if taken is not None else None,
                  "latency_to_explanation_s": round(alerted - moment.opened_wall, 2) if explained else None,
                  "scored_again": cut is not None and cut.scores is None, "event": event,
                  "damaged_frames": len(cut.damaged) if cut is not None else 0,
                  "clip": str(cut.clip.relative_to(self.output)) if cut is not None else None,
                  "report": f"reports/{event_id}" if report.is_file() else None,
                  "keyframes": [str(k.relative_to(self.output)) for k in keyframes.paths] if keyframes else []}
        self.recorded["explained" if explained else reason if reason in SET_ASIDE else "other"] += 1
        self.log.add(record)
        what = event["what"] if event else reason
        how = status_said("explained" if explained else "detected", moment.below_threshold)
        self.console.print(f"{escape(camera.name)} {moment.start_s:.1f}–{moment.end_s:.1f} s: {how}: {escape(what)}",
                           highlight=False, soft_wrap=True)
        if self.options.webhook and self.options.alerts(record):
            await post_alert(self.options.webhook, record)


@dataclass
class ClipClock:
    """A moment's clip is written at the camera's nominal rate while a stream's frames arrive when
    they do: times convert through the frames themselves."""

    times: list[float]  # camera time of each frame of the clip
    fps: float

    def to_clip(self, time_s: float) -> float:
        return int(np.searchsorted(self.times, time_s)) / self.fps

    def to_stream(self, clip_s: float) -> float:
        return self.times[min(max(int(round(clip_s * self.fps)), 0), len(self.times) - 1)]


def on_stream_time(event, clock: ClipClock) -> dict:
    """An event explained on its clip, with its times on the camera's clock (seconds since it opened)."""
    shift = lambda t: round(clock.to_stream(t), 3)  # noqa: E731
    moved = event.model_copy(update={
        "start_s": shift(event.start_s), "end_s": shift(event.end_s),
        "evidence_frames": [shift(t) for t in event.evidence_frames],
        "relations": [r.model_copy(update={"start_s": shift(r.start_s), "end_s": shift(r.end_s)}) for r in event.relations]})
    return moved.model_dump(mode="json")


def moment_detection(job: Job, camera: Camera, clip: Path, moment: Moment, clock: ClipClock,
                     scores: list[LiveScore] | None = None, damaged: list[int] | None = None) -> Detection:
    """The clip with the live moment as its one candidate, and the scores and evidence its frames got
    live; only a clip with frames scored before a reconnect is scored again. `damaged`: the clip's frames the
    camera's stream delivered damaged, which the report's notes name (the clip itself is encoded afresh), as they
    name how the camera's picture was read against its footage's (`Moment.reading`)."""
    scorer = camera.scorer
    if scores is None:
        scored = scorer.score(clip, device=job.device)
    else:
        with open_video(str(clip)) as video:
            info = video.info
        evidence = LiveScore.evidence(scores).to_source((scorer.width / info.width, scorer.height / info.height),
                                                        scorer.speed_fps(info.fps))
        scored = ScoreResult(info, scorer.scorer_id, np.asarray([s.score for s in scores], np.float32),
                             scorer.threshold, evidence, skipped=0, seconds=0.0)
    fps, last = scored.info.fps, scored.info.frame_count - 1
    duration = scored.info.duration_s
    start, end = (min(clock.to_clip(t), duration) for t in (moment.start_s, moment.end_s))
    peak = min(max(clock.to_clip(moment.peak_s), start), end)
    candidate = Candidate(start_s=start, end_s=max(end, start), peak_s=peak, peak_score=round(moment.peak_score, 4),
                          start_frame=min(round(start * fps), last), end_frame=min(round(end * fps), last),
                          below_threshold=moment.below_threshold)
    candidate = candidate.model_copy(update={"region": scored.region_of(candidate)})
    scored.damaged = runs(damaged or [])
    if scores is not None and moment.reading:  # the clip scored again reads its own picture
        scored.picture = [(0, moment.reading)]
    notes = [note for note in (picture_note(scored), damage_note(scored, [candidate])) if note]
    report = VideoReport(video=scored.info, taxonomy=camera.taxonomy or job.taxonomy, rules=camera.rules or job.rules,
                         prompts_version=PROMPTS_VERSION,
                         scorer=ScorerSummary(scorer_id=scored.scorer_id, fps=fps, threshold=round(scored.threshold, 4),
                                              candidates=[candidate]),
                         notes=notes)
    return Detection(str(clip), report, scored)


def watch_command(settings, sources: list[str], output: Path, *, scorer_dir: Path | None, vlm: str | None,
                  taxonomy: str | None, rules_file: Path | None, options: WatchOptions, console: Console,
                  processes: int | None = None) -> int:
    """`processes`: processes that read the cameras (None: `default_processes`; 0: threads of this process)."""
    from vadagent.app.outputs import claim_output

    steady_memory()
    if settings.candidates.min_calls > 0:  # the file's coverage floor on each camera too
        options = replace(options, coverage=candidate_policy(settings))
    cameras = parse_cameras(sources, scorer_dir, settings, options)
    processes = min(default_processes(usable_cores(), len(cameras)) if processes is None else processes, len(cameras))
    with claim_output(output):
        job = Job.build(settings, console, vlm=vlm, taxonomy=taxonomy, rules_file=rules_file)
        console.print(f"watching {len(cameras)} camera(s): {', '.join(c.name for c in cameras)}, read in "
                      + (f"{processes} process(es) of their own" if processes else "threads of this process")
                      + " (Ctrl-C stops)", highlight=False)
        keyframes = output.resolve() / "keyframes"
        readers = (CameraProcesses(cameras, options, job.device, keyframes, processes) if processes
                   else CameraReaders(cameras, options, job.device, keyframes))
        watch = Watch(job, readers, output, options, console)
        return run_then_end(watch.run(), watch.stopped_now.is_set)
