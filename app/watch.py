"""`vadagent watch SOURCE...`: score live cameras as frames arrive and explain what they flag.

Per camera, a reader thread decodes the stream (reopening it with back-off when it stalls or
drops), keeps the last seconds of frames in a bounded ring, scores each frame with the camera's
scorer (causal: calibrated on the site's normal footage, one threshold) and opens a moment when
the score crosses it. When the moment closes, it waits in a bounded queue; the explainer takes it
when the camera's call budget allows (calls per minute), cuts the context before and after from
the ring into a clip, and runs the same explain branch as for files on that one moment. Every
moment ends as an event in `events.jsonl` and `events.sqlite` (explained, or "detected, not
explained" with the reason), with keyframes as JPEGs and, with `--webhook`, a POST. When the VLM
falls behind, overlapping waiting moments of a camera merge and the lowest-scoring ones are
dropped, each drop logged: never an unbounded backlog. SIGINT/SIGTERM: the cameras stop, open
moments close and are explained or recorded, files are flushed.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import json
import logging
import signal
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import av
import httpx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.markup import escape

from vadagent.agents.explain.run import Detection, aexplain_detection
from vadagent.app.job import Job
from vadagent.errors import UsageError, VadagentError
from vadagent.prompts import PROMPTS_VERSION
from vadagent.rules import RuleSet
from vadagent.taxonomy import Taxonomy, load_taxonomy
from vadagent.tools.scorer import Scorer
from vadagent.tools.scorer.live import LiveScore, LiveScorer, Moment, MomentTracker
from vadagent.tools.scorer.scorer import ScoreResult
from vadagent.tools.video import open_video
from vadagent.tools.video.live import FrameRing, LiveFrame, LiveSource, StoredFrame
from vadagent.tools.video.pyav_file import CLIP_H264_OPTIONS
from vadagent.types import Candidate, ScorerSummary, VideoReport
from vadagent.yamlio import load_yaml_model

log = logging.getLogger(__name__)


@dataclass
class WatchOptions:
    before_s: float = 3.0  # context before a moment
    after_s: float = 2.0  # and after it
    max_moment_s: float = 10.0  # a longer event is asked about in pieces
    queue_size: int = 8  # moments waiting for the VLM, all cameras together
    webhook: str | None = None
    realtime: bool = False
    loop: bool = False
    keep_days: float | None = None
    max_gb: float | None = None


class CameraEntry(BaseModel):
    """One camera of a cameras YAML file; paths are relative to the file."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, pattern=r"^[\w.-]+$")
    url: str = Field(min_length=1, description="stream URL, device or file")
    scorer: Path = Field(description="scorer folder from 'vadagent fit' on this camera's normal footage")
    rules: Path | None = None
    taxonomy: str | None = None
    calls_per_minute: float | None = Field(None, gt=0)


