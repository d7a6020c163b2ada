"""A camera's burned-in clock and captions (its on-screen display), found in the normal footage and covered.

Nearly every surveillance camera draws the date and time into its picture. The seconds redrawn every second are
something that changes, at the same place, in every second of footage: the objects tier took each redrawn digit
for a small object moving fast, and the normal objects' motion for their size, whose 99th percentile an anomaly is
measured against, grew sevenfold (the bundled sample with a clock drawn in: its fast object scored 15.0 against 45.8,
its wrong-way walker and loiterer fell below the threshold). Covered with a flat patch before any tier reads a
frame, the display is neither motion nor an object, in the footage and in every video scored with it.

A pixel of the display changes in steps: at once, in one frame, then still until the next tick, and at the same
moment of each second. A pixel a person walks over changes over several frames, and whenever they pass. So the
display is where a pixel stepped in several different seconds, each time at one phase of the second (the
resultant of the steps' phases, as unit vectors, near 1), in a patch of such pixels. The digits that tick less
often (tens of seconds, minutes) lie on the same line of text: the patch is widened along it, over the static,
saturated pixels of the lettering, as far as the gaps between characters go, and at least over the seven
characters a clock's seconds end ("HH:MM:S").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import convolve1d

log = logging.getLogger(__name__)

LOOK_S = 20.0  # seconds of consecutive normal footage looked at: 20 ticks of the clock
STEP = 40  # gray levels: a digit redrawn (light lettering on the scene) changes a pixel by more; noise by far less
TICKS = 5  # different seconds in which a pixel of the display must have stepped
# Its steps' phases in the second lie within a frame either side of one moment (a clock ticks between two frames):
# their resultant is at least that of phases spread evenly over two frame intervals (0.99 at 25 frames/s, 0.94 at
# 10). The legs of a man walking about stepped pixels at 0.30–0.48 s into four seconds (0.92, at 27 frames/s).
LOCK_FRAMES = 1.0
SHARE = 0.8  # of a display pixel's changes, the steps
ALONE = 0.4  # seconds either side of a step in which its pixel does not change again
LEAST_PIXELS = 6  # a patch of ticking pixels smaller than this is chance
LETTERING = (30, 225)  # static pixels darker or lighter than these are lettering (or its outline)
STILL = 12  # gray levels a static pixel of the lettering varies by at most over the stretch
MARGIN = 2  # px around the display, covered too (the lettering's anti-aliased edge)
# Characters left of a ticking digit covered whatever the lettering shows: a clock's seconds end "HH:MM:SS", whose
# minutes and hours tick too seldom to be seen ticking (a real camera's gray lettering is seldom saturated).
CLOCK_CHARS = 7


@dataclass(frozen=True)
class Overlay:
    """Boxes (x0, y0, x1, y1, at the working size, x1 and y1 excluded) covered with a flat gray each."""

    boxes: tuple[tuple[int, int, int, int], ...]
    fills: tuple[int, ...]

    def covered(self, frame: np.ndarray) -> np.ndarray:
        frame = frame.copy()
        for (x0, y0, x1, y1), fill in zip(self.boxes, self.fills, strict=True):
            frame[y0:y1, x0:x1] = fill
        return frame

    def values(self) -> list[dict]:
        return [{"box": list(box), "fill": fill} for box, fill in zip(self.boxes, self.fills, strict=True)]

    @classmethod
    def of(cls, values: list[dict] | None) -> Overlay | None:
        if not values:
            return None
        return cls(tuple(tuple(int(v) for v in item["box"]) for item in values), tuple(int(item["fill"]) for item in values))


def ticking(frames: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Where pixels step at one phase of the second, in several seconds: a mask of `frames`' size."""
    count, height, width = len(frames) - 1, *frames.shape[1:]
    changed = np.empty((count, height * width), bool)  # frame i+1 against frame i
    for i in range(count):
        changed[i] = (cv2.absdiff(frames[i + 1], frames[i]) > STEP).ravel()
    at = times[1:]
    # a step: the only change of its pixel within ALONE s either side (a clock's digit is redrawn once a second;
    # what moves over a pixel changes it again as it goes, and a video made of repeated frames steps it often)
    alone = max(int(round(ALONE * (count - 1) / max(at[-1] - at[0], 1e-9))), 1)
    near = convolve1d(changed.view(np.uint8), np.ones(2 * alone + 1, np.uint8), axis=0, mode="constant")
    steps = changed & (near == 1)
    del near
    # the resultant of each pixel's steps' phases in the second, from the steps alone (few: a dense complex matrix of
    # every frame and pixel took 350 MB for 20 s at 25 frames/s)
    when, where = np.nonzero(steps)
    angle = 2 * np.pi * (at[when] % 1.0)
    resultant = np.hypot(np.bincount(where, np.cos(angle), height * width), np.bincount(where, np.sin(angle), height * width))
    stepped_count = np.bincount(where, minlength=height * width)
    seconds = np.floor(at[when]).astype(np.int64)
    stepped = np.bincount(np.unique(where * (seconds.max(initial=0) + 1) + seconds) // (seconds.max(initial=0) + 1),
                          minlength=height * width)  # the different seconds each pixel stepped in
    arc = np.pi * 2 * LOCK_FRAMES * (at[-1] - at[0]) / max(count - 1, 1)  # half the allowed spread, in radians
    locked = np.sin(arc) / arc
    ticks = ((stepped >= TICKS) & (resultant >= locked * np.maximum(stepped_count, 1))
             & (stepped_count >= SHARE * changed.sum(0)))
    return ticks.reshape(height, width)


