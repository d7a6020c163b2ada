"""A shadow falling on part of the picture, told from an object: a cloud's shadow drifting over the site.

The objects tier's foreground is what lies further than its threshold from the background, and where a shadow falls, so
does the picture: a cloud's shadow 40 % darker drifting over the footpath was one blob a third of the picture wide, "an
object 3.5× wider than anything seen there", on 90 % of a minute's frames (evals/HISTORY.md, release 53). Light
multiplies what it falls on, so under a shadow the log ratio of the frame to the background is a field that varies
smoothly whatever the background's own pattern; an object puts its own picture in front of the background, with its
detail inside and a step at its outline. A blob of LEAST of the frame or more is a shadow where it is darker than the
background, its ratio steps little across its outline (the median gradient there under RIM; the frame's edge is left
out, as the blob goes on beyond it), it is smooth inside (SMOOTH of its pixels within TOLERANCE of the field around
them), and, where the background has a pattern, the pattern is kept (KEPT), not replaced. Then the background is taken
in the frame's shade (the field over all but the objects, where it darkens), and what still differs from it, someone
walking in the shadow, stays foreground; the background does not learn the shadow as it passes.

What stays as it was: a change of light on the whole picture (under UNCHANGED of it keeps the background's light: an
exposure, a flash; see `_expose` and `absorb_frames` in the objects tier); anything brighter (a lamp, headlights, a
fire's glow); and any darkening in a frame where a source of light appears (a blob BRIGHTER and at GLARE), as
there it is the camera's exposure answering a fire or a flash. On Ped2's frames no blob is a shadow (its objects'
outlines step by 0.086 a pixel or more, and at most 0.29 of a blob is smooth inside): every score is as it was.

A site setting, off by default (the objects tier's `shade`): a night camera's exposure darkening the picture around a
fire reads as a shadow too, and on the UCF-Crime sample it cost an event at the 10 % budget (evals/HISTORY.md, release
53). An outdoor camera under passing clouds is what it is for.
"""

from __future__ import annotations

import enum

import cv2
import numpy as np

from vadagent.tools.scorer import exposure

LEAST = 0.005  # of the frame: a blob this large or larger may be a shadow
RIM = 0.1  # log ratio a pixel (at the objects' size): an outline stepping less is soft (Ped2's objects: 0.086 or more)
SMOOTH = 0.6  # share of a blob's pixels within TOLERANCE of the field around them (Ped2's objects: 0.29 at most)
TOLERANCE = 0.05  # log ratio, about 5 % of the light
SMOOTH_SIGMA = 2.0  # px: the field a pixel is held against when judging a blob's smoothness
FIELD_SIGMA = 4.0  # px: the light field the background is taken in, wider so a walker inside is not part of it
OUTLIER = 0.1  # log ratio off the first field: a pixel left out of the second (something in front, not light)
TEXTURE = 4.0  # gray levels a pixel: background with this much pattern shows whether a shade keeps it
TEXTURED = 0.2  # share of a blob's pixels with that pattern for it to be judged by it
KEPT = 0.5  # correlation of the frame's gradients with the background's there: the pattern kept, more than not
BRIGHTER = float(np.log(1.5))  # log ratio: a blob this much brighter than the background, and at GLARE, is a source of light
GLARE = 230.0  # gray levels: the top of the picture's range, a flame's, a lamp's or a flash's (a white shirt in the sun
# may be there too, and then the frame's shade is left as it was)
LIT = (32.0, 224.0)  # gray levels of the background that show a change of light (not black, not white)
UNCHANGED = 0.2  # share of the picture that keeps the background's light where a shadow falls on a part of it
PASSES = 3  # of finding shadows, each in the light found before
KERNEL = np.ones((3, 3), np.uint8)
DARK = 16.0  # gray levels added before the ratio, so that a dark pixel's noise does not read as a change of light


# how a video's picture was read where a shadow was (ScoreResult.picture, the report's notes)
WORDS = "a shadow on part of the picture read as the frame's light (shade)"


