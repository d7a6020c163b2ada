"""One streaming pass over a video that prepares what the tiers read: gray frames at the working
size, their absolute difference with the previous frame and dense optical flow (OpenCV DIS) at half
the working size, computed once per frame whatever the number of tiers."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from vadagent.devices import usable_cores
from vadagent.errors import UsageError
from vadagent.tools.scorer import exposure
from vadagent.tools.scorer import grain as grains
from vadagent.tools.scorer.cuts import CutFinder
from vadagent.tools.scorer.overlay import Overlay
from vadagent.tools.scorer.prefetch import ahead
from vadagent.tools.scorer.view import FootageView, ViewSeen, ViewWatch
from vadagent.tools.video import VideoSource
from vadagent.tools.video.shrink import shrink

# DIS optical-flow settings (finest pyramid scale, patch size, patch stride, gradient-descent
# iterations, variational-refinement iterations). "coarse" is OpenCV's ultrafast preset: flow on a
# quarter-resolution grid, no refinement. "half" stops one pyramid level lower: speeds of small or
# slow objects come out far less noisy, at about a third of the frame rate. "quick" is "half" with
# patches every 5 px instead of 4 and 8 descent iterations instead of 12: 1.5x the flow rate of
# "half", the same self-validation within noise. "fine" adds five variational-refinement passes
# (half its speed again, no gain measured), "finest" is close to OpenCV's medium preset. Which one a
# site uses is a scorer setting (`scorer.flow`); evals/bench_flow.py compares them on synthetic
# anomalies in normal footage and on the CPU's frame rate, and chose the default.
FLOW_PRESETS: dict[str, tuple[int, int, int, int, int]] = {
    "coarse": (2, 8, 4, 12, 0),
    "quick": (1, 8, 5, 8, 0),
    "half": (1, 8, 4, 12, 0),
    "fine": (1, 8, 4, 12, 5),
    "finest": (1, 12, 4, 16, 5),
}
DEFAULT_FLOW = "quick"
# Flow is computed and kept at 1/FLOW_STEP of the working size, in working pixels per frame. Every
# preset's finest scale is at least 1, so DIS on the working frame estimated it there anyway and only
# upsampled it, and the tiers read it at that size or coarser (cells, objects): computing it on the
# smaller frame (finest scale one lower) and not upsampling cost 1.28x less per frame, the same
# self-validation (0.9076 against 0.9078 on Ped2's training footage).
FLOW_STEP = 2
RATE_TOLERANCE = 0.05  # a frame this close to the declared interval is a regular one
LATE_AT_MOST = 8.0  # a frame's motion is put in fitted intervals for gaps of up to this many of them
SHAKE_PX = 0.25  # px per frame at the working size; static cameras here: 95 % of frames under 0.05
FLOW_THREADS = min(usable_cores(), 4)  # a chunk's flows in parallel (see flows_of)

log = logging.getLogger(__name__)


def hold_threads(threads: int) -> None:
    """At most `threads` flow threads, OpenCV threads and torch threads in this process: one that
    shares the machine's cores with others scoring side by side (side_by_side.py starts each with this)."""
    global FLOW_THREADS
    FLOW_THREADS = max(1, threads)  # flows_of cuts a chunk into this many blocks; its pool starts at this size
    cv2.setNumThreads(FLOW_THREADS)
    # the learned tier's torch would take every core of the machine in each process, its idle OpenMP threads
    # spinning; torch is imported later if at all, and OpenMP reads this as it loads
    os.environ["OMP_NUM_THREADS"] = str(FLOW_THREADS)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(FLOW_THREADS)