class CameraList(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cameras: list[CameraEntry] = Field(min_length=1)


@dataclass
class Camera:
    name: str
    source: LiveSource
    scorer: Scorer
    calls_per_minute: float
    taxonomy: Taxonomy | None = None  # the job's unless the camera has its own
    rules: RuleSet | None = None
    ring: FrameRing | None = None
    scores: deque[LiveScore] = field(default_factory=deque)  # the ring's frames' scores, once scored
    latest_s: float = -1.0
    score: float = float("nan")
    frames: int = 0
    alive: bool = True
    tokens: float = 1.0
    refilled: float = field(default_factory=time.monotonic)

    def scores_of(self, frames: list[StoredFrame]) -> list[LiveScore] | None:
        """The live scores of these frames, or None when any is missing (scored before a reconnect)."""
        known = {s.index: s for s in list(self.scores)}  # a copy: the reader appends meanwhile
        found = [known.get(f.index) for f in frames]
        return None if any(s is None for s in found) else found

    def take_call(self) -> bool:
        """A token bucket: `calls_per_minute`, bursts of at most that many."""
        now = time.monotonic()
        capacity = max(1.0, self.calls_per_minute)
        self.tokens = min(capacity, self.tokens + (now - self.refilled) * self.calls_per_minute / 60.0)
        self.refilled = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Waiting:
    """Moments waiting for the VLM, bounded: a new moment merges with an overlapping one of its camera;
    when full, the lowest-scoring waiting moment is dropped (logged)."""

    def __init__(self, size: int) -> None:
        self.size, self.items, self.dropped = size, [], []
        self.changed = asyncio.Event()

    def put(self, camera: Camera, moment: Moment) -> None:
        for i, (other_camera, other) in enumerate(self.items):
            if other_camera is camera and other.overlaps(moment, slack_s=1.0):
                self.items[i] = (camera, other.merge(moment))
                log.info("%s: merged a moment at %.1f s into the one waiting at %.1f s", camera.name, moment.start_s,
                         other.start_s)
                self.changed.set()
                return
        self.items.append((camera, moment))
        if len(self.items) > self.size:
            lowest = min(self.items, key=lambda item: item[1].peak_score)
            self.items.remove(lowest)
            self.dropped.append(lowest)
            log.warning("%s: the VLM is behind; dropped the waiting moment at %.1f s (peak %.2f)", lowest[0].name,
                        lowest[1].start_s, lowest[1].peak_score)
        self.changed.set()

    def take(self) -> tuple[Camera, Moment] | None:
        """The oldest moment whose camera may call the VLM now."""
        for item in list(self.items):
            if item[0].take_call():
                self.items.remove(item)
                return item
        return None


class EventLog:
    """events.jsonl (appended and flushed per event) and events.sqlite, side by side."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.jsonl = (folder / "events.jsonl").open("a", encoding="utf-8")
        self.db = sqlite3.connect(folder / "events.sqlite")
        self.db.execute("create table if not exists events (id text primary key, camera text, opened_at real, "
                        "alerted_at real, explained integer, category text, severity integer, what text, json text)")

    def add(self, record: dict) -> None:
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        event = record.get("event") or {}
        self.db.execute("insert or replace into events values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (record["id"], record["camera"], record["opened_at"], record["alerted_at"],
                         int(record["explained"]), event.get("category"), event.get("severity"), event.get("what"),
                         json.dumps(record)))
        self.db.commit()

    def close(self) -> None:
        self.jsonl.close()
        self.db.close()


class Watch:
    def __init__(self, job: Job, cameras: list[Camera], output: Path, options: WatchOptions, console: Console) -> None:
        self.job, self.cameras, self.options, self.console = job, cameras, options, console
        self.output = output.resolve()  # reports name their clip by this path, wherever the UI runs from
        self.stop = threading.Event()
        self.log = EventLog(output)
        self.events = self.numbered = 0  # recorded; numbered (ids, given when a moment is taken up)
        self.status_at = 0.0  # when cameras.json was last written (monotonic)

    # -- cameras (threads) ---------------------------------------------------------------------
    def read(self, camera: Camera, submit, finished) -> None:
        tracker = MomentTracker(camera.scorer.threshold, max_s=self.options.max_moment_s)
        live: LiveScorer | None = None  # made at the first frame, when the stream's frame rate is known
        seen: dict[int, LiveFrame] = {}
        gaps = 0
        try:
            for frame in camera.source.frames(self.stop.is_set):
                if live is not None and len(camera.source.gaps) != gaps:  # back after a gap: motion across it is not motion
                    for scored in live.flush():
                        self._scored(camera, tracker, seen.pop(scored.index), scored, submit)
                    moment = tracker.close(time.time())
                    if moment is not None:
                        submit(camera, moment)
                    live, seen = None, {}
                gaps = len(camera.source.gaps)
                if live is None:
                    live = LiveScorer(camera.scorer, device=self.job.device, fps=camera.source.fps)
                if camera.ring is None:  # sized once the frame rate is known: before + longest moment + after
                    span = self.options.before_s + self.options.max_moment_s + self.options.after_s + 2.0
                    camera.ring = FrameRing(span, camera.source.fps)
                    # scores trail the frames by up to a scoring chunk: keep a few more than the ring holds
                    camera.scores = deque(maxlen=camera.ring.frames.maxlen + 64)
                camera.ring.add(frame)
                camera.frames += 1
                seen[frame.index] = frame
                for scored in live.feed(frame.index, frame.rgb, frame.stamp_s):
                    self._scored(camera, tracker, seen.pop(scored.index), scored, submit)
            for scored in live.flush() if live is not None else []:
                self._scored(camera, tracker, seen.pop(scored.index), scored, submit)
        except VadagentError as error:  # a camera that cannot work at all (a missing file): it alone stops
            log.error("%s: %s", camera.name, error)
        finally:
            moment = tracker.close(time.time())
            if moment is not None:
                submit(camera, moment)
            finished(camera)  # after its last moment, in the loop's order: nothing it submitted is missed

    def _scored(self, camera: Camera, tracker: MomentTracker, frame: LiveFrame, scored: LiveScore, submit) -> None:
        camera.scores.append(scored)
        camera.score, camera.latest_s = scored.score, frame.time_s
        moment = tracker.update(frame.time_s, scored.score, frame.wall)
        if moment is not None:
            submit(camera, moment)

    # -- explaining (the event loop) -----------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        waiting = Waiting(self.options.queue_size)
        submit = lambda camera, moment: loop.call_soon_threadsafe(waiting.put, camera, moment)  # noqa: E731
        finished = lambda camera: loop.call_soon_threadsafe(setattr, camera, "alive", False)  # noqa: E731
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop)
        readers = [threading.Thread(target=self.read, args=(c, submit, finished), name=f"camera {c.name}", daemon=True)
                   for c in self.cameras]
        for reader in readers:
            reader.start()
        active: set[asyncio.Task] = set()
        client = None
        try:
            client = await self.job.client_load.aresult()  # the cameras are read and scored while a model loads
            capacity = client.capacity if client is not None else 1
            while True:
                item = waiting.take() if len(active) < capacity else None  # as many at once as the model serves
                if item is not None:
                    task = asyncio.create_task(self.explain(*item))
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
            self.stop.set()
            for reader in readers:
                reader.join(timeout=10)
            self.write_status()
            self.log.close()
            if client is not None:
                await client.aclose()
        gaps = sum(len(c.source.gaps) for c in self.cameras)
        frames = ", ".join(f"{c.name} {c.frames}" for c in self.cameras)
        self.console.print(f"{self.events} event(s) from {len(self.cameras)} camera(s) (frames scored: {frames}); "
                           f"{len(waiting.dropped)} moment(s) dropped while the VLM was behind; {gaps} stream "
                           f"interruption(s) → {self.output}", highlight=False)
        return 0

    def write_status(self) -> None:
        """cameras.json: each camera's latest score, for `vadagent ui --live` (rewritten whole, atomically)."""
        status = [{"name": c.name, "source": c.source.source, "score": None if np.isnan(c.score) else round(c.score, 3),
                   "threshold": round(c.scorer.threshold, 3), "time_s": round(c.latest_s, 2),
                   "frames": c.frames, "alive": c.alive, "interruptions": len(c.source.gaps)} for c in self.cameras]
        path = self.output / "cameras.json"
        path.with_suffix(".tmp").write_text(json.dumps({"updated_at": time.time(), "cameras": status}), encoding="utf-8")
        path.with_suffix(".tmp").replace(path)
        self.status_at = time.monotonic()

    def _stop(self) -> None:
        if not self.stop.is_set():
            self.console.print("stopping: closing open moments and explaining them", highlight=False)
        self.stop.set()

    async def explain(self, camera: Camera, moment: Moment) -> None:
        taken = time.time()  # out of the queue: the camera's budget allowed a call
        while camera.alive and camera.latest_s < moment.end_s + self.options.after_s:  # the context after it
            await asyncio.sleep(0.1)
        frames = camera.ring.between(moment.start_s - self.options.before_s, moment.end_s + self.options.after_s)
        scores = camera.scores_of(frames)  # now: the oldest frames' scores leave as the reader goes on
        if len(frames) < 2:
            log.warning("%s: the moment at %.1f s left the buffer before it could be explained", camera.name,
                        moment.start_s)
            return
        self.numbered += 1
        event_id = f"{camera.name}-{self.numbered}"
        clip = self.output / "clips" / f"{event_id}.mp4"
        await asyncio.to_thread(write_clip, clip, frames, camera.source.fps)
        clock = ClipClock([f.time_s for f in frames], camera.source.fps)
        event, reason = None, ""
        try:
            detection = await asyncio.to_thread(moment_detection, self.job, camera, clip, moment, clock, scores)
            report, _ = await aexplain_detection(detection, self.job.client, folder_fps=self.job.folder_fps,
                                                 detector=self.job.detector,
                                                 deadline_s=self.job.settings.vlm.video_deadline_s,
                                                 calls_per_candidate=self.job.settings.vlm.calls_per_candidate)
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
        explained = event is not None
        keyframes = await asyncio.to_thread(save_keyframes, self.output / "keyframes" / event_id, frames, moment)
        alerted = time.time()
        record = {"id": event_id, "camera": camera.name, "source": camera.source.source,
                  "start_s": round(moment.start_s, 2), "end_s": round(moment.end_s, 2), "peak_score": round(moment.peak_score, 3),
                  "opened_at": moment.opened_wall, "alerted_at": alerted, "explained": explained,
                  "status": "explained" if explained else "detected, not explained", "reason": reason,
                  "latency_to_alert_s": round(alerted - moment.opened_wall, 2),
                  "waited_for_budget_s": round(max(0.0, taken - moment.closed_wall), 2),
                  "latency_to_explanation_s": round(alerted - moment.opened_wall, 2) if explained else None,
                  "scored_again": scores is None, "event": event, "clip": str(clip.relative_to(self.output)),
                  "report": f"reports/{event_id}" if (self.output / "reports" / event_id / "report.json").is_file() else None,
                  "keyframes": [str(k.relative_to(self.output)) for k in keyframes]}
        self.events += 1
        self.log.add(record)
        what = event["what"] if event else reason
        self.console.print(f"{escape(camera.name)} {moment.start_s:.1f}–{moment.end_s:.1f} s: "
                           f"{'explained' if explained else 'detected'}: {escape(what)}", highlight=False, soft_wrap=True)
        if self.options.webhook:
            await post_alert(self.options.webhook, record)
        await asyncio.to_thread(prune, self.output, self.options.keep_days, self.options.max_gb)
        give_back_freed()


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
                     scores: list[LiveScore] | None = None) -> Detection:
    """The clip with the live moment as its one candidate, and the scores and evidence its frames got
    live; only a clip with frames scored before a reconnect is scored again."""
    scorer = camera.scorer
    if scores is None:
        scored = scorer.score(clip, device=job.device)
    else:
        with open_video(str(clip)) as video:
            info = video.info
        evidence = LiveScore.evidence(scores).to_source(scorer.width / info.width, scorer.speed_fps(info.fps))
        scored = ScoreResult(info, scorer.scorer_id, np.asarray([s.score for s in scores], np.float32),
                             scorer.threshold, evidence, skipped=0, seconds=0.0)
    fps, last = scored.info.fps, scored.info.frame_count - 1
    duration = scored.info.duration_s
    start, end = (min(clock.to_clip(t), duration) for t in (moment.start_s, moment.end_s))
    peak = min(max(clock.to_clip(moment.peak_s), start), end)
    candidate = Candidate(start_s=start, end_s=max(end, start), peak_s=peak, peak_score=round(moment.peak_score, 4),
                          start_frame=min(round(start * fps), last), end_frame=min(round(end * fps), last))
    report = VideoReport(video=scored.info, taxonomy=camera.taxonomy or job.taxonomy, rules=camera.rules or job.rules,
                         prompts_version=PROMPTS_VERSION,
                         scorer=ScorerSummary(scorer_id=scored.scorer_id, fps=fps, threshold=round(scored.threshold, 4),
                                              candidates=[candidate]))
    return Detection(str(clip), report, scored)