def find(frames: np.ndarray, times: np.ndarray) -> Overlay | None:
    """The display in consecutive gray frames at the working size (with their times in seconds), or None."""
    if len(frames) < 3 or times[-1] - times[0] < TICKS:
        return None
    ticks = ticking(frames, times).astype(np.uint8)
    height, width = ticks.shape
    span = frames.max(0).astype(np.int16) - frames.min(0)
    median = np.median(frames, axis=0)
    lettering = (span <= STILL) & ((median <= LETTERING[0]) | (median >= LETTERING[1]))
    count, _, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(ticks, np.ones((3, 3), np.uint8)))
    boxes = []
    for x, y, w, h, area in stats[1:count]:
        if area < LEAST_PIXELS or ticks[y:y + h, x:x + w].sum() < LEAST_PIXELS:
            continue
        x0, x1 = _along(lettering[y:y + h], x, x + w, gap=max(h, 4))
        x0 = min(x0, x - CLOCK_CHARS * w)
        boxes.append((int(max(x0 - MARGIN, 0)), int(max(y - MARGIN, 0)), int(min(x1 + MARGIN, width)),
                      int(min(y + h + MARGIN, height))))
    if not boxes:
        return None
    boxes = _merged(boxes)
    fills = tuple(int(np.median(median[y0:y1, x0:x1])) for x0, y0, x1, y1 in boxes)
    return Overlay(tuple(boxes), fills)


def _along(rows: np.ndarray, x0: int, x1: int, gap: int) -> tuple[int, int]:
    """The columns a line of lettering spans from [x0, x1), widened while columns of it follow within `gap`."""
    columns = rows.any(0)
    left = x0
    for x in range(x0 - 1, -1, -1):
        if left - x > gap:
            break
        if columns[x]:
            left = x
    right = x1
    for x in range(x1, len(columns)):
        if x - right >= gap:
            break
        if columns[x]:
            right = x + 1
    return left, right


def _merged(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Boxes that overlap joined into one (the seconds and the minutes of one clock)."""
    merged: list[list[int]] = []
    for box in sorted(boxes):
        for other in merged:
            if box[0] <= other[2] and other[0] <= box[2] and box[1] <= other[3] and other[1] <= box[3]:
                other[:] = [min(box[0], other[0]), min(box[1], other[1]), max(box[2], other[2]), max(box[3], other[3])]
                break
        else:
            merged.append(list(box))
    return [(a, b, c, d) for a, b, c, d in merged]