def camera_motion(flow: np.ndarray) -> tuple[np.ndarray, bool]:
    """The camera's own shift between two frames (the median flow, sampled every 8 working px) and
    whether it moved: the median is at least SHAKE_PX long and three quarters of the picture move
    along with it, which things in front of a still camera (people, a passing truck) do not make it do."""
    sample = flow[:: 8 // FLOW_STEP, :: 8 // FLOW_STEP].reshape(-1, 2)
    camera = np.median(sample, axis=0)
    length = float(np.hypot(*camera))
    if length < SHAKE_PX:
        return camera, False
    along = sample @ (camera / length)
    return camera, bool(np.percentile(along, 25) >= 0.5 * length)


def time_scale(video_fps: float, fitted_fps: float | None) -> float:
    """A video's frame rate over the one a scorer was fitted at (1 when that is not recorded): what
    ChunkMaker scales flow and differences by, so motion is compared per fitted frame interval."""
    return video_fps / fitted_fps if fitted_fps else 1.0


def check_flow(preset: str) -> str:
    if preset not in FLOW_PRESETS:
        raise UsageError(f"unknown optical-flow preset {preset!r}; choose one of {', '.join(FLOW_PRESETS)}")
    return preset


def flow_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) of the flow of frames at the working size `width` × `height`."""
    return max(width // FLOW_STEP, 1), max(height // FLOW_STEP, 1)


def flow_estimator(preset: str) -> cv2.DISOpticalFlow:
    """DIS for frames at the flow's size (see FLOW_STEP): the preset's finest scale, which is relative
    to the working size, one lower."""
    finest, patch, stride, descent, refinement = FLOW_PRESETS[check_flow(preset)]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    dis.setFinestScale(finest - int(np.log2(FLOW_STEP)))
    dis.setPatchSize(patch)
    dis.setPatchStride(stride)
    dis.setGradientDescentIterations(descent)
    dis.setVariationalRefinementIterations(refinement)
    return dis


_flow_pool: ThreadPoolExecutor | None = None
_flow_pool_lock = threading.Lock()
_estimators = threading.local()  # each pool thread's own DIS per preset (a DIS object is not thread-safe)


def _flow_block(preset: str, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    cache = _estimators.__dict__.setdefault("by_preset", {})
    dis = cache.get(preset)
    if dis is None:
        dis = cache[preset] = flow_estimator(preset)
    return [dis.calc(previous, frame, None) for previous, frame in pairs]


def flows_of(preset: str, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """DIS flow of each (previous, frame) pair. The pairs are independent, so they are cut into one
    contiguous block per thread of a small shared pool: whole DIS calls side by side keep both of two
    cores busier than one DIS call spread over OpenCV's own threads (≈ +13 % end to end, measured)."""
    global _flow_pool
    if FLOW_THREADS == 1 or len(pairs) < 2 * FLOW_THREADS:
        return _flow_block(preset, pairs)
    with _flow_pool_lock:
        if _flow_pool is None:
            _flow_pool = ThreadPoolExecutor(FLOW_THREADS, thread_name_prefix="vadagent-flow")
    bounds = np.linspace(0, len(pairs), FLOW_THREADS + 1).astype(int)
    blocks = _flow_pool.map(_flow_block, [preset] * FLOW_THREADS,
                            [pairs[a:b] for a, b in zip(bounds[:-1], bounds[1:])])
    return [flow for block in blocks for flow in block]


@dataclass
class FrameChunk:
    """Consecutive frames of one video at the working size. `diff` and `flow` compare each frame
    with the one before it (frame 0 of a video copies frame 1's, as it has no predecessor)."""

    indices: np.ndarray  # (n,) int64 frame index in the source
    gray: np.ndarray  # (n, H, W) uint8, in the footage's tones where the video is veiled (ChunkMaker.veil)
    diff: np.ndarray  # (n, H, W) uint8 absolute difference
    # (n, H / FLOW_STEP, W / FLOW_STEP, 2) float32 (see flow_size), working px per frame, the camera's own
    # motion removed; without a flow preset, a read-only view of one zero
    flow: np.ndarray
    shake: np.ndarray  # (n,) bool: the camera itself moved since the frame before
    time_scale: float = 1.0  # the video's frame rate over the fitted one, which flow and diff are scaled by
    grain: grains.Grain = grains.UNKNOWN  # the video's grain as it came, as last measured (ChunkMaker._measure)
    reading: str = ""  # how its picture is read against the normal footage's (`picture_reading`); "": as it comes
    view: ViewSeen | None = None  # what it showed of the footage's view (view.py); None: not judged
    cuts: tuple[int, ...] = ()  # frames that begin a new shot of an edited video (cuts.py), where looked for
    # frames shown again on a regular clock (video/regular.py) since the chunk before, not among these: each takes
    # the scores of the frame before it
    repeats: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.indices)


def picture_reading(gate: grains.Gate, veil: exposure.Veil | None) -> str:
    """How a video's picture is read against its normal footage's, in words ("": as it comes); the same words for
    every measurement that decides alike (the log gives each one's figures)."""
    said = []
    if veil:
        said.append("veiled (fog or haze): read in the footage's tones")
    if gate.before_camera:
        said.append("grainier than the footage: motion read only where frames change by more than its grain")
    if gate.flashes:
        said.append("rain (brief bright streaks): motion read at the darker of each frame and the one before")
    elif gate.after_camera:
        said.append(f"smoother than the footage: motion read only where frames change by {gate.after_camera:g} gray "
                    "levels")
    return "; ".join(said)


