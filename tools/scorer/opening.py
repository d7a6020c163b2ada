"""Where a video's blank or fading-in opening ends: its frames are not candidates."""

from __future__ import annotations

import cv2

from vadagent.tools.scorer.cuts import BLANK
from vadagent.tools.scorer.frames import FrameChunk


class OpeningTracker:
    """Where a video's blank or fading-in opening ends (an edited file's fade from black, a camera
    that starts dark). A frame belongs to it while it is blank (flat: black or any uniform screen),
    or while its whole picture brightens or darkens together: the change of its mean level is most
    of its mean absolute change, which local motion never gives. Frames of the opening are not
    candidates (nothing can be seen, or every pixel changes at once), whatever a tier scores them."""

    BLANK_SPREAD = BLANK  # gray-level standard deviation under which a frame shows nothing (cuts.py)
    GLOBAL_SHARE = 0.6  # |change of the mean| / mean |change| above this: the whole frame changed together
    MIN_STEP = 1.0  # gray levels per frame; below this, sensor noise

    def __init__(self) -> None:
        self.end: int | None = None  # first frame after the opening, once seen
        self._level: float | None = None

    def feed(self, chunk: FrameChunk) -> None:
        if self.end is not None:
            return
        # frame by frame: the opening usually ends at the first frame, and the spread of a whole chunk
        # cost 7 % of scoring Ped2's 180-frame clips
        for index, gray, diff in zip(chunk.indices.tolist(), chunk.gray, chunk.diff):
            level, spread = (float(v[0, 0]) for v in cv2.meanStdDev(gray))
            change = float(cv2.mean(diff)[0])
            step = 0.0 if self._level is None else abs(level - self._level)
            if spread >= self.BLANK_SPREAD and not (step >= self.MIN_STEP and step >= self.GLOBAL_SHARE * change):
                self.end = index
                return
            self._level = level
