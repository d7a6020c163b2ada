"""The one interface every scorer tier implements, the frames they all read, and the registry.

A tier turns a stream of frames into one raw anomaly score per frame (higher = more unusual)
and, optionally, per-frame evidence. The scorer decodes each video once; `FrameChunk` carries
what several tiers need (gray frames at the working size, their difference with the previous
frame, dense optical flow) so nothing is computed twice. Each tier:

- `reader()` → a per-video `Reader` that turns chunks into the tier's own features (`Part`s);
- `fit(clips)` learns from the normal footage's parts and returns honest per-clip training scores
  (out of sample where the tier could memorise its training data), which the scorer calibrates;
- `score(part)` → raw scores (and evidence) for the frames of a part;
- `state()` / `restore()` → arrays (safetensors) + JSON-able settings; never pickle.

Adding a tier is one new module in this folder that calls `register`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import cv2
import numpy as np

from vadagent.tools.scorer.frames import FrameChunk
from vadagent.types import heading_in_words

Progress = Callable[[str, int, int], None]  # stage, done, total


class TierUnfit(Exception):
    """This footage cannot fit this tier (e.g. no objects to model): the scorer leaves the tier
    out, says so in `fit_info["left_out"]`, and fails only when no tier remains."""


@dataclass(frozen=True)
class Geometry:
    """The working frame size every tier sees (the scorer maps evidence back to source pixels)."""

    width: int
    height: int

    def step_to(self, side: int) -> int:
        """The whole step the working size is divided by to keep at least `side` px along its longer edge."""
        return max(1, max(self.width, self.height) // side)

    def shrunk(self, step: int) -> tuple[int, int]:
        """(height, width) of the working size divided by `step`."""
        return self.height // step, self.width // step


def median_picture(sample: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The per-pixel median of frames spread over the normal footage (float32), area-shrunk to `size` (height, width)."""
    median = np.median(sample, axis=0).astype(np.float32)
    return median if median.shape == size else cv2.resize(median, size[::-1], interpolation=cv2.INTER_AREA)


FASTER = 1.2  # × the fastest normal motion there: evidence this fast is spoken of as motion
FOLDS = 4  # a tier's normal footage is scored out of sample, each fold by a model of the others (fold_of)


@dataclass
class Evidence:
    """Why frames scored as they did: the most unusual region or object of each frame."""

    frame: np.ndarray  # (n,)
    box: np.ndarray  # (n, 4) x0, y0, x1, y1 in source pixels
    speed_px_s: np.ndarray  # (n,) in source pixels per second
    direction_deg: np.ndarray  # (n,) 0 = rightwards, 90 = downwards (image coordinates)
    vs_normal: np.ndarray  # (n,) speed / the fastest normal motion there
    note: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))  # (n,) str, "" when none

    def __post_init__(self) -> None:
        if len(self.note) != len(self.frame):
            self.note = np.full(len(self.frame), "", dtype=object)

    @classmethod
    def concat(cls, parts: list[Evidence]) -> Evidence:
        if not parts:
            return cls(np.zeros(0, np.int64), np.zeros((0, 4), np.int32), *(np.zeros(0) for _ in range(3)))
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def to_source(self, scale: tuple[float, float], fps: float) -> Evidence:
        """From working pixels and px/frame (what tiers write) to source pixels and px/s; `scale`: working pixels per
        source pixel across and down, which differ for a video of another shape than its scorer's footage."""
        across, down = scale
        box = (self.box / np.asarray([across, down, across, down])).round().astype(np.int32)
        if across == down:
            return Evidence(self.frame, box, self.speed_px_s / across * fps, self.direction_deg, self.vs_normal, self.note)
        heading = np.radians(self.direction_deg)  # each component by its own scale: the heading changes too
        vx, vy = self.speed_px_s * np.cos(heading) / across, self.speed_px_s * np.sin(heading) / down
        direction = np.where(self.speed_px_s > 0, np.degrees(np.arctan2(vy, vx)) % 360, self.direction_deg)
        return Evidence(self.frame, box, np.hypot(vx, vy) * fps, direction, self.vs_normal, self.note)

    def take(self, rows: np.ndarray) -> Evidence:
        return Evidence(*(getattr(self, f.name)[rows] for f in fields(self)))

    def motion_words(self, row: int) -> str:
        """What a row measured of its region's motion, where it is FASTER than the normal motion there: "motion
        downwards at 576 px/s, 16.3× the fastest normal motion there" (source pixels); "" where it is not. A tier
        that writes a note says more; a frame that moves as a whole (a cut, the camera) has only this to say."""
        ratio = float(self.vs_normal[row])
        if not ratio >= FASTER:
            return ""
        return (f"motion {heading_in_words(float(self.direction_deg[row]))} at {float(self.speed_px_s[row]):.0f} px/s, "
                f"{ratio:.1f}× the fastest normal motion there")

    @classmethod
    def strongest(cls, per_tier: dict[str, np.ndarray], evidence: dict[str, list[Evidence]],
                  weights: dict[str, float], count: int) -> Evidence:
        """Per frame (0 to count - 1), the evidence of the tier that contributed most to its fused score
        (`per_tier`: each tier's calibrated scores, `weights`: its weight in the fused sum), its box widened to
        take in any other tier's box it overlaps: both point at one thing, whose extent is their union (a motion
        cell cuts an object; an object's blob loses thin parts). Self-validation's evidence check preferred the
        union on Ped2's and the shop camera's footage, all of it and 30 s (evals/HISTORY.md, release 27)."""
        have = {name: cls.concat(parts) for name, parts in evidence.items() if parts and name in per_tier}
        if not have:
            return cls(np.arange(count), np.zeros((count, 4)), *(np.zeros(count) for _ in range(3)))
        rows = {name: _rows(ev.frame, count) for name, ev in have.items()}
        names = list(have)
        contribution = np.stack([np.where(rows[n] >= 0, weights[n] * per_tier[n], -np.inf) for n in names])
        winner = contribution.argmax(0)
        base = have[names[0]].take(np.maximum(rows[names[0]], 0))
        base.frame = np.arange(count)
        for k, name in enumerate(names[1:], 1):
            pick = np.flatnonzero((winner == k) & (rows[name] >= 0))
            chosen = have[name].take(rows[name][pick])
            for f in ("box", "speed_px_s", "direction_deg", "vs_normal", "note"):
                getattr(base, f)[pick] = getattr(chosen, f)
        box = np.asarray(base.box, np.float64)
        for name in names:
            there = np.flatnonzero(rows[name] >= 0)
            other = np.asarray(have[name].box, np.float64)[rows[name][there]]
            meets = shared_area(box[there], other) > 0
            frames, other = there[meets], other[meets]
            box[frames] = np.c_[np.minimum(box[frames, :2], other[:, :2]), np.maximum(box[frames, 2:], other[:, 2:])]
        base.box = box.astype(np.asarray(base.box).dtype)
        return base