def working_size(width: int, height: int, max_side: int = 360) -> tuple[int, int]:
    """Downscale so the longer side is at most `max_side` (cells are sized in working pixels)."""
    scale = min(1.0, max_side / max(width, height))
    return max(int(round(width * scale)), 1), max(int(round(height * scale)), 1)


class ChunkMaker:
    """Stateful: feed gray frames in order; holds only the previous frame. The first frame of a
    video waits for the second and copies its motion. `flow` is a FLOW_PRESETS name, or None when
    no tier reads flow (it is then all zeros). `time_scale` (the video's frame rate over the one
    the scorer was fitted at) puts flow and frame differences in units of the fitted frame
    interval: at half the rate things move twice as far between frames, and are not twice as fast.
    With the frames' timestamps and the fitted rate (`fitted_fps`), each frame's motion is put in
    those units by the time since the frame before: frames dropped before it (a camera or recorder
    under load) or a variable-rate recording then do not read as sudden speed. With the normal footage's
    grain (`footage_grain`), a grainier video's flow is read only where its frames differ by more than its grain
    (grain.py), and so is a smoother one's where they differ by little; a rainy one's at the darker of each frame and
    the one before; and a veiled one (fog, haze) is put back into the footage's tones (exposure.veil). With the
    footage's view (`footage_view`, and the video's rate `fps`), a view lost is said and a camera that moved is put
    back on it (view.py); without it, `find_cuts` says where an edited video cuts (cuts.py). `measure_grain=False`
    (only without a footage's grain, which it is then not compared with) leaves the video's grain unknown:
    self-validation's synthetic windows, whose grain nothing reads, each a maker of its own that would measure half
    of its 32 frames. A frame with the time of the one before it is one a regular clock shows again
    (video/regular.py): the tiers are not given it, and it is listed in the next chunk's `repeats`."""

    def __init__(self, width: int, height: int, *, flow: str | None = DEFAULT_FLOW, time_scale: float = 1.0,
                 fitted_fps: float | None = None, footage_grain: dict[str, float] | None = None,
                 footage_view: FootageView | None = None, fps: float = 25.0, measure_grain: bool = True,
                 find_cuts: bool = False, overlay: Overlay | None = None, repeats: bool = True) -> None:
        if not measure_grain and footage_grain is not None:
            raise ValueError("a video compared with the footage's grain must have its own measured")
        self.size = (width, height)
        self.overlay = overlay  # the camera's clock and captions, covered in every frame (overlay.py)
        self.footage_grain = footage_grain
        self.measure_grain = measure_grain
        self.grain = grains.UNKNOWN  # this video's, measured at its first chunk and again every exposure.AGAIN_FRAMES
        self.gate: grains.Gate | None = None  # where no motion is read for its grain (decided with each measurement)
        self.veil: exposure.Veil | None = None  # fog or haze over it, lifted from every frame (decided likewise)
        self.reading = ""  # the two in words (picture_reading), for each chunk
        self.view = ViewWatch(footage_view, fps) if footage_view is not None else None
        self.cuts = CutFinder() if find_cuts else None
        self._fed = 0  # frames fed so far
        self._measured_at = 0  # frames fed when the grain was last told
        self.time_scale = time_scale
        self.fitted_fps = fitted_fps
        self._previous_time: float | None = None
        self.preset = check_flow(flow) if flow else None
        self.flow_size = flow_size(width, height)
        self._previous: np.ndarray | None = None
        self._previous_small: np.ndarray | None = None  # the previous frame at the flow's size
        self._pending: tuple[int, np.ndarray] | None = None  # frame 0, waiting for frame 1
        self._last: np.ndarray | None = None  # the last frame fed, as it came (put back on the footage's view)
        self._repeats: list[int] = []  # frames shown again since the last chunk made
        self._last_stamp: float | None = None  # the time of the last frame fed
        # a frame with the time of the one before is a regular clock's repeat (video/regular.py); a live stream's
        # (repeats=False) is a frame of its own, which a camera sent with a time it had already sent
        self.read_repeats = repeats

    def _resize(self, frame: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        return shrink(frame, size or self.size)

    def _flows(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Flow of (previous, frame) pairs at the flow's size, in working px per frame."""
        return [flow * FLOW_STEP for flow in flows_of(self.preset, pairs)]

    def _steadied(self, frame: np.ndarray, camera: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Difference and flow of `frame` moved back by the camera's shift onto the frame before:
        what is left is motion in the scene (DIS on a shifted texture is far noisier than on a still
        one, so the flow is measured again rather than the shift subtracted)."""
        back = np.float32([[1, 0, -camera[0]], [0, 1, -camera[1]]])
        steadied = cv2.warpAffine(frame, back, self.size, borderMode=cv2.BORDER_REPLICATE)
        flow = self._flows([(self._previous_small, self._resize(steadied, self.flow_size))])[0]
        # both slightly blurred: the shift's interpolation has blurred one of them
        diff = cv2.absdiff(cv2.GaussianBlur(steadied, (0, 0), 1.0), cv2.GaussianBlur(self._previous, (0, 0), 1.0))
        # the strip the camera moved into shows what the frame before did not: no motion known there
        edge = int(np.ceil(np.abs(camera).max())) + 1
        for plane, px in ((diff, edge), (flow, -(-edge // FLOW_STEP))):
            plane[:px], plane[-px:], plane[:, :px], plane[:, -px:] = 0, 0, 0, 0
        return diff, flow

    def _unflashed(self, sized: list[np.ndarray]) -> list[np.ndarray]:
        """Each frame at the darker of itself and the frame before, pixel by pixel: a streak of rain brightens a
        frame for one frame alone, and is gone; what moves in front stays in both (grain.Gate.flashes)."""
        before = [sized[0] if self._last is None else self._last, *sized[:-1]]
        return [np.minimum(now, then) for now, then in zip(sized, before)]

    def _scale(self, time_s: float | None) -> float:
        """What this frame's difference and flow are multiplied by: fitted frame intervals per the
        interval since the frame before, by the timestamps when they differ from the declared rate."""
        before, self._previous_time = self._previous_time, time_s
        if time_s is None or before is None or not self.fitted_fps or time_s <= before:
            return self.time_scale
        by_time = 1.0 / ((time_s - before) * self.fitted_fps)
        if abs(by_time / self.time_scale - 1.0) < RATE_TOLERANCE:
            return self.time_scale  # a regular frame: exactly the declared rate's scores
        return float(np.clip(by_time, self.time_scale / LATE_AT_MOST, 2.0 * self.time_scale))

    def _measure(self, sized: list[np.ndarray]) -> None:
        """The video's grain on these frames, and its gate: at its start, and again as the hour changes (a camera
        watched from day into night). A measurement that cannot be told (a dark picture) keeps the gate there was."""
        grain = grains.measure(sized) if self.measure_grain else grains.UNKNOWN
        if self.gate is not None and not grain.told:
            return
        veil, self.veil = self.veil, exposure.veil(grain.level, grain.spread, self.footage_grain)
        if self.veil != veil:
            if self.veil:
                log.info("frame %d: a veiled picture (fog, haze: contrast %.2g of the footage's at %.2g of its level): "
                         "read in the footage's tones, (gray %+.3g) / %.3g", self._fed, self.veil.gain,
                         grain.level / self.footage_grain["level"], -self.veil.offset, self.veil.gain)
            else:
                log.info("frame %d: the picture no longer veiled: read as it comes", self._fed)
        if self.veil:  # its grain is the lifted picture's, which is what is read
            grain = grains.measure([self.veil.lifted(frame) for frame in sized])
        self.grain, self._measured_at = grain, self._fed
        gate, self.gate = self.gate, grains.gate(grain, self.footage_grain)
        self.reading = picture_reading(self.gate, self.veil)
        if self.gate == (gate or grains.Gate()):
            return
        if self.gate.before_camera or (self.gate.after_camera and not self.gate.flashes):
            log.info("frame %d: a %s picture than the normal footage's (%s against %s, of its level): no motion read "
                     "where frames differ by under %.3g gray levels", self._fed,
                     "grainier" if self.gate.before_camera else "smoother", grain.values(), self.footage_grain,
                     max(self.gate.before_camera, self.gate.after_camera))
        if self.gate.flashes:
            log.info("frame %d: %.2g %% of the picture brighter for one frame alone (rain; the footage's: %.2g %%): "
                     "its motion read at the darker of each frame and the one before, where they differ by %.3g gray "
                     "levels", self._fed, 100 * grain.flashes, 100 * self.footage_grain["flashes"],
                     max(self.gate.before_camera, self.gate.after_camera))
        if not any(self.gate):
            log.info("frame %d: the picture as grainy as the normal footage's again: its flow read as it comes", self._fed)

    def feed(self, indices: np.ndarray, frames: np.ndarray, times: np.ndarray | None = None) -> FrameChunk | None:
        """`times`: each frame's timestamp in seconds, when the source has them."""
        if self.read_repeats and times is not None and len(times):
            # a frame shown again on a regular clock (video/regular.py) keeps the time of the one it repeats: the
            # tiers read the recording's own frames, each one's motion over the time since the one before, and a
            # repeat takes the scores of the frame it repeats (Scorer._score), so that one frame's glitch stays
            # one frame to the median filter, and a recorder's pause costs no flow
            repeat = times == np.concatenate([[np.nan if self._last_stamp is None else self._last_stamp], times[:-1]])
            self._last_stamp = float(times[-1])
            if repeat.any():
                self._repeats += indices[repeat].tolist()
                indices, frames, times = indices[~repeat], frames[~repeat], times[~repeat]
                if not len(indices):
                    return None
        out_idx, grays, diffs, flows, shakes = [], [], [], [], []
        sized = [self._resize(raw) for raw in frames]
        if self.overlay:
            sized = [self.overlay.covered(frame) for frame in sized]
        if self.gate is None or self._fed - self._measured_at >= exposure.AGAIN_FRAMES:
            self._measure(sized)
        if self.veil:
            sized = [self.veil.lifted(frame) for frame in sized]
        of_view = None
        if self.view:  # put back on the footage's view where the camera moved
            sized, of_view = self.view.feed(indices, sized)
        cuts = self.cuts.feed(indices, sized) if self.cuts else ()
        self._fed += len(sized)
        seen = self._unflashed(sized) if self.gate.flashes else sized  # what motion is read on
        self._last = sized[-1]
        small = [self._resize(frame, self.flow_size) for frame in seen] if self.preset else [None] * len(sized)
        pairs = list(zip([self._previous_small, *small[:-1]], small))
        if self._previous is None:  # the video's first frame has none before it
            pairs = pairs[1:]
        pair_flows = iter(self._flows(pairs) if self.preset else [None] * len(pairs))
        stamps = times.tolist() if times is not None else [None] * len(sized)
        for index, frame, look, tiny, stamp in zip(indices.tolist(), sized, seen, small, stamps):
            if self._previous is None:
                self._previous, self._pending, self._previous_time = look, (index, frame), stamp
                self._previous_small = tiny
                continue
            diff = cv2.absdiff(look, self._previous)
            flow = next(pair_flows)
            if self.gate.before_camera and flow is not None:
                flow = grains.still(flow, diff, self.gate.before_camera)
            camera, shaken = camera_motion(flow) if self.preset else (None, False)
            if shaken:  # a camera on a pole in the wind: compare the scene with itself, not the frame
                diff, flow = self._steadied(look, camera)
                if self.gate.before_camera:  # the flow measured again, on the steadied frame
                    flow = grains.still(flow, diff, self.gate.before_camera)
            if self.gate.after_camera and flow is not None:
                flow = grains.still(flow, diff, self.gate.after_camera)
            scale = self._scale(stamp)
            if scale != 1.0:
                diff = cv2.convertScaleAbs(diff, alpha=scale)
                flow = None if flow is None else flow * scale
            if self._pending is not None:
                out_idx.append(self._pending[0])
                grays.append(self._pending[1])
                diffs.append(diff)
                flows.append(flow)
                shakes.append(shaken)
                self._pending = None
            out_idx.append(index)
            grays.append(frame)
            diffs.append(diff)
            flows.append(flow)
            shakes.append(shaken)
            self._previous, self._previous_small = look, tiny
        if not out_idx:
            return None
        gray = np.stack(grays)
        flow = np.stack(flows) if self.preset else \
            np.broadcast_to(np.float32(0), (len(gray), self.flow_size[1], self.flow_size[0], 2))
        repeats, self._repeats = tuple(self._repeats), []
        return FrameChunk(np.asarray(out_idx, np.int64), gray, np.stack(diffs), flow, np.asarray(shakes), self.time_scale,
                          self.grain, self.reading, of_view, cuts, repeats)

    def finish(self) -> FrameChunk | None:
        """A one-frame video: its only frame has no motion."""
        if self._pending is None:
            return None
        (index, frame), self._pending = self._pending, None
        return FrameChunk(np.asarray([index]), frame[None], np.zeros_like(frame)[None],
                          np.zeros((1, self.flow_size[1], self.flow_size[0], 2), np.float32), np.zeros(1, bool))



def chunks(video: VideoSource, width: int, height: int, *, flow: str | None = DEFAULT_FLOW, chunk: int = 64,
           start_s: float = 0.0, end_s: float | None = None, time_scale: float = 1.0,
           fitted_fps: float | None = None, footage_grain: dict[str, float] | None = None,
           footage_view: FootageView | None = None, find_cuts: bool = False,
           overlay: Overlay | None = None) -> Iterator[FrameChunk]:
    """The chunks of a video, made one ahead of the consumer (see `ahead`)."""
    return ahead(_chunks(video, width, height, flow=flow, chunk=chunk, start_s=start_s, end_s=end_s,
                         time_scale=time_scale, fitted_fps=fitted_fps, footage_grain=footage_grain,
                         footage_view=footage_view, find_cuts=find_cuts, overlay=overlay))


@dataclass
class _Unopened:
    """A video `chunks_in_turn` could not open (an error passed through `ahead` would be raised early)."""

    error: Exception


# one video of `chunks_in_turn`: what opens it, and its `chunks` options (start_s, end_s, time_scale,
# fitted_fps, footage_grain, footage_view, find_cuts, overlay) given the opened video
Turn = tuple[Callable[[], VideoSource], Callable[[VideoSource], dict]]


def chunks_in_turn(turns: Iterable[Turn], width: int, height: int, *, flow: str | None = DEFAULT_FLOW,
                   chunk: int = 64) -> Iterator[tuple[VideoSource, Iterator[FrameChunk]]]:
    """Each video with its chunks, in turn. One worker makes them all and goes on to the next video as
    soon as one's last chunk is made, so the next video's decoding and flow overlap the tiers' reading
    of this one's last chunks: videos read one by one leave a core idle at each one's start and end
    (Ped2's test clips: 1.46–1.62 cores busy one by one, 1.67–1.74 in turn). What the reader leaves of
    a video's chunks is skipped; an error opening or decoding a video is raised in its own turn."""

    def made() -> Iterator[VideoSource | FrameChunk | _Unopened]:
        for opening, options in turns:
            try:
                video = opening()
            except Exception as error:  # noqa: BLE001 - raised in its own turn, after the videos before it
                yield _Unopened(error)
                return
            with video:
                yield video
                yield from _chunks(video, width, height, flow=flow, chunk=chunk, **options(video))

    items = ahead(made())
    following: VideoSource | _Unopened | None = None

    def own() -> Iterator[FrameChunk]:
        nonlocal following
        for item in items:
            if not isinstance(item, FrameChunk):
                following = item
                return
            yield item

    try:
        following = next(items, None)
        while following is not None:
            if isinstance(following, _Unopened):
                raise following.error
            video, following = following, None
            body = own()
            yield video, body
            for _ in body:  # what the reader left of this video
                pass
    finally:
        items.close()


def _chunks(video: VideoSource, width: int, height: int, *, flow: str | None, chunk: int, start_s: float = 0.0,
            end_s: float | None = None, time_scale: float = 1.0, fitted_fps: float | None = None,
            footage_grain: dict[str, float] | None = None, footage_view: FootageView | None = None,
            find_cuts: bool = False, overlay: Overlay | None = None) -> Iterator[FrameChunk]:
    maker = ChunkMaker(width, height, flow=flow, time_scale=time_scale, fitted_fps=fitted_fps, footage_grain=footage_grain,
                       footage_view=footage_view, fps=video.info.fps, find_cuts=find_cuts, overlay=overlay)
    # frames shrunk to the working size in the decoding thread: the maker's resize then has nothing to do
    for batch in ahead(video.scan(gray=True, chunk=chunk, start_s=start_s, end_s=end_s, size=(width, height))):
        made = maker.feed(batch.indices, batch.frames, batch.times)
        if made is not None:
            yield made
    last = maker.finish()
    if last is not None:
        yield last


def chunks_of_frames(frames: np.ndarray, *, flow: str | None = DEFAULT_FLOW, chunk: int = 64) -> Iterator[FrameChunk]:
    """The same pass over frames already in memory at the working size (self-validation's windows, whose grain
    is not measured: no footage's is compared with, and nothing reads it)."""
    maker = ChunkMaker(frames.shape[2], frames.shape[1], flow=flow, measure_grain=False)
    for start in range(0, len(frames), chunk):
        made = maker.feed(np.arange(start, min(start + chunk, len(frames))), frames[start : start + chunk])
        if made is not None:
            yield made
    last = maker.finish()
    if last is not None:
        yield last