def write_clip(path: Path, frames, fps: float) -> int:
    """Frames (any iterable of frames with `.rgb`, decoded one at a time) into an H.264 MP4; returns
    how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with av.open(str(path), "w") as out:
        stream = None
        for frame in frames:
            rgb = frame.rgb
            if stream is None:
                height, width = rgb.shape[:2]
                stream = out.add_stream("libx264", rate=round(fps), options=CLIP_H264_OPTIONS)
                stream.width, stream.height, stream.pix_fmt = width - width % 2, height - height % 2, "yuv420p"
            rgb = rgb[: stream.height, : stream.width]
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")))
            written += 1
        if stream is not None:
            out.mux(stream.encode())
    return written


def record_command(source: str, output: Path, seconds: float, console: Console) -> int:
    """`vadagent record URL --seconds N -o normal.mp4`: a stretch of a camera, as normal footage to fit on."""
    if output.suffix.lower() != ".mp4":
        raise UsageError(f"{output}: the recording is written as MP4; name it .mp4")
    live = LiveSource(source, max_side=1280)
    started = time.monotonic()  # a stream that stalls still ends the recording in time
    stream = live.frames(stop=lambda: time.monotonic() - started >= seconds + live.stall_s)
    written = write_clip(output, itertools.takewhile(lambda frame: frame.time_s < seconds, stream), live.fps)
    if written < 2:
        output.unlink(missing_ok=True)
        raise UsageError(f"{source}: fewer than 2 frames arrived in {seconds:g} s")
    console.print(f"recorded {written} frames ({written / live.fps:.1f} s) → {output}", highlight=False)
    return 0


def save_keyframes(folder: Path, frames: list[StoredFrame], moment: Moment) -> list[Path]:
    """The first, peak and last frames of the moment, as the JPEGs the ring already holds."""
    inside = [f for f in frames if moment.start_s <= f.time_s <= moment.end_s] or frames
    peak = min(inside, key=lambda f: abs(f.time_s - moment.peak_s))
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for frame in {f.index: f for f in (inside[0], peak, inside[-1])}.values():
        path = folder / f"{frame.time_s:09.2f}.jpg"
        path.write_bytes(frame.jpeg)
        saved.append(path)
    return saved


async def post_alert(url: str, record: dict, attempts: int = 3) -> bool:
    """POST the event as JSON, retried with back-off; a webhook that never answers is logged, not fatal."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        for attempt in range(attempts):
            try:
                response = await client.post(url, json=record)
                if response.status_code < 300:
                    return True
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as error:
                problem = f"{type(error).__name__}: {error}"
            await asyncio.sleep(0.5 * 2**attempt)
    log.warning("webhook %s: the alert for %s was not delivered (%s)", url, record["id"], problem)
    return False


