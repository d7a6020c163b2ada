"""A video's grain against its site's normal footage: how much more sensor noise its picture carries.

A camera at night, or a cheaper one, adds noise that changes every frame. Optical flow on a grainy picture is
noise wherever the scene is flat and still: DIS tracks the grain as if it were texture, in smooth sweeps of about a
pixel a frame (the footpath at 45 % of its brightness with grain of σ 3 gray levels: a cell's median speed 1.1
px/frame against 0.17 as filmed, and an eighth of its frames taken for a shaking camera), and a scorer fitted on
cleaner footage read nearly every frame as motion (evals/results/bench_robustness.md, row `night`). Smoothing the
picture made it worse (smoothed grain is coarser texture for the flow to follow). What grain cannot hide is that
nothing changed: where a frame differs from the one before by no more than its grain, no motion can be seen, and
its flow is set to none. Only a video grainier than the footage is read so; one no grainier (Ped2's clips, a site
fitted on its own night footage) is read as it comes.

Grain is measured two ways, which fail apart, and a video counts as grainier only when both say so: in time (a
cell's mean absolute difference between consecutive frames, the median over cells, where a site's texture cancels
and what moves is left out, but a shaking camera reads as grain) and in space (Immerkær's estimate from one frame's
second differences, which shake leaves alone, but texture reads as grain). Both are relative to the picture's
level, so that a darker picture's noise counts as the motion tier reads it, in the footage's exposure (exposure.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vadagent.tools.scorer import exposure

CELL = 16  # px at the working size: 256 pixels' mean, steady enough for a noise level
DARKEST = 16.0  # gray level under which a picture's noise is not measured (a black frame, a fade)
FRAMES = 16  # the opening frames measured
RATIO = 1.5  # grain up to this many times the footage's is read as it comes
EXCESS = 1.0  # and grain within this many gray levels of the footage's (compressed footage may read 0)
CHANGE = 1.5  # a flow pixel moves where the frame difference around it is this many times the grain
AROUND = 3  # px at the flow's size: the square the difference is averaged over
# Immerkær (1996), "Fast noise variance estimation": the mean |I * LAPLACE_DIFFERENCE| is 6·σ·sqrt(2/π) on noise
LAPLACE_DIFFERENCE = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


@dataclass(frozen=True)
class Grain:
    """A picture's grain relative to its level (NaN where it cannot be told), and the level, in gray levels."""

    temporal: float
    spatial: float
    level: float

    def values(self) -> dict[str, float]:
        return {"temporal": self.temporal, "spatial": self.spatial}


UNKNOWN = Grain(float("nan"), float("nan"), float("nan"))


def measure(frames: Sequence[np.ndarray]) -> Grain:
    """The grain of consecutive gray frames (working size, uint8): in time, the median over pairs of the median
    over cells of the mean absolute difference; in space, the median over frames of Immerkær's estimate; each over
    the first frame's level. Unknown for fewer than two frames, a dark picture or a frame smaller than a cell."""
    frames = frames[:FRAMES]
    if len(frames) < 2:
        return UNKNOWN
    level = exposure.level(frames[0])
    rows, cols = frames[0].shape[0] // CELL, frames[0].shape[1] // CELL
    if level < DARKEST or rows == 0 or cols == 0:
        return UNKNOWN
    temporal, spatial = [], []
    for before, after in zip(frames[:-1], frames[1:]):
        diff = cv2.absdiff(after, before)[: rows * CELL, : cols * CELL].astype(np.float32)
        temporal.append(float(np.median(cv2.resize(diff, (cols, rows), interpolation=cv2.INTER_AREA))))
    for frame in frames:
        second = cv2.filter2D(frame.astype(np.float32), -1, LAPLACE_DIFFERENCE)[1:-1, 1:-1]
        spatial.append(float(np.abs(second).mean()) * np.sqrt(np.pi / 2) / 6)
    return Grain(float(np.median(temporal)) / level, float(np.median(spatial)) / level, level)


def footage(measured: Sequence[Grain]) -> dict[str, float] | None:
    """The normal footage's grain from its segments': the grainiest each way (a video no grainier than any of the
    footage is read as it comes). None where no segment's could be told."""
    told = [g for g in measured if np.isfinite(g.temporal) and np.isfinite(g.spatial)]
    return {key: round(max(getattr(g, key) for g in told), 5) for key in ("temporal", "spatial")} if told else None


def excess(grain: Grain, of_footage: dict[str, float] | None) -> float:
    """`grain`'s noise in gray levels (in time) where both ways it is more than RATIO times the footage's and
    EXCESS gray levels above it; 0 where it is not, or either is unknown (a scorer saved before grain was kept)."""
    if not of_footage or not (np.isfinite(grain.temporal) and np.isfinite(grain.spatial)):
        return 0.0
    grainier = all(getattr(grain, key) > RATIO * of_footage[key] for key in ("temporal", "spatial"))
    above = (grain.temporal - of_footage["temporal"]) * grain.level > EXCESS
    return grain.temporal * grain.level if grainier and above else 0.0


def unchanged(noise: float, floor: float = 0.0) -> float:
    """The frame difference (gray levels, around a pixel) under which no motion is read: CHANGE times a video's
    excess grain (`excess`), and at least `floor` (a scorer's `still_below`); 0: every flow is read."""
    return max(CHANGE * noise, floor)


def still(flow: np.ndarray, diff: np.ndarray, below: float) -> np.ndarray:
    """`flow` (at the flow's size) with no motion where `diff` (the frame difference, at the working size) is, around
    each pixel, under `below` gray levels."""
    small = cv2.resize(diff, (flow.shape[1], flow.shape[0]), interpolation=cv2.INTER_AREA).astype(np.float32)
    return flow * (cv2.blur(small, (AROUND, AROUND)) >= below)[..., None]
