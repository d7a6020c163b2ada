"""A video's grain against its site's normal footage: how much more sensor noise, or how much less fine detail,
its picture carries than the footage's.

A camera at night, or a cheaper one, adds noise that changes every frame. Optical flow on a grainy picture is
noise wherever the scene is flat and still: DIS tracks the grain as if it were texture, in smooth sweeps of about a
pixel a frame (the footpath at 45 % of its brightness with grain of σ 3 gray levels: a cell's median speed 1.1
px/frame against 0.17 as filmed, and an eighth of its frames taken for a shaking camera), and a scorer fitted on
cleaner footage read nearly every frame as motion (evals/results/bench_robustness.md, row `night`). Smoothing the
picture made it worse (smoothed grain is coarser texture for the flow to follow). What grain cannot hide is that
nothing changed: where a frame differs from the one before by no more than its grain, no motion can be seen, and
its flow is set to none.

A picture smoother than the footage's (a stream encoded at a lower quality, a softer lens) fails the other way:
with no fine detail to hold it, the flow of what moves spreads into the flat parts around it, where nothing changed
(the footpath at H.264's CRF 40 against its footage's 20: flows of 8 px/frame in cells whose frames differ by under
a gray level, a quarter of its normal frames flagged). There no motion is read where frames differ by under
SMOOTH_FLOOR gray levels. A video neither grainier nor smoother than the footage (Ped2's clips, a site fitted on its
own night footage or stream) is read as it comes: the same gate everywhere scored the same as none on Ped2's
self-validation (evals/results/bench_setting_still_below.md), and the footage's statistics are left as they were.

Grain is measured two ways, which fail apart: in time (a cell's mean absolute difference between consecutive
frames, the median over cells, where a site's texture cancels and what moves is left out, but a shaking camera reads
as grain) and in space (Immerkær's estimate from one frame's second differences, which shake leaves alone, but
texture reads as grain, and a smoother picture as less). A video counts as grainier only when both say so. Both are
relative to the picture's level, so that a darker picture's noise counts as the motion tier reads it, in the
footage's exposure (exposure.py). A video is measured on its first frames and again every exposure.AGAIN_FRAMES, as a
camera watched into the night grows grainier; the footage at every measurement of it.

Rain changes a picture otherwise: a drop crosses a pixel within a frame and brightens it for that frame alone (Garg and
Nayar, "Detection and removal of rain from videos", 2004), and the flow read it as motion everywhere (the footpath
with 40 streaks a frame: nine frames in ten flagged). Where more of a video's picture flashes so than the footage's,
each frame is met with the one before at the darker of the two before motion is read: a streak is gone, and what
moves in front is in both. The bench's rendered snow, drifting over several frames, reads as grainier (on a real
camera's picture, as rain too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from vadagent.tools.scorer import exposure

CELL = 16  # px at the working size: 256 pixels' mean, steady enough for a noise level
DARKEST = 16.0  # gray level under which a picture's noise is not measured (a black frame, a fade)
FRAMES = 16  # the frames measured: a video's first, and its first of every exposure.AGAIN_FRAMES more
RATIO = 1.5  # grain up to this many times the footage's is read as it comes
EXCESS = 1.0  # and grain within this many gray levels of the footage's (compressed footage may read 0)
CHANGE = 1.5  # a flow pixel moves where the frame difference around it is this many times the grain
AROUND = 3  # px at the flow's size: the square the difference is averaged over
SMOOTH_FLOOR = 3.0  # gray levels: a picture smoother than the footage's moves where frames differ by this much
FLASH = 6.0  # gray levels (or FLASH_GRAIN times the grain in time, if more): a pixel brighter for one frame by this
FLASH_GRAIN = 4.0  # much flashes (rain, not grain: grain of σ 12 flashes on a 10,000th of the picture)
FLASHING = 0.002  # the share of a picture that flashes in rain (the bench's shower of 40 streaks a frame: 0.6 to 1 %)
# Immerkær (1996), "Fast noise variance estimation": the mean |I * LAPLACE_DIFFERENCE| is 6·σ·sqrt(2/π) on noise
LAPLACE_DIFFERENCE = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


@dataclass(frozen=True)
class Grain:
    """A picture's grain relative to its level (NaN where it cannot be told); the level, in gray levels; and what else
    its first frames show against the footage's: the share that flashes (rain), and its contrast (fog)."""

    temporal: float
    spatial: float
    level: float
    flashes: float = float("nan")  # the share of the picture brighter for one frame than the frames either side
    spread: float = float("nan")  # its contrast in gray levels (exposure.spread), the median over the frames

    @property
    def told(self) -> bool:
        return bool(np.isfinite(self.temporal) and np.isfinite(self.spatial))

    def values(self) -> dict[str, float]:
        return {"temporal": self.temporal, "spatial": self.spatial, "flashes": self.flashes}


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
    temporal_gray = float(np.median(temporal))
    return Grain(temporal_gray / level, float(np.median(spatial)) / level, level,
                 flashes(frames, max(FLASH, FLASH_GRAIN * temporal_gray)),
                 float(np.median([exposure.spread(frame) for frame in frames])))


