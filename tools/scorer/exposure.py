"""A video's exposure against its site's normal footage: how much darker or brighter its picture is as a whole.

A camera's exposure or the hour scales the light, and a gamma-encoded picture's gray levels with it by one factor,
(k·L)^γ = k^γ·L^γ: the whole picture, and every difference between two frames. Tiers match a video to the normal
footage by the factor its first frame shows; then the motion tier follows slow changes in small steps (DRIFT), and
the objects tier's background follows them of its own.
Within STEADY of 1 nothing is matched, so steady lighting scores as it always did (Ped2's footage: 1.003 to 1.025);
beyond GAINS it is no lighting (a black frame, a fade, another scene).
A picture at 45 % of the footage's brightness, beyond the half that was the bound until release 47, was objects
everywhere (evals/results/bench_robustness.md).
"""

from __future__ import annotations

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


def matched(gain: float) -> bool:
    """Whether a gain is one to match: lighting, and not within STEADY of 1."""
    return GAINS[0] <= gain <= GAINS[1] and abs(gain - 1.0) >= STEADY


def level(gray: np.ndarray) -> float:
    """A frame's gray level as a whole: the median of a sample of its pixels (someone in front moves it little)."""
    return float(np.median(gray[::4, ::4]))