class Light(enum.Enum):
    """What a blob is, where it is no object: a shadow, or a source of light."""

    SHADOW = "shadow"
    SOURCE = "source"


def log_ratio(frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    """log((frame + DARK) / (background + DARK)), float32."""
    return (np.log(frame + np.float32(DARK)) - np.log(background + np.float32(DARK))).astype(np.float32)


def light_of(frame: np.ndarray, background: np.ndarray, mask: np.ndarray) -> Light | None:
    """Whether a blob is a shadow or a source of light (None: neither). `frame`, `background` and `mask` (its pixels)
    are its box widened by a pixel on each side within the frame, so that its outline has a pixel outside it; a side
    on the frame's edge has none, and erosion's border (the maximum) leaves it no outline. Cheapest tests first: most
    blobs are objects."""
    ratio = log_ratio(frame, background)
    level = exposure.median(ratio[mask])
    if level >= BRIGHTER and exposure.median(frame[mask]) >= GLARE:
        return Light.SOURCE
    if level >= 0:  # brighter: a lamp, headlights, a glow stay what they were
        return None
    rim = mask & (cv2.erode(mask.view(np.uint8), KERNEL) == 0)
    if not rim.any():  # the whole picture: no outline to judge
        return None
    if exposure.median(cv2.magnitude(*_gradient(ratio))[rim]) >= RIM:
        return None
    if np.mean(np.abs(ratio - _field(ratio, mask, SMOOTH_SIGMA))[mask] < TOLERANCE) < SMOOTH:
        return None
    return Light.SHADOW if _pattern_kept(frame, background, mask) else None


def _pattern_kept(frame: np.ndarray, background: np.ndarray, mask: np.ndarray) -> bool:
    """Whether the background's pattern is seen through the blob, not replaced by something in front of it; True where
    the background has too little pattern to tell (a floor, a wall: the outline and smoothness said what they could)."""
    bx, by = _gradient(background)
    textured = mask & (cv2.magnitude(bx, by) >= TEXTURE)
    if np.count_nonzero(textured) < TEXTURED * np.count_nonzero(mask):
        return True
    fx, fy = _gradient(frame)
    fx, fy, bx, by = fx[textured], fy[textured], bx[textured], by[textured]
    return bool(np.sum(fx * bx + fy * by) >= KEPT * np.sqrt(np.sum(fx * fx + fy * fy) * np.sum(bx * bx + by * by)))


def _gradient(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y central differences of a float32 image (a pixel's neighbours' difference over 2), the border reflected."""
    return cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=1, scale=0.5), cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=1, scale=0.5)


def _field(ratio: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """The ratio averaged around each pixel over the pixels of `weight` alone (a normalised convolution)."""
    weight = weight.astype(np.float32)
    return cv2.GaussianBlur(ratio * weight, (0, 0), sigma) / (cv2.GaussianBlur(weight, (0, 0), sigma) + 1e-6)


def relit(background: np.ndarray, ratio: np.ndarray, objects: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The background in the frame's shade, and where that shade falls (which the background must not follow: it would
    learn a shadow as it passes); None where under UNCHANGED of the picture keeps the background's light. The shade is
    the field of the frame's log `ratio` to the background over every pixel but the `objects`', found twice, the second
    time without the pixels the first left far off (parts of an object too faint to be foreground), where it darkens."""
    keep = ~objects
    first = _field(ratio, keep, FIELD_SIGMA)
    # only light taken away: where the picture is brighter than the background, it stays as it is
    field = np.minimum(_field(ratio, keep & (np.abs(ratio - first) < OUTLIER), FIELD_SIGMA), 0)
    shaded = field < -TOLERANCE
    seen = keep & (background >= LIT[0]) & (background <= LIT[1])  # black and white show no change of light
    if np.count_nonzero(seen & ~shaded) < UNCHANGED * np.count_nonzero(seen):
        return None
    return (background + DARK) * np.exp(field) - DARK, shaded
