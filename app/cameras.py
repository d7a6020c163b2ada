"""A watch's cameras: what each is (`parse_cameras`), and its reader, which decodes the stream, scores
each frame, opens and closes moments and keeps the last seconds of frames, from which a moment's clip
is cut once the context after it has arrived (`Cut`).

`CameraReaders` runs a thread per camera in this process. The tiers read each frame in Python under
one interpreter lock, so threads of one process score about 300 frames/s of 360×240 however many
cores the machine has (`evals/results/bench_watch_gpu.md`: eight cameras on 16 cores); on machines of
four cores or more, with two cameras or more, the readers run in processes of their own instead
(`app/camera_processes.py`), with the same interface. Either way the explaining stays in the watch's
process, where the model is.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vadagent.errors import UsageError, VadagentError
from vadagent.rules import RuleSet
from vadagent.taxonomy import Taxonomy, load_taxonomy
from vadagent.tools.scorer import Scorer
from vadagent.tools.scorer.candidates import CandidatePolicy
from vadagent.tools.scorer.live import CoverageFloor, LiveScore, LiveScorer, Moment, MomentTracker
from vadagent.tools.scorer.plot import draw_box
from vadagent.tools.video.live import FrameRing, LiveFrame, LiveSource, StoredFrame, host_of, redacted
from vadagent.tools.video.pyav_file import CLIP_H264_OPTIONS
from vadagent.yamlio import load_yaml_model

log = logging.getLogger(__name__)
FLOOR_HOLD = "coverage floor"  # the ring's holds of the frames about the coverage floor's peaks, keyed (FLOOR_HOLD, time)
Submit = Callable[["Camera", Moment, "Keyframes | None"], None]  # a moment closed, its keyframes kept: it waits
Finished = Callable[["Camera"], None]  # a camera's reader ended, after its last moment


# which events `--webhook` is sent (`WatchOptions.alerts`), as `watch --alert` offers them; events.jsonl and the
# database record every one
ALERTS = ("all", "anomalies", "explained")


@dataclass
class WatchOptions:
    before_s: float = 3.0  # context before a moment
    after_s: float = 2.0  # and after it
    max_moment_s: float = 10.0  # a longer event is asked about in pieces
    queue_size: int = 8  # moments waiting for the VLM, all cameras together
    max_wait_s: float | None = 60.0  # a moment waits at most this long for the VLM after it closed (None: no bound)
    webhook: str | None = None
    alert: str = "anomalies"  # which events the webhook is sent (ALERTS)
    alert_severity: int = 0  # no explained event below this severity is sent
    realtime: bool = False
    loop: bool = False
    keep_days: float | None = None
    max_gb: float | None = None
    # the candidates' coverage floor on each camera (CoverageFloor; the `candidates` settings); None: none
    coverage: CandidatePolicy | None = None

    def __post_init__(self) -> None:
        if self.alert not in ALERTS:
            raise UsageError(f"alert must be one of {', '.join(ALERTS)}, not {self.alert!r}")
        if not 0 <= self.alert_severity <= 4:
            raise UsageError(f"alert_severity must be 0-4 (0 none ... 4 critical), not {self.alert_severity}")

    def alerts(self, record: dict) -> bool:
        """Whether the webhook is sent this event (`record`: its line of events.jsonl). One the model judged normal is
        nobody's alarm; one not explained may be anything (no model looked), so only `explained` leaves it out."""
        event = record["event"]
        if event is None:
            return self.alert != "explained"
        judged_normal = event["verdict"] == "rejected" or event["category"] == "normal"
        return event["severity"] >= self.alert_severity and (self.alert == "all" or not judged_normal)