def prune(output: Path, keep_days: float | None, max_gb: float | None) -> None:
    """Clips, keyframes and event reports older than `keep_days`, then the oldest beyond `max_gb`, are deleted."""
    files = sorted((p for folder in ("clips", "keyframes", "reports") for p in (output / folder).rglob("*") if p.is_file()),
                   key=lambda p: p.stat().st_mtime)
    now = time.time()
    if keep_days is not None:
        for path in [p for p in files if now - p.stat().st_mtime > keep_days * 86400]:
            path.unlink(missing_ok=True)
            files.remove(path)
    if max_gb is not None:
        total = sum(p.stat().st_size for p in files)
        while files and total > max_gb * 1e9:
            oldest = files.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)


def parse_cameras(sources: list[str], default_scorer: Path | None, settings, options: WatchOptions) -> list[Camera]:
    """SOURCE, SOURCE=SCORER_DIR, or a cameras YAML file (CameraList); a camera without a name is
    named after its file or host, numbered if needed."""
    cameras, names = [], set()
    for text in sources:
        if text.lower().endswith((".yaml", ".yml")) and Path(text).is_file():
            for entry in load_yaml_model(CameraList, Path(text)).cameras:
                cameras.append(_camera(entry, Path(text).parent, settings, options, names))
            continue
        source, _, named = text.rpartition("=")
        if not source or not Path(named).is_dir():  # "=" may belong to the URL's query, not name a scorer
            source, named = text, ""
        folder = Path(named) if named else default_scorer
        if folder is None:
            raise UsageError(f"{source}: no scorer; give --scorer DIR (from 'vadagent fit' on this camera's normal "
                             "footage) or SOURCE=SCORER_DIR")
        cameras.append(_camera(CameraEntry(url=source, scorer=folder), Path("."), settings, options, names))
    return cameras


