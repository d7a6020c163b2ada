"""Where an edited video cuts from one shot to another: a news clip, a compilation of cameras, a recording with a title
card. Without normal footage a video's scorer learns the view of its opening (Scorer.fit_on_opening), so after a cut it
compares another view with that one: what it flags there may say more of the view than of what happens in it, and the
report says where the cuts are. A video with normal footage has its view judged against the footage's (view.py), and
what a cut shows is said there ("the view is not the site's").

A cut is a frame whose layout (view.structure, whatever the lighting) agrees under CUT with the frame's before. Measured
on consecutive frames (ad hoc, release 63): Ped2's 28 clips 0.948 or more; the UCF-Crime sample's nine videos and the
three real clips of ../shared/data/clips within their shots 0.29 or more (a logo fading in on black; 0.39 for a scene's
own change, an accident's), their cuts 0.06 or less (robbery.mp4 from one camera to another three times, a clip's title
cut, a fade through black). A frame going blank reads as one too (a blank picture has no layout), as does something
right in front of the lens from one frame to the next, and the words say so. Only the report's words change: the scores
are the tiers', whose 3-frame median already removes a cut's one frame of motion.
"""

from __future__ import annotations

import numpy as np

from vadagent.tools.scorer.view import agreement, structure

CUT = 0.15
MERGE_S = 1.0  # cuts this close are said as one (a fade through black cuts into the blank and out of it)
WORDS = "the picture changed as a whole from one frame to the next (a cut in an edited video, the picture going blank, " \
        "or something right in front of the camera)"


class CutFinder:
    """Feed a video's frames in order (gray, at the working size); `feed` returns the frames that begin a new shot."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None  # the last frame's layout

    def feed(self, indices: np.ndarray, frames: list[np.ndarray]) -> tuple[int, ...]:
        found = []
        for index, frame in zip(indices.tolist(), frames):
            layout = structure(frame)
            if self._previous is not None and agreement(layout, self._previous) < CUT:
                found.append(index)
            self._previous = layout
        return tuple(found)


def said(cuts: list[int], fps: float) -> list[float]:
    """The times of `cuts` (frames), those within MERGE_S of the one before said as one."""
    times: list[float] = []
    for frame in sorted(cuts):
        if not times or frame / fps - times[-1] > MERGE_S:
            times.append(frame / fps)
    return times