class CameraEntry(BaseModel):
    """One camera of a cameras YAML file; paths are relative to the file."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, pattern=r"^[\w.-]*[\w-][\w.-]*$")  # names folders: not "." or ".."
    url: str = Field(min_length=1, description="stream URL, device or file")
    scorer: Path = Field(description="scorer folder from 'vadagent fit' on this camera's normal footage")
    rules: Path | None = None
    taxonomy: str | None = None
    calls_per_minute: float | None = Field(None, gt=0)
    options: dict[str, str] = Field(default_factory=dict, description="FFmpeg input options for this camera's stream, "
                                    "e.g. {rtsp_transport: udp} (RTSP is read over TCP by default)")


class CameraList(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cameras: list[CameraEntry] = Field(min_length=1)


@dataclass
class Camera:
    name: str
    source: LiveSource
    scorer: Scorer
    calls_per_minute: float
    scorer_dir: Path | None = None  # where the scorer was loaded from (a camera process loads it there)
    taxonomy: Taxonomy | None = None  # the job's unless the camera has its own
    rules: RuleSet | None = None
    ring: FrameRing | None = None
    scores: deque[LiveScore] = field(default_factory=deque)  # the ring's frames' scores, once scored
    held_scores: dict[int, LiveScore] = field(default_factory=dict)  # and those of the frames it holds for moments
    latest_s: float = -1.0
    kept_from_s: float = float("-inf")  # camera time of the oldest frame it keeps, held or in its ring (-inf: none yet)
    score: float = float("nan")
    frames: int = 0
    alive: bool = True
    reported_interruptions: int | None = None  # from the camera's process; None: its source here counts them
    reported_damaged: int | None = None  # packets that did not decode, likewise
    reading: str = ""  # how its picture is read against the normal footage's, and its view (LiveScorer.reading)
    floor_kept_s: tuple[float, ...] = ()  # the coverage floor's peaks whose frames it keeps (keep_for_floor)
    tokens: float = 1.0
    refilled: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.source.levels is None:  # a thermal camera's deep gray read as its normal footage was (levels.py)
            self.source.levels = self.scorer.levels

    @property
    def interruptions(self) -> int:
        return len(self.source.gaps) if self.reported_interruptions is None else self.reported_interruptions

    @property
    def damaged(self) -> int:
        """Packets of its stream that did not decode (lost or damaged on the way), skipped, or that arrived with
        pieces missing."""
        return self.source.skipped + self.source.corrupt if self.reported_damaged is None else self.reported_damaged

    def scores_of(self, frames: list[StoredFrame]) -> list[LiveScore] | None:
        """The live scores of these frames, or None when any is missing (scored before a reconnect)."""
        known = {s.index: s for s in list(self.scores)} | dict(self.held_scores)  # copies: the reader adds meanwhile
        found = [known.get(f.index) for f in frames]
        return None if any(s is None for s in found) else found

    def keeps(self, moment: Moment) -> bool:
        """Whether the camera still keeps the moment's frames, so that a clip of it can be cut: it holds
        them from its close until released, unless its process was started again since."""
        return moment.end_s >= self.kept_from_s

    def hold(self, moment: Moment, options: WatchOptions) -> None:
        """Keep the frames of the moment's clip (its context included) until `release`, however long it waits."""
        self.ring.hold(moment.start_s, moment.start_s - options.before_s, moment.end_s + options.after_s)

    def keep_for_floor(self, peaks_s: tuple[float, ...], options: WatchOptions) -> None:
        """Keep the frames about the coverage floor's peaks so far (`CoverageFloor.kept_s`), any clip of a moment
        grown from one, until the floor moves on (a higher peak, or the stretch's end: its moments are held by then)."""
        if peaks_s == self.floor_kept_s:
            return
        dropped = [(FLOOR_HOLD, t) for t in self.floor_kept_s if t not in peaks_s]
        if dropped:  # a peak added alone lets nothing go: no walk over the held scores
            self.release(dropped)
        reach = options.coverage.max_segment_s
        for t in set(peaks_s) - set(self.floor_kept_s):
            self.ring.hold((FLOOR_HOLD, t), t - reach - options.before_s, t + reach + options.after_s)
        self.floor_kept_s = peaks_s

    def release(self, holds: list[Hashable]) -> None:
        """The frames held for these moments (by start time, or the coverage floor's peaks) are no longer needed: cut,
        or set aside."""
        for key in holds:
            self.ring.release(key)
        for index in [i for i in list(self.held_scores) if not self.ring.is_held(i)]:  # the reader adds meanwhile
            self.held_scores.pop(index, None)

    def take_call(self, spare: bool = False) -> bool:
        """A token bucket: `calls_per_minute`, bursts of at most that many. `spare`: only a call to spare, never the
        last one the bucket holds (the coverage floor's moments: a moment over the threshold may come next)."""
        now = time.monotonic()
        capacity = max(1.0, self.calls_per_minute)
        self.tokens = min(capacity, self.tokens + (now - self.refilled) * self.calls_per_minute / 60.0)
        self.refilled = now
        if self.tokens >= (2.0 if spare else 1.0):
            self.tokens -= 1.0
            return True
        return False