def _camera(entry: CameraEntry, base: Path, settings, options: WatchOptions, names: set[str]) -> Camera:
    source = entry.url
    live = LiveSource(source, realtime=options.realtime, loop=options.loop)
    if live.is_file:  # a file is named relative to the cameras file
        if not (base / source).is_file():
            raise UsageError(f"{source}: no such file (and not a stream URL or device)")
        live.source = str(base / source)
    name = entry.name or (Path(source).stem if "://" not in source
                          else source.split("://", 1)[1].split("/")[0].replace(":", "_"))
    if name in names:
        if entry.name:
            raise UsageError(f"two cameras are named {name!r}")
        name = f"{name}_{len(names) + 1}"
    names.add(name)
    return Camera(name, live, Scorer.load(base / entry.scorer),
                  entry.calls_per_minute or settings.candidates.calls_per_minute,
                  taxonomy=_taxonomy(entry.taxonomy, base) if entry.taxonomy else None,
                  rules=RuleSet.from_yaml(base / entry.rules) if entry.rules else None)


def _taxonomy(name: str, base: Path) -> Taxonomy:
    """A shipped taxonomy's name, or a YAML file relative to the cameras file."""
    return load_taxonomy(str(base / name) if name.lower().endswith((".yaml", ".yml")) else name)


