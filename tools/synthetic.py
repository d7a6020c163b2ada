"""Synthetic surveillance clips with anomalies at known frames, written as real H.264 MP4.

A fixed camera looks at a footpath; walkers cross it left to right at walking pace. Anomalies:
`fast` (a bike-sized object crossing at several times walking speed), `wrong_way` (a walker
against the flow), `loiter` (a person standing about off the path, `loiter_s`) and `intruder` (a person close
to the camera, in the foreground where nobody goes, walking slowly). `crowd` adds a busy but
normal crowd hurrying both ways along the path (the busy-background scene). Used by the test
fixtures, the doctor and the sample clip that ships with the package; `cloud_shadow` lays a cloud's
drifting shadow over any frames (the tests' and bench_robustness' outdoor light), `swaying_foliage` a tree's crown
swaying in the wind.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import cv2
import numpy as np

AnomalyKind = Literal["fast", "wrong_way", "loiter", "intruder"]


@dataclass
class Mover:
    x: float
    y: float
    vx: float
    w: int
    h: int
    shade: int
    kind: str = "walker"
    stop_at: float | None = None  # x where a loiterer stops
    stop_frames: int = 0
    first: int = -1  # first and last frame in which this mover is anomalous
    last: int = -1
    drawn: dict | None = None  # where it was drawn, once it is (`ClipTruth.movers`)


@dataclass
class ClipSpec:
    seconds: float = 12.0
    fps: float = 25.0
    width: int = 320
    height: int = 240
    walkers_per_second: float = 0.6
    seed: int = 0
    site: int = 0  # the scene itself (background texture): clips of one site share it, whatever their seed
    crowd: float = 0.0  # extra walkers per second hurrying both ways (a busy, normal background)
    anomalies: list[tuple[AnomalyKind, float]] = field(default_factory=list)  # (kind, start second)
    loiter_s: float = 4.0  # how long a loiterer stands about
    fade_in_s: tuple[float, float] = (0.0, 0.0)  # seconds of black, then seconds of fading in (an edited file)


@dataclass
class ClipTruth:
    fps: float
    frame_count: int
    labels: list[int]  # 1 where an anomaly is visible
    events: list[dict]  # kind, start_frame, end_frame (inclusive)
    # per frame, the box (x0, y0, x1, y1, exclusive ends) around what is anomalous in it; [] where nothing is
    boxes: list[list[int]] = field(default_factory=list)
    # every figure drawn, normal or not: its kind, the frame it is first seen in, and from there each frame's centre
    # x (px, its true motion) and box while in view (what the object relations are measured against: bench_relations)
    movers: list[dict] = field(default_factory=list)

    def masks(self, width: int, height: int) -> np.ndarray:
        """Pixel masks (frames × height × width) from the boxes, for localisation benchmarks."""
        out = np.zeros((self.frame_count, height, width), dtype=bool)
        for frame, box in enumerate(self.boxes):
            if box:
                out[frame, box[1] : box[3], box[0] : box[2]] = True
        return out

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> ClipTruth:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def _background(spec: ClipSpec, rng: np.random.Generator) -> np.ndarray:
    h, w = spec.height, spec.width
    grass = rng.normal(95, 12, (h, w)).astype(np.float32)
    grass = cv2.GaussianBlur(grass, (0, 0), 1.5)
    top, bottom = int(0.45 * h), int(0.8 * h)
    grass[top:bottom] = cv2.GaussianBlur(rng.normal(170, 6, (bottom - top, w)).astype(np.float32), (0, 0), 1.0)
    return np.stack([grass * 0.8, grass, grass * 0.7], axis=-1)


def _spawn_walker(spec: ClipSpec, rng: np.random.Generator, direction: int = 1) -> Mover:
    h, w = spec.height, spec.width
    size = spec.width / 320
    return Mover(
        x=-10.0 if direction > 0 else w + 10.0,
        y=rng.uniform(0.5 * h, 0.75 * h),
        vx=direction * rng.normal(1.3, 0.15) * size,
        w=int(8 * size), h=int(22 * size), shade=int(rng.integers(20, 80)),
    )


def _anomaly_mover(kind: AnomalyKind, spec: ClipSpec, rng: np.random.Generator) -> Mover:
    size = spec.width / 320
    if kind == "fast":
        return Mover(x=-20.0, y=0.62 * spec.height, vx=6.5 * size, w=int(26 * size), h=int(16 * size), shade=200, kind=kind)
    if kind == "intruder":
        return Mover(x=0.15 * spec.width, y=0.86 * spec.height, vx=0.35 * size, w=int(18 * size), h=int(46 * size),
                     shade=60, kind=kind)
    if kind == "wrong_way":
        mover = _spawn_walker(spec, rng, direction=-1)
        mover.kind = kind
        return mover
    mover = _spawn_walker(spec, rng)
    mover.kind, mover.y, mover.stop_at = kind, 0.3 * spec.height, 0.5 * spec.width
    mover.stop_frames = int(spec.loiter_s * spec.fps)
    return mover


def _draw(frame: np.ndarray, mover: Mover) -> None:
    cx, cy = int(mover.x), int(mover.y)
    colour = (mover.shade, mover.shade, mover.shade + 20) if mover.kind != "fast" else (40, 40, 200)
    colour = tuple(int(c) for c in colour)
    cv2.ellipse(frame, (cx, cy), (mover.w // 2, mover.h // 2), 0, 0, 360, colour, -1)
    cv2.circle(frame, (cx, cy - mover.h // 2 - 3), max(2, mover.w // 3), colour, -1)


def _extent(mover: Mover, spec: ClipSpec) -> list[int]:
    """The box `_draw` paints (body and head) within the frame."""
    cx, cy, head = int(mover.x), int(mover.y), max(2, mover.w // 3)
    x0, x1 = max(cx - mover.w // 2, 0), min(cx + mover.w // 2 + 1, spec.width)
    y0, y1 = max(cy - mover.h // 2 - 3 - head, 0), min(cy + mover.h // 2 + 1, spec.height)
    return [x0, y0, x1, y1] if x0 < x1 and y0 < y1 else []


def _visible(mover: Mover, spec: ClipSpec) -> bool:
    return -mover.w < mover.x < spec.width + mover.w


def _anomalous_now(mover: Mover, spec: ClipSpec) -> bool:
    if mover.kind == "loiter":  # walking there is normal; standing about is not
        return mover.stop_at is not None and mover.x >= mover.stop_at and mover.stop_frames > 0
    return mover.kind != "walker" and _visible(mover, spec)


def _step(mover: Mover) -> None:
    if mover.stop_at is not None and mover.stop_frames > 0 and mover.x >= mover.stop_at:
        mover.stop_frames -= 1
        mover.x += 0.2 * np.sin(mover.stop_frames)  # fidgeting, not walking
        return
    mover.x += mover.vx


def _fade(spec: ClipSpec, t: int) -> float:
    """Brightness gain of frame `t`: 0 during the black opening, then a linear ramp to 1."""
    black, ramp = spec.fade_in_s
    seconds = t / spec.fps - black
    return 0.0 if seconds < 0 else min(1.0, seconds / ramp) if ramp > 0 else 1.0


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float,
                numbers: Iterable[int] | None = None, crf: int = 20, pixels: Fraction = Fraction(1),
                interlaced: bool = False) -> int:
    """RGB frames (any iterable, consumed one at a time) into an H.264 MP4 (or the container `path`'s suffix names);
    returns how many. `numbers`: each frame's number at `fps`, when some are missing (a recording that dropped frames:
    the file keeps the gaps in its timestamps). `crf`: x264's constant rate factor (higher: lower quality).
    `pixels`: the shape its pixels are stated to have, wide to tall (a recorder's analog channel's are not square).
    `interlaced`: coded as two fields a frame, top first (an analog camera's, as its recorder encodes them; `woven`)."""
    written = 0
    rate = Fraction(fps).limit_denominator(1000)
    numbers = iter(numbers) if numbers is not None else None
    with av.open(str(path), mode="w") as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=rate)
                stream.height, stream.width, stream.pix_fmt = frame.shape[0], frame.shape[1], "yuv420p"
                # zerolatency: no lookahead, whose decisions made the same frames encode differently from run to
                # run (even on one thread) when they arrive one at a time, so tests' footage varied between processes.
                # Two threads whatever the machine: its slices follow its threads, which x264 otherwise takes from the
                # cores, and the same clip decoded to other pixels with one, two, or three or more (two: CI's cores,
                # and those of the machine every figure was measured on)
                stream.options = {"crf": str(crf), "preset": "veryfast", "tune": "zerolatency", "g": str(max(int(2 * fps), 1)),
                                  "threads": "2"}
                if numbers is not None:
                    stream.time_base = 1 / rate
                if pixels != 1:
                    stream.codec_context.sample_aspect_ratio = pixels
                if interlaced:  # on one thread: coded interlaced on two, the same frames encoded differently each run
                    stream.options = {**stream.options, "x264-params": "interlaced=1:tff=1", "threads": "1"}
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            if numbers is not None:
                picture.pts, picture.time_base = next(numbers), 1 / rate
            container.mux(stream.encode(picture))
            written += 1
        if stream is not None:
            container.mux(stream.encode())
    return written