def flashes(frames: Sequence[np.ndarray], by: float) -> float:
    """The median over frames of the share of pixels brighter by more than `by` gray levels than in the frames before
    and after, which agree with each other (Garg and Nayar's test for rain, 2004: a drop crosses a pixel within a
    frame, and brightens it; something moving in front changes the frames either side too). NaN for under 3 frames."""
    stack = np.stack(frames).astype(np.int16)
    shares = [float(((now - np.maximum(before, after) > by) & (np.abs(before - after) < by / 2)).mean())
              for before, now, after in zip(stack[:-2], stack[1:-1], stack[2:])]
    return float(np.median(shares)) if shares else float("nan")


def footage(measured: Sequence[Grain]) -> dict[str, float] | None:
    """The normal footage's grain from its segments': the grainiest each way, and the smoothest in space (a video
    neither grainier nor smoother than any of the footage is read as it comes); the most that flashes; the median
    segment's level and contrast (exposure.veil). None where no segment's was told."""
    told = [g for g in measured if g.told]
    if not told:
        return None
    flashing = [g.flashes for g in told if np.isfinite(g.flashes)]
    spreads = [g for g in told if np.isfinite(g.spread) and g.spread > 0]
    return {"temporal": round(max(g.temporal for g in told), 5), "spatial": round(max(g.spatial for g in told), 5),
            "spatial_least": round(min(g.spatial for g in told), 5),
            **({"flashes": round(max(flashing), 5)} if flashing else {}),
            **({"level": round(float(np.median([g.level for g in spreads])), 2),
                "spread": round(float(np.median([g.spread for g in spreads])), 2)} if spreads else {})}


class Gate(NamedTuple):
    """Frame differences (gray levels, around a pixel) under which no motion is read in a video: before its camera's
    own motion is judged (a grainy picture: grain's sweeps read as a shaking camera) and after it (a smoother
    picture: a camera swaying by a fraction of a pixel changes it by little, and must still be read as a camera's
    motion). 0: every flow read. With `flashes`, each frame is met with the one before at the darker of the two
    before any motion is read, so that what is brighter for one frame alone (rain) is never seen; where two streaks
    of consecutive frames cross, a little is left, and no motion is read where frames differ by under SMOOTH_FLOOR."""

    before_camera: float = 0.0
    after_camera: float = 0.0
    flashes: bool = False


def gate(grain: Grain, of_footage: dict[str, float] | None) -> Gate:
    """The gate for a video of `grain`: CHANGE times its grain where it is grainier than the footage both ways (RATIO
    times, and EXCESS gray levels above it in time); SMOOTH_FLOOR where its picture is smoother than the footage's
    (under a RATIO-th of it in space); else none (also where either is unknown: a scorer saved before grain was
    kept). Flashes (and SMOOTH_FLOOR, if no more) where over FLASHING of its picture flashes, and RATIO times the
    footage's share (a scorer saved before flashes were kept: never)."""
    if not of_footage or not grain.told:
        return Gate()
    rain = "flashes" in of_footage and grain.flashes > max(FLASHING, RATIO * of_footage["flashes"])
    grainier = all(getattr(grain, key) > RATIO * of_footage[key] for key in ("temporal", "spatial"))
    if grainier and (grain.temporal - of_footage["temporal"]) * grain.level > EXCESS:
        return Gate(before_camera=CHANGE * grain.temporal * grain.level, flashes=rain)
    smoother = grain.spatial * RATIO < of_footage.get("spatial_least", 0.0)
    return Gate(after_camera=SMOOTH_FLOOR if smoother or rain else 0.0, flashes=rain)


def still(flow: np.ndarray, diff: np.ndarray, below: float) -> np.ndarray:
    """`flow` (at the flow's size) with no motion where `diff` (the frame difference, at the working size) is, around
    each pixel, under `below` gray levels."""
    small = cv2.resize(diff, (flow.shape[1], flow.shape[0]), interpolation=cv2.INTER_AREA).astype(np.float32)
    return flow * (cv2.blur(small, (AROUND, AROUND)) >= below)[..., None]