def steady_memory() -> None:
    """A process that runs for days, whose threads allocate and free a frame's worth of memory many
    times a second, grows through glibc's allocator alone: it raises its mmap threshold after each
    large free (so frames land in per-thread heaps, which fragment) and gives every thread an arena.
    A fixed threshold returns each frame's memory to the system when freed, and two arenas bound
    the rest. (glibc only; elsewhere nothing changes.)"""
    if _LIBC is None:
        return
    m_mmap_threshold, m_arena_max = -3, -8  # from glibc's malloc.h
    _LIBC.mallopt(m_mmap_threshold, 256 * 1024)
    _LIBC.mallopt(m_arena_max, 2)


def give_back_freed() -> None:
    """After an event: the many small objects explaining it allocated (report, clip, model answer)
    are freed by now, but glibc keeps the emptied heap pages until asked; returning them keeps the
    resident size of a long watch at its working set."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


_LIBC = _libc()


def watch_command(settings, sources: list[str], output: Path, *, scorer_dir: Path | None, vlm: str | None,
                  taxonomy: str | None, rules_file: Path | None, options: WatchOptions, console: Console) -> int:
    from vadagent.app.outputs import claim_output

    steady_memory()
    cameras = parse_cameras(sources, scorer_dir, settings, options)
    with claim_output(output):
        job = Job.build(settings, console, vlm=vlm, taxonomy=taxonomy, rules_file=rules_file)
        console.print(f"watching {len(cameras)} camera(s): {', '.join(c.name for c in cameras)} (Ctrl-C stops)",
                      highlight=False)
        return asyncio.run(Watch(job, cameras, output, options, console).run())
