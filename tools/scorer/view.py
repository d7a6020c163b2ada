"""Whether a camera still shows its site: a lens covered or a picture gone blank, and a view that is no longer the
site's (the camera knocked or turned, or something standing right in front of it).

A scorer judges motion and objects against what its normal footage showed; a camera covered by a hand or a cloth
scores as little as a quiet hour (the real camera of evals/bench_robustness.md covered for 5 s: 9 % of those frames
flagged), and one knocked by a few degrees flags a tenth of every frame after it as the site's edges no longer line
up. What the tiers cannot see, the picture as a whole shows:
- *blank*: its contrast (exposure.spread) falls under BLANK of the footage's (covered: 9 %; the darkest lighting the
  scorer follows, a third, and fog, 30 %, stay above it);
- *away*: its structure agrees with the footage's under AWAY of the least any footage frame agreed. Structure is each
  frame at a quarter of the working size, its detail (the frame less its blur) over the detail's local strength, so
  that lighting, exposure and a veil leave it alone; agreement is its correlation with the structure of the
  footage's median frame, where people passing are gone. Footage frames agree 0.76 to 0.9; under rain, snow, grain,
  shake, fog, a crowd or another hour, the frames of a site 0.59 or more of it; a camera knocked by 2° and 10 px 0.16,
  another camera's picture 0.

A view lost for HOLD_S is reported from the frame it was first seen lost, and the ONSET_S after it is known (a
causal rule, the same live) score above the threshold, so that it is one candidate the VLM is asked about; the
frames after are scored as the tiers see them. A video without normal footage is its own camera and is not judged
(as grain.py). The settings were set from these measurements, before any scoring run with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from vadagent.tools.scorer import exposure

EVERY = 4  # one frame in this many is measured: a view is lost for seconds, not for a frame
HOLD_S = 1.0  # a view lost (or back) for this long is reported (a truck passing close goes by sooner)
ONSET_S = 1.0  # and the frames of this long after it is known score above the threshold
LIFT = 1.0  # by this much, in the units of the scores (standard deviations of the footage's fused score)
BLANK = 0.2  # contrast under this share of the footage's: next to nothing is shown
AWAY = 0.5  # agreement under this share of the footage's least: another view
SCALE = 4  # structure at 1/SCALE of the working size: the site's layout, not its texture
DETAIL_SIGMA = 3.0  # px at that size: detail is the frame less its blur at this sigma, over its strength around
DETAIL_FLOOR = 2.0  # gray levels: detail this weak is as flat as none (sensor noise on a flat wall)
LEAST = 1  # percentile of the footage frames' agreement taken as its least

BLANK_WORDS = "the picture shows next to nothing (a covered lens, or a blank or dark picture)"
AWAY_WORDS = "the view is not the site's (the camera knocked or turned, or something right in front of it)"


def structure(gray: np.ndarray) -> np.ndarray:
    """A frame's layout, whatever its lighting: its detail at 1/SCALE of the size over the detail's local strength."""
    small = cv2.resize(gray, (max(gray.shape[1] // SCALE, 1), max(gray.shape[0] // SCALE, 1)),
                       interpolation=cv2.INTER_AREA).astype(np.float32)
    detail = small - cv2.GaussianBlur(small, (0, 0), DETAIL_SIGMA)
    return detail / np.sqrt(cv2.GaussianBlur(detail * detail, (0, 0), DETAIL_SIGMA) + DETAIL_FLOOR**2)


def agreement(seen: np.ndarray, footage: np.ndarray) -> float:
    """The correlation of two structures (1: the same layout; 0: unrelated)."""
    return float((seen * footage).mean() / np.sqrt((seen * seen).mean() * (footage * footage).mean() + 1e-12))


@dataclass(frozen=True)
class FootageView:
    """What the normal footage's camera shows: the structure of its median frame, the least its frames agree with
    it, and its contrast."""

    structure: np.ndarray  # (H / SCALE, W / SCALE) float32
    least: float
    spread: float

    @classmethod
    def of(cls, sample: np.ndarray) -> FootageView:
        """From gray frames spread over the footage (footage.background_sample)."""
        median = np.median(sample, axis=0).astype(np.uint8)
        layout = structure(median)
        agreements = [agreement(structure(frame), layout) for frame in sample]
        return cls(layout, float(np.percentile(agreements, LEAST)),
                   float(np.median([exposure.spread(frame) for frame in sample])))

    def values(self) -> dict[str, float]:
        """What goes in the scorer's JSON (the structure goes in its safetensors)."""
        return {"least": round(self.least, 4), "spread": round(self.spread, 2)}

    def seen(self, gray: np.ndarray) -> str:
        """What a frame shows against this: "blank", "away", or "" (the site)."""
        if exposure.spread(gray) < BLANK * self.spread:
            return "blank"
        return "away" if agreement(structure(gray), self.structure) < AWAY * self.least else ""


class ViewWatch:
    """One video's view against its footage's, frame by frame in order: where it was lost and found again
    (`changes`, each from the frame it was first seen so, in words; "": the site's view again) and which frames
    score above the threshold for it (`flagged`: from the frame it is known, for ONSET_S, with its words)."""

    def __init__(self, footage: FootageView, fps: float) -> None:
        self.footage = footage
        self.hold = max(int(round(HOLD_S * fps)), 1)
        self.onset = max(int(round(ONSET_S * fps)), 1)
        self.state = ""  # as reported
        self.changes: list[tuple[int, str]] = []
        self.flagged: dict[int, str] = {}
        self._seeing: tuple[int, str] | None = None  # (since, what) where what is seen differs from the state
        self._lift_until = -1

    @property
    def words(self) -> str:
        return {"blank": BLANK_WORDS, "away": AWAY_WORDS}.get(self.state, "")

    def feed(self, indices: np.ndarray, gray: np.ndarray, from_frame: int | None = 0) -> None:
        """Consecutive frames (`indices`, gray at the working size); none before `from_frame` is judged (a blank or
        fading-in opening; None: it has not ended yet)."""
        for index, frame in zip(indices.tolist(), gray):
            if index <= self._lift_until:
                self.flagged[index] = self.words
            if from_frame is None or index < from_frame or index % EVERY:
                continue
            what = self.footage.seen(frame)
            if what == self.state:
                self._seeing = None
            elif self._seeing is None or self._seeing[1] != what:
                self._seeing = (index, what)
            elif index - self._seeing[0] >= self.hold:
                since, self.state, self._seeing = self._seeing[0], what, None
                self.changes.append((since, self.words))
                if what:
                    self._lift_until = index + self.onset - 1
                    self.flagged[index] = self.words


def above_threshold(scores: np.ndarray, frames: Iterable[int], threshold: float) -> np.ndarray:
    """`scores` with `frames` at least LIFT above `threshold`."""
    frames = [f for f in frames if f < len(scores)]
    scores = scores.copy()
    scores[frames] = np.maximum(scores[frames], threshold + LIFT)
    return scores


def joined(picture: list[tuple[int, str]], view: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Two step-wise readings of a video ((first frame, words), each until the next) as one: their words joined
    where both say something; "" where neither does."""
    changes, read = [], ""
    for frame in sorted({f for f, _ in picture} | {f for f, _ in view}):
        said = [words for steps in (picture, view) for words in [_at(steps, frame)] if words]
        if "; ".join(said) != read:
            read = "; ".join(said)
            changes.append((frame, read))
    return changes


def _at(steps: list[tuple[int, str]], frame: int) -> str:
    """The words of `steps` in force at `frame`."""
    words = ""
    for first, said in steps:
        if first > frame:
            break
        words = said
    return words