@dataclass(frozen=True)
class Keyframes:
    """A moment's first, peak and last frames, saved as JPEGs when it closed (while its camera still
    held them), so that every moment recorded can be seen, explained or not. Paths may coincide."""

    first: Path
    peak: Path
    last: Path

    @property
    def paths(self) -> list[Path]:
        return list(dict.fromkeys((self.first, self.peak, self.last)))

    def merge(self, moment: Moment, other: Keyframes, other_moment: Moment) -> Keyframes:
        """The keyframes of the two moments merged (as `Moment.merge` merges them)."""
        return Keyframes(self.first if moment.start_s <= other_moment.start_s else other.first,
                         self.peak if moment.peak_score >= other_moment.peak_score else other.peak,
                         self.last if moment.end_s >= other_moment.end_s else other.last)


@dataclass
class Cut:
    """A moment's clip, cut from what its camera kept: the clip's frames' times on the camera's clock
    and their live scores (None when any was scored before a reconnect)."""

    clip: Path
    times: list[float]
    fps: float
    scores: list[LiveScore] | None
    damaged: list[int] = field(default_factory=list)  # the clip's frames (by position) decoded from damaged data


class CameraReaders:
    """A reader thread per camera, in this process; each moment's keyframes go under `keyframes`."""

    def __init__(self, cameras: list[Camera], options: WatchOptions, device: str, keyframes: Path) -> None:
        self.cameras, self.options, self.device, self.keyframes = cameras, options, device, keyframes
        self.halt = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, submit: Submit, finished: Finished) -> None:
        self._threads = [threading.Thread(target=self.read, args=(c, submit, finished), name=f"camera {c.name}",
                                          daemon=True) for c in self.cameras]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """The cameras stop reading; each closes its open moment (submitted) and then finishes."""
        self.halt.set()

    def close(self) -> None:
        self.halt.set()
        for thread in self._threads:
            thread.join(timeout=10)

    async def cut(self, camera: Camera, moment: Moment, clip: Path) -> Cut | None:
        """The moment's clip, once the context after it has arrived (or the camera ended); None when its
        frames are no longer kept."""
        while not context_arrived(camera, moment, self.options):
            await asyncio.sleep(0.1)
        return await asyncio.to_thread(cut_clip, camera, moment, clip, self.options)

    def release(self, camera: Camera, moments: list[float]) -> None:
        """The frames its camera held for these moments (by start time) may go."""
        if camera.ring is not None:
            camera.release(moments)

    def read(self, camera: Camera, submit: Submit, finished: Finished) -> None:
        tracker = MomentTracker(camera.scorer.threshold, max_s=self.options.max_moment_s)
        live: LiveScorer | None = None  # made at the first frame, when the stream's frame rate is known
        floor: CoverageFloor | None = None  # likewise
        seen: dict[int, LiveFrame] = {}
        gaps = 0
        try:
            for frame in camera.source.frames(self.halt.is_set):
                if live is not None and len(camera.source.gaps) != gaps:  # back after a gap: motion across it is not motion
                    for scored in live.flush():
                        self._scored(camera, (tracker, floor), seen.pop(scored.index), scored, submit, live.reading)
                    self._raise(camera, tracker.close(time.time()), submit)
                    live, seen = None, {}
                gaps = len(camera.source.gaps)
                if live is None:
                    live = LiveScorer(camera.scorer, device=self.device, fps=camera.source.fps)
                if floor is None and self.options.coverage is not None:  # kept across a gap: stretches are of time
                    floor = CoverageFloor(camera.scorer.threshold, self.options.coverage, camera.source.fps)
                if camera.ring is None:  # sized once the frame rate is known: before + longest moment + after
                    options = self.options
                    span = options.before_s + options.max_moment_s + options.after_s + 2.0
                    # holds: the moments waiting (at most the queue's size) and those being explained
                    camera.ring = FrameRing(span, camera.source.fps, max_holds=options.queue_size + 64)
                    # scores trail the frames by up to a scoring chunk: keep a few more than the ring holds
                    camera.scores = deque(maxlen=camera.ring.frames.maxlen + 64)
                camera.ring.add(frame)
                camera.kept_from_s = camera.ring.kept_from_s
                camera.frames += 1
                seen[frame.index] = frame
                for scored in live.feed(frame.index, frame.scored, frame.stamp_s):
                    self._scored(camera, (tracker, floor), seen.pop(scored.index), scored, submit, live.reading)
            for scored in live.flush() if live is not None else []:
                self._scored(camera, (tracker, floor), seen.pop(scored.index), scored, submit, live.reading)
        except VadagentError as error:  # a camera that cannot work at all (a missing file): it alone stops
            log.error("%s: %s", camera.name, error)
        finally:
            self._raise(camera, tracker.close(time.time()), submit)
            finished(camera)  # after its last moment, in the loop's order: nothing it submitted is missed

    def _scored(self, camera: Camera, moments: tuple[MomentTracker, CoverageFloor | None], frame: LiveFrame,
                scored: LiveScore, submit: Submit, reading: str) -> None:
        camera.reading = reading
        # the oldest score leaves after its frame left the ring: kept while a moment holds that frame
        if len(camera.scores) == camera.scores.maxlen and camera.ring.is_held((leaving := camera.scores[0]).index):
            camera.held_scores[leaving.index] = leaving
        camera.scores.append(scored)
        camera.score, camera.latest_s = scored.score, frame.time_s
        tracker, floor = moments
        self._raise(camera, tracker.update(frame.time_s, scored.score, frame.wall), submit)
        if floor is not None:
            for moment in floor.update(frame.time_s, scored.score, frame.wall):
                self._raise(camera, moment, submit)  # held by then
            camera.keep_for_floor(floor.kept_s, self.options)

    def _raise(self, camera: Camera, moment: Moment | None, submit: Submit) -> None:
        """A moment that closed: its frames held until the watch cuts it or sets it aside, its keyframes
        saved now."""
        if moment is None:
            return
        moment.reading = camera.reading
        camera.hold(moment, self.options)
        folder = self.keyframes / camera.name / f"{moment.start_s:010.2f}"
        try:
            frames = camera.ring.between(moment.start_s, moment.end_s)
            kept = save_keyframes(folder, frames, moment, flagged_boxes(camera, frames), quality=camera.ring.quality)
        except OSError as error:  # a full disk costs the moment its pictures, not the camera its reader
            log.error("%s: the keyframes of the moment at %.1f s could not be saved: %s", camera.name, moment.start_s, error)
            kept = None
        submit(camera, moment, kept)


