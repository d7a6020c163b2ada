"""A video's exposure against its site's normal footage: how much darker or brighter its picture is as a whole.

A camera's exposure or the hour scales the light, and a gamma-encoded picture's gray levels with it by one factor,
(k·L)^γ = k^γ·L^γ: the whole picture, and every difference between two frames. Tiers match a video to the normal
footage by the factor its first frame shows; then the motion tier follows slow changes in small steps (DRIFT), and
the objects tier's background follows them of its own.
Within STEADY of 1 nothing is matched, so steady lighting scores as it always did (Ped2's footage: 1.003 to 1.025);
beyond GAINS it is no lighting (a black frame, a fade, another scene).
A picture at 45 % of the footage's brightness, beyond the half that was the bound until release 47, was objects
everywhere (evals/results/bench_robustness.md).

Fog and haze are not a gain: a veil of light is added, v = a·L + b, and the contrast falls while the level rises.
At 30 % of its contrast under a bright veil the footpath's flow was smoothed away and its objects lost in it (anomaly
AUC 0.67 against 0.99 as filmed). Where a video's contrast (the spread of its gray levels) has fallen under HAZY of
what its level's change explains, its frames are put back into the footage's tones, (v - b) / a, before anything
reads them (`Veil`).
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

GAINS = (1 / 3, 3.0)
STEADY = 0.05
# A video's grain is measured against the footage's again every minute at 25 frames/s: a camera watched from day into
# night grows grainier (grain.py).
AGAIN_FRAMES = 1500
# After its first frame, the motion tier follows a video's level chunk by chunk while each step is within DRIFT of the
# last it followed: the hour changes the light by a percent a minute, a fire or a lamp by more within seconds, and
# stays an event (matched again every 10 s whatever the step, a rendered dawn was followed but so was a fire;
# evals/HISTORY.md, release 49).
DRIFT = 0.05
HAZY = 0.5  # a contrast under this share of what the level's change explains is veiled (fog 0.16, haze 0.31)
# and lifted down to this share of the footage's contrast: below, its gray levels are so many apart once lifted that
# they read as grain (the footpath at a fifth, lifted: a third of its normal frames flagged), or it is a fade from black
LIFTED_LEAST = 0.25
SPREAD = (10, 90)  # percentiles of a picture's gray levels whose distance is its contrast


def matched(gain: float) -> bool:
    """Whether a gain is one to match: lighting, and not within STEADY of 1."""
    return GAINS[0] <= gain <= GAINS[1] and abs(gain - 1.0) >= STEADY


def median(values: np.ndarray) -> float:
    """np.median of an array, by partition alone: np.median's checks cost more than the partition on a frame's sample
    of a few thousand values."""
    flat = values.ravel()
    half = len(flat) // 2
    if len(flat) % 2:
        return float(np.partition(flat, half)[half])
    low, high = np.partition(flat, [half - 1, half])[half - 1 : half + 1]
    return float((low + high) / 2)


def level(gray: np.ndarray) -> float:
    """A frame's gray level as a whole: the median of a sample of its pixels (someone in front moves it little)."""
    return float(np.median(gray[::4, ::4]))


def spread(gray: np.ndarray) -> float:
    """A frame's contrast: the distance between the SPREAD percentiles of a sample of its pixels."""
    low, high = np.percentile(gray[::4, ::4], SPREAD)
    return float(high - low)


class Veil(NamedTuple):
    """A video's picture as a·(the footage's) + b: fog or haze over the scene."""

    gain: float
    offset: float

    def lifted(self, gray: np.ndarray) -> np.ndarray:
        """The frame in the footage's tones: (gray - offset) / gain."""
        table = np.clip((np.arange(256) - self.offset) / self.gain, 0, 255).astype(np.uint8)
        return cv2.LUT(gray, table)


def veil(level: float, spread: float, of_footage: dict[str, float] | None) -> Veil | None:
    """The veil over a video of this `level` and `spread` against the footage's, where its contrast has fallen under
    HAZY of what the change of level explains (a gain scales both alike), but not under LIFTED_LEAST of the footage's;
    None where it has not, or either is unknown (a scorer saved before the footage's tones were kept)."""
    if not of_footage or "spread" not in of_footage or not (np.isfinite(level) and np.isfinite(spread)):
        return None
    gain = spread / of_footage["spread"]
    if not LIFTED_LEAST <= gain < HAZY * level / of_footage["level"]:
        return None
    return Veil(gain, level - gain * of_footage["level"])