def shared_area(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row by row, the area two boxes (x0, y0, x1, y1) have in common (0 where they do not meet)."""
    width = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    height = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    return np.clip(width, 0, None) * np.clip(height, 0, None)


def _rows(frames: np.ndarray, count: int) -> np.ndarray:
    """Row of each frame index in an evidence array, -1 where absent."""
    rows = np.full(count, -1, np.int64)
    inside = (frames >= 0) & (frames < count)
    rows[frames[inside]] = np.flatnonzero(inside)
    return rows


@dataclass
class TierScores:
    indices: np.ndarray  # (n,) frame indices
    scores: np.ndarray  # (n,) raw, higher = more unusual
    evidence: Evidence | None = None
    reading: str = ""  # how the tier read these frames' picture, in words for `ScoreResult.picture` ("": as it came)


class Reader(abc.ABC):
    """Per-video streaming state of a tier: chunks in, the tier's features out."""

    @abc.abstractmethod
    def feed(self, chunk: FrameChunk) -> Any:
        """The tier's features (a 'part') for the frames of `chunk`."""


class Tier(abc.ABC):
    name: ClassVar[str]
    summary: ClassVar[str]
    learned: ClassVar[bool] = False  # trains a network (budgeted, uses the device)
    needs_flow: ClassVar[bool] = True
    # settings added after scorers were saved, with the value that behaves as those scorers were fitted
    saved_before: ClassVar[dict[str, Any]] = {}

    def __init__(self, geometry: Geometry, **params: Any) -> None:
        self.geometry = geometry
        self.params = self.Params(**params)

    @dataclass
    class Params:
        """Settings of a tier, saved in scorer.json; subclasses define their own."""

    @abc.abstractmethod
    def reader(self) -> Reader: ...

    @abc.abstractmethod
    def fit(self, clips: list[list[Any]], *, budget_s: float | None = None, device: str = "cpu",
            progress: Progress | None = None) -> list[np.ndarray]:
        """Learn from normal footage (`clips`: the parts of each clip, in order); return per-clip
        raw training scores for calibration, out of sample where the tier could memorise."""

    @abc.abstractmethod
    def score(self, part: Any, device: str = "cpu") -> TierScores: ...

    @abc.abstractmethod
    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        """Fitted arrays (saved as safetensors, keys without the tier prefix) and JSON-able values."""

    @abc.abstractmethod
    def restore(self, arrays: dict[str, np.ndarray], values: dict) -> None: ...

    def to(self, device: str) -> Tier:  # tiers without a network have nothing to move
        return self

    def fit_notes(self) -> list[str]:
        """What a user should know of this tier as fitted on their footage, in words (`vadagent fit` prints them)."""
        return []

    def param_dict(self) -> dict:
        return {f.name: getattr(self.params, f.name) for f in fields(self.params)}


TIERS: dict[str, type[Tier]] = {}


def register(cls: type[Tier]) -> type[Tier]:
    if cls.name in TIERS:
        raise ValueError(f"scorer tier {cls.name!r} is already registered")
    TIERS[cls.name] = cls
    return cls


def tier_class(name: str) -> type[Tier]:
    from vadagent.errors import UsageError

    if name not in TIERS:
        raise UsageError(f"unknown scorer tier {name!r}; available: {', '.join(TIERS)}")
    return TIERS[name]


def fold_of(clip_count: int, lengths: list[int], folds: int = FOLDS) -> list[np.ndarray]:
    """Fold number per frame of each clip for out-of-sample training scores: whole clips when
    there are enough of them, else contiguous blocks of each clip (neighbouring frames of one
    clip are near-duplicates, so random folds would leak)."""
    if clip_count >= folds:
        return [np.full(n, i % folds) for i, n in enumerate(lengths)]
    return [np.minimum((np.arange(n) * folds) // max(n, 1), folds - 1) for n in lengths]