def context_arrived(camera: Camera, moment: Moment, options: WatchOptions) -> bool:
    return not camera.alive or camera.latest_s >= moment.end_s + options.after_s


def cut_clip(camera: Camera, moment: Moment, clip: Path, options: WatchOptions) -> Cut | None:
    frames = camera.ring.between(moment.start_s - options.before_s, moment.end_s + options.after_s)
    scores = camera.scores_of(frames)  # now: the oldest frames' scores leave as the reader goes on
    if len(frames) < 2:  # the watch records the moment as not explained, and why
        return None
    write_clip(clip, frames, camera.source.fps)
    return Cut(clip, [f.time_s for f in frames], camera.source.fps, scores, [i for i, f in enumerate(frames) if f.damaged])


CLOCK_TICK = Fraction(1, 90_000)  # MPEG's clock: frame intervals of 25, 30 or 29.97 frames/s are whole ticks
# A recording that runs for minutes or hours survives its process being killed (power cut, OOM killer):
# fragmented MP4, a fragment from each keyframe (one every 2 s) written out at once, where a plain MP4's
# index is written last and a killed recording is unreadable whole.
FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}


def write_clip(path: Path, frames, fps: float, *, fragmented: bool = False,
               clock: Callable[[LiveFrame], float] | None = None) -> int:
    """Frames (any iterable of frames with `.rgb`, decoded one at a time) into an H.264 MP4; returns
    how many were written. `fragmented`: readable up to its last fragment if the writing is killed.
    `clock`: each frame's time in seconds, where the frames are not at `fps`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written, last_pts = 0, -1
    with av.open(str(path), "w", options=FRAGMENTED_MP4 if fragmented else {}) as out:
        stream = None
        for frame in frames:
            rgb = frame.rgb
            if stream is None:
                height, width = rgb.shape[:2]
                options = {**CLIP_H264_OPTIONS, "g": str(max(2 * round(fps), 1))} if fragmented else CLIP_H264_OPTIONS
                stream = out.add_stream("libx264", rate=round(fps), options=options)
                stream.width, stream.height, stream.pix_fmt = width - width % 2, height - height % 2, "yuv420p"
                if clock is not None:
                    stream.codec_context.time_base = CLOCK_TICK
            rgb = rgb[: stream.height, : stream.width]
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            if clock is not None:  # the encoder wants times that rise: two frames stamped alike are a tick apart
                last_pts = picture.pts = max(round(clock(frame) / CLOCK_TICK), last_pts + 1)
                picture.time_base = CLOCK_TICK
            out.mux(stream.encode(picture))
            written += 1
        if stream is not None:
            out.mux(stream.encode())
    return written


def flagged_boxes(camera: Camera, frames: list[StoredFrame]) -> dict[int, tuple[float, float, float, float]]:
    """Frame index → its evidence box, in the pixels of the frame as the ring keeps it, for the frames whose own
    live score reached the threshold (as report.html marks keyframes)."""
    scores, size = camera.scores_of(frames), camera.source.size
    if not scores or size is None:
        return {}
    # the live scores' boxes are in the scorer's working pixels, across and down (a camera of another shape)
    scale = (size[0] / camera.scorer.width, size[1] / camera.scorer.height) * 2
    return {s.index: tuple(v * k for v, k in zip(s.box, scale, strict=True)) for s in scores
            if s.score >= camera.scorer.threshold and s.box[2] > s.box[0] and s.box[3] > s.box[1]}


def save_keyframes(folder: Path, frames: list[StoredFrame], moment: Moment,
                   boxes: dict[int, tuple[float, float, float, float]] | None = None, quality: int = 90) -> Keyframes | None:
    """The first, peak and last frames of the moment, as the JPEGs the ring already holds (None: it holds none),
    with the evidence box drawn on those in `boxes`: on the live page and in an alert, where it happened."""
    if not frames:
        return None
    boxes = boxes or {}
    inside = [f for f in frames if moment.start_s <= f.time_s <= moment.end_s] or frames
    peak = min(inside, key=lambda f: abs(f.time_s - moment.peak_s))
    folder.mkdir(parents=True, exist_ok=True)
    saved = {}
    for frame in (inside[0], peak, inside[-1]):
        if frame.index not in saved:
            saved[frame.index] = folder / f"{frame.time_s:09.2f}.jpg"
            jpeg = frame.jpeg
            if frame.index in boxes:
                ok, marked = cv2.imencode(".jpg", cv2.cvtColor(draw_box(frame.rgb, boxes[frame.index]), cv2.COLOR_RGB2BGR),
                                          [cv2.IMWRITE_JPEG_QUALITY, quality])
                jpeg = marked.tobytes() if ok else jpeg
            saved[frame.index].write_bytes(jpeg)
    return Keyframes(saved[inside[0].index], saved[peak.index], saved[inside[-1].index])


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
            raise UsageError(f"{redacted(source)}: no scorer; give --scorer DIR (from 'vadagent fit' on this camera's normal "
                             "footage) or SOURCE=SCORER_DIR")
        cameras.append(_camera(CameraEntry(url=source, scorer=folder), Path("."), settings, options, names))
    return cameras


def _camera(entry: CameraEntry, base: Path, settings, options: WatchOptions, names: set[str]) -> Camera:
    source = entry.url
    live = LiveSource(source, realtime=options.realtime, loop=options.loop, options=entry.options)
    if live.is_file:  # a file is named relative to the cameras file
        if not (base / source).is_file():
            raise UsageError(f"{source}: no such file (and not a stream URL or device)")
        live.source = str(base / source)
    name = entry.name or (Path(source).stem if "://" not in source else host_of(source).replace(":", "_"))
    if name in names:
        if entry.name:
            raise UsageError(f"two cameras are named {name!r}")
        name = f"{name}_{len(names) + 1}"
    names.add(name)
    return Camera(name, live, Scorer.load(base / entry.scorer),
                  entry.calls_per_minute or settings.candidates.calls_per_minute, scorer_dir=base / entry.scorer,
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