def woven(fields: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Pictures taken at twice the frame rate woven in pairs, as an analog camera's fields are: each frame the first's
    even lines (its top field) and the second's odd ones."""
    pictures = iter(fields)
    for top in pictures:
        bottom = next(pictures, None)
        if bottom is None:
            return
        frame = top.copy()
        frame[1::2] = bottom[1::2]
        yield frame


def render_clip(spec: ClipSpec, path: str | Path) -> ClipTruth:
    """Render `spec` to an MP4 at `path`; return per-frame labels and the anomalous events."""
    rng = np.random.default_rng(spec.seed)
    background = _background(spec, np.random.default_rng(1000 + spec.site))
    n = int(round(spec.seconds * spec.fps))
    starts = {int(round(t * spec.fps)): kind for kind, t in spec.anomalies}
    movers: list[Mover] = [_spawn_walker(spec, rng) for _ in range(2)]
    for i, m in enumerate(movers):
        m.x = spec.width * (0.3 + 0.4 * i)
    labels = [0] * n
    boxes: list[list[int]] = [[] for _ in range(n)]
    anomalous: list[Mover] = []
    drawn: list[dict] = []  # `ClipTruth.movers`

    def frames() -> Iterator[np.ndarray]:
        nonlocal movers
        for t in range(n):
            if rng.random() < spec.walkers_per_second / spec.fps:
                movers.append(_spawn_walker(spec, rng))
            if rng.random() < spec.crowd / spec.fps:
                hurrying = _spawn_walker(spec, rng, direction=int(rng.choice([-1, 1])))
                hurrying.vx *= 2.2
                movers.append(hurrying)
            if t in starts:
                movers.append(_anomaly_mover(starts[t], spec, rng))
                anomalous.append(movers[-1])
            frame = background.copy()
            for mover in movers:
                _step(mover)
                _draw(frame, mover)
                if _anomalous_now(mover, spec):
                    labels[t] = 1
                    box = _extent(mover, spec)
                    if box and boxes[t]:  # two anomalies at once: the box around both
                        box = [min(box[0], boxes[t][0]), min(box[1], boxes[t][1]),
                               max(box[2], boxes[t][2]), max(box[3], boxes[t][3])]
                    boxes[t] = box or boxes[t]
                    mover.first = t if mover.first < 0 else mover.first
                    mover.last = t
                extent = _extent(mover, spec)
                if extent:
                    if mover.drawn is None:
                        mover.drawn = {"kind": mover.kind, "first": t, "x": [], "boxes": []}
                        drawn.append(mover.drawn)
                    mover.drawn["x"].append(round(mover.x, 3))
                    mover.drawn["boxes"].append(extent)
            movers = [m for m in movers
                      if _visible(m, spec) or (m.vx > 0 and m.x < 0) or (m.vx < 0 and m.x > spec.width)]
            # frame * fade + noise, clipped, each step in place: the same pixels as with a new array for each,
            # which took about 1.5x the CPU to render a clip (ad hoc, release 40: frame-sized temporaries)
            noisy = rng.normal(0, 2.0, frame.shape)
            noisy += np.multiply(frame, _fade(spec, t), out=frame)
            yield np.clip(noisy, 0, 255, out=noisy).astype(np.uint8)

    write_video(path, frames(), spec.fps)
    events = [{"kind": m.kind, "start_frame": m.first, "end_frame": m.last} for m in anomalous if m.first >= 0]
    return ClipTruth(fps=spec.fps, frame_count=n, labels=labels, events=events, boxes=boxes, movers=drawn)


def textured_square(positions: Iterable[float], width: int = 160, height: int = 120) -> np.ndarray:
    """RGB frames of a textured 24 px square crossing a still textured background, its left edge at
    each of `positions` (px): motion whose speed is known, for flow and frame-timing tests."""
    rng = np.random.default_rng(0)
    background = rng.integers(60, 200, (height, width), dtype=np.uint8)
    patch = rng.integers(0, 255, (24, 24), dtype=np.uint8)
    top = height * 2 // 5
    frames = []
    for x in positions:
        frame = background.copy()
        left = int(round(x))
        frame[top : top + 24, left : left + 24] = patch
        frames.append(np.repeat(frame[..., None], 3, axis=2))
    return np.stack(frames)


def cloud_shadow(frames: np.ndarray, fps: float, depth: float = 0.6, speed_px_s: float = 12.0, softness: float = 0.6,
                 start_s: float = 0.0, size: float = 0.7) -> np.ndarray:
    """The frames (RGB or gray) with a cloud's shadow drifting across them from the left: an ellipse `size` of the
    picture's width across, its light `depth` of the sun's at the core, fading to none over `softness` of its radius,
    `speed_px_s` a second; at `start_s` its centre lies half its width beyond the left edge."""
    height, width = frames.shape[1:3]
    radius = size * width / 2
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    out = []
    for number, frame in enumerate(frames):
        centre = -radius + speed_px_s * (number / fps - start_s)
        distance = np.hypot((xs - centre) / radius, (ys - height / 2) / (0.8 * radius))
        light = 1 - (1 - depth) * np.clip((1 + softness / 2 - distance) / softness, 0, 1)
        out.append(np.clip(frame * (light[..., None] if frame.ndim == 3 else light), 0, 255).astype(np.uint8))
    return np.stack(out)


def swaying_foliage(frames: np.ndarray, fps: float, sway_px: float, seed: int = 0) -> np.ndarray:
    """The frames (RGB) with a tree's crown in the top left swaying in the wind: leaves and the gaps between them (a
    pattern of about 3 px on a 320 px picture), its outline ragged, pushed up to `sway_px` px about once a second (its
    rows out of step with each other, and a quicker flutter) in gusts of varying strength. The crown is the same at
    every seed; the seed draws the gusts."""
    count, height, width = frames.shape[:3]
    crown = np.random.default_rng(7)  # the tree: the same whatever the wind
    scale = width / 320
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    leaves = cv2.GaussianBlur(crown.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 1.6 * scale) > 0.05
    light = 0.6 + 0.4 * cv2.GaussianBlur(crown.random((height, width)).astype(np.float32), (0, 0), 3 * scale)
    shade = 60 + 90 * leaves * light
    layer = np.stack([0.6 * shade, shade, 0.5 * shade], axis=-1)
    ragged = 0.25 * cv2.GaussianBlur(crown.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 4 * scale)
    inside = (np.hypot((xs - 0.22 * width) / (0.2 * width), (ys - 0.08 * height) / (0.23 * height)) + ragged < 1)
    inside = inside.astype(np.float32)
    wind = np.random.default_rng(seed)
    gusts = 0.6 + 0.4 * np.abs(np.sin(np.cumsum(wind.normal(0, 0.15, count))))
    out = np.empty_like(frames)
    for number, frame in enumerate(frames):
        t, push = number / fps, sway_px * gusts[number]
        dx = push * (np.sin(2 * np.pi * 0.8 * t + 0.08 / scale * ys) + 0.4 * np.sin(2 * np.pi * 2.1 * t + 0.15 / scale * xs))
        dy = 0.4 * push * np.sin(2 * np.pi * 1.3 * t + 0.1 / scale * xs)
        from_x, from_y = (xs - dx).astype(np.float32), (ys - dy).astype(np.float32)
        crown_now = cv2.remap(inside, from_x, from_y, cv2.INTER_LINEAR)[..., None]
        leaves_now = cv2.remap(layer, from_x, from_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        out[number] = np.clip(crown_now * leaves_now + (1 - crown_now) * frame, 0, 255).astype(np.uint8)
    return out


def burned_clock(frame: np.ndarray, time_s: float, *, start: str = "2026-12-07 10:59:40") -> np.ndarray:
    """`frame` with a camera's date and time drawn in at its top left, as its on-screen display draws them (white
    lettering, the seconds redrawn as they tick), `time_s` after `start`."""
    date, clock = start.split()
    hours, minutes, seconds = map(int, clock.split(":"))
    now = hours * 3600 + minutes * 60 + seconds + int(time_s)
    text = f"{date} {now // 3600 % 24:02d}:{now // 60 % 60:02d}:{now % 60:02d}"
    scale = frame.shape[1] / 700  # about the share of the width a camera's lettering takes
    drawn = frame.copy()
    cv2.putText(drawn, text, (round(frame.shape[1] / 50), round(frame.shape[0] / 14)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255) if frame.ndim == 3 else 255, 1, cv2.LINE_AA)
    return drawn


def with_clock(source: str | Path, target: str | Path) -> Path:
    """A copy of a video with a camera's clock burned in (`burned_clock`), at its own frame rate, encoded with B-frames,
    as tools and many cameras encode: what a redrawn digit leaves in the picture depends on the encoding, and
    `write_video`'s (no B-frames) left the sample's clock no foreground at all. Its B-frames in a fixed pattern and no
    lookahead, on two threads whatever the machine: with x264's own adaptive B-frames and lookahead, the same frames
    encoded to other bytes in one run of three to five on a busy machine, one thread or two."""
    with av.open(str(source)) as container, av.open(str(target), "w") as out:
        video = container.streams.video[0]
        rate = Fraction(float(video.average_rate or video.guessed_rate or 25)).limit_denominator(1000)
        stream = out.add_stream("libx264", rate=rate, options={"tune": "zerolatency", "threads": "2",
                                                               "x264-params": "bframes=3:b-adapt=0"})
        stream.width, stream.height, stream.pix_fmt = video.codec_context.width, video.codec_context.height, "yuv420p"
        for number, frame in enumerate(container.decode(video)):
            picture = burned_clock(frame.to_ndarray(format="rgb24"), number / float(rate))
            out.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        out.mux(stream.encode(None))
    return Path(target)
