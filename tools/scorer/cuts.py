"""Where an edited video cuts from one shot to another: a news clip, a compilation of cameras, a recording with a title
card. Without normal footage a video's scorer learns the view of its opening (Scorer.fit_on_opening); after a cut to
another camera, that scorer would compare another view with the opening's, and what it flagged there would say more of
the view than of what happens in it. So a video without normal footage is cut into its shots first (`shots_of`), and
each shot is scored by a stand-in fitted on its own first quarter, as a video is on its own: each camera is compared
with itself, and a shot's first frame has no motion from the frame before the cut. A shot under MIN_SHOT_S (a title
card, a fade through black, a closing still) is scored with the one before it (the first with the one after). The
report says where the video cuts. A video with normal footage has its view judged against the footage's instead
(view.py: "the view is not the site's"), and cuts are not looked for.

A cut is a frame whose layout (view.structure, whatever the lighting) agrees under CUT with that of the last frame
before it that showed something: a blank frame (under BLANK, OpeningTracker's) has no layout, so a fade through black
is a cut where the view after it is another, and none where the same camera's view comes back (a recording's jump in
time: UCF-Crime's Arson009 agrees 0.43 to 0.50 across its fade, ad hoc). Measured on consecutive frames
(`evals/bench_cuts.py`, release 63):
Ped2's 28 clips 0.948 or more; the UCF-Crime sample's nine videos and the three real clips of ../shared/data/clips within
their shots 0.39 or more (0.18 between the near-blank frames of a logo fading in on black), their cuts 0.06 or less
(robbery.mp4 from one camera to another three times; a title card's and an end card's cuts; a clip's first frames).
Something right in front of the lens from one frame to the next would read as a cut too, and the words say so.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from vadagent.tools.scorer.view import agreement, structure
from vadagent.tools.video import open_video

CUT = 0.15
BLANK = 4.0  # gray levels: a frame whose standard deviation is under this shows nothing (black, or any flat screen)
MIN_SHOT_S = 8.0  # a shot's stand-in is its first quarter: 2 s of it at this length
MERGE_S = 1.0  # cuts this close are said as one (a flash of frames between two shots)
WORDS = "the view changed as a whole from one frame to the next, or across a blank (a cut in an edited video, or " \
        "something right in front of the camera)"


class CutFinder:
    """Feed a video's frames in order (gray, at the working size); `feed` returns the frames that begin a new shot."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None  # the layout of the last frame that showed something

    def feed(self, indices: np.ndarray, frames: list[np.ndarray]) -> tuple[int, ...]:
        found = []
        for index, frame in zip(indices.tolist(), frames):
            if cv2.meanStdDev(frame)[1][0, 0] < BLANK:  # no view: the one after a blank is held against the one before
                continue
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


def shots_of(video: str, folder_fps: float, size: tuple[int, int],
             progress: Callable[[str, int, int], None] | None = None) -> list[tuple[int, int]]:
    """An edited video's shots, (first frame, end frame), from a pass over its frames at the working `size`: one where
    it has no cut, and none shorter than MIN_SHOT_S where the video is not. `progress`: (stage, done, total)."""
    finder, found, count = CutFinder(), [], 0
    with open_video(video, folder_fps=folder_fps) as opened:
        least = MIN_SHOT_S * opened.info.fps
        for batch in opened.scan(gray=True, chunk=64, size=size):
            found += finder.feed(batch.indices, list(batch.frames))
            count = int(batch.indices[-1]) + 1
            if progress:
                progress("looking for cuts", count, opened.info.frame_count)
    shots: list[tuple[int, int]] = []
    for start, end in zip([0, *found], [*found, count]):
        if shots and (end - start < least or shots[-1][1] - shots[-1][0] < least):
            shots[-1] = (shots[-1][0], end)  # a short shot joins the one before, a short first one the one after
        elif end > start:
            shots.append((start, end))
    return shots
