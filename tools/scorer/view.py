"""Whether a camera still shows its site as its normal footage did: a lens covered or a picture gone blank, a camera
knocked, turned or zoomed a little (its frames put back on the footage's view), a lens out of focus, and a view that
is not the site's: the three kinds of camera tampering (occlusion, displacement, defocus; Ribnick et al., 2006).

A scorer judges motion and objects against what its normal footage showed. A camera covered by a hand or a cloth
scores as little as a quiet hour (the real camera of evals/results/bench_robustness.md covered for 5 s: 7 % of the
2 s after flagged), and one knocked by 2° flagged 8.5 % of every frame after it (against 2.3 % as filmed), one nudged
by half a degree 14.8 %, as the site's edges no longer lined up with the background and the places the tiers learnt.
The picture as a whole shows what the tiers cannot:
- *blank*: its contrast (exposure.spread) falls under BLANK of the footage's (covered: 9 %; the darkest lighting the
  scorer follows, a third, and fog, 30 %, stay above it);
- *structure*: each frame at a quarter of the working size, its detail (the frame less its blur) over the detail's
  local strength, which lighting, exposure and a veil leave alone; its agreement with the footage's is the
  correlation with the structure of the footage's median frame, where people passing are gone. The footage's frames
  agree 0.76 to 0.9; under rain, snow, grain, shake, fog, a crowd or another hour, a site's frames 0.59 or more of
  it; the real camera knocked by 2° and 10 px 0.1 to 0.16, nudged by 0.5° and 3 px 0.5 to 0.6, another camera 0;
- *moved*: where the frames of a second (their median, which a shaking camera's frames leave in place) agree less than
  any of the footage's did, ECC (Evangelidis and Psarakis, 2008) on the two structures finds the turn and shift that
  puts them back on the footage's view, or the turn, shift and zoom where a PTZ camera's lens was drawn in or out (on
  the real camera zoomed by 0.9× to 1.1× found within 0.005, ad hoc; a zoom of 1.2× is another view); if put back so
  they agree GAIN better, every frame after is put back by it before anything reads it (what the move took out of view
  filled from the footage's median frame; the one frame's jump read as a camera's shake), and evidence boxes are moved
  back into the video's own frame. The knocked camera then flags 2.5 % after its first 2 s, the nudged one 2.4 %. A
  video whose camera sits off the footage's view from its start (re-mounted; a PTZ camera back at its preset a little
  off) has its first frames' median registered at once, and is put back from its first frame, as grain is measured on
  a video's first frames and read so from its first: Ped2's test clips turned by 1° and shifted by 6 px flagged every
  normal frame as they came, none put back. A move beyond MAX_MOVE is another view;
- *away*: agreement under AWAY of the footage's least, however put back;
- *soft*: its sharpness (its finest detail over its coarser detail, whatever the contrast) under SOFT of the video's
  own over the SOFT_LATELY_S before: the real camera blurred by σ 2 or 4 read 0.36 to 0.39 of its sharpness before (a
  second's median), its frames under rain, snow, grain, a darker hour, fog, haze or jitter 0.92 or more, encoded at
  CRF 40 from then on 0.79; the footpath 0.95 to 1.04 as filmed, 0.40 blurred by σ 2 (ad hoc, before the bench's run
  with it). A change over minutes (a dusk, a camera's noise reduction coming on) moves the video's own lately with it.

A view lost for HOLD_S, or a move found, is reported from the frame it was first seen, and the ONSET_S after it is
known (a causal rule, the same live) score above the threshold: one candidate the VLM is asked about, its evidence the
whole picture; not where it was so from the video's first HOLD_S (a state, not an event). The frames after are scored
as the tiers see them. A lens out of focus from a video's start is not told from a lower-quality stream (grain.py
reads both as a smoother picture), nor said here. A video without normal footage is its own camera and is not judged
(an edited video's cut is no camera turned), as grain.py. The settings were set from the measurements above, on the
real camera's normal video and the footpath's, before any scoring run with them (SOFT and SOFT_LATELY_S in release
52), except MAX_MOVE and the rule that a move taken must not leave the frames away, added after a cut to another
camera was once taken for a turn of 17° (bench_robustness's `cut to another camera`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from vadagent.tools.scorer import exposure

EVERY = 4  # one frame in this many is measured: a view is lost for seconds, not for a frame
HOLD_S = 1.0  # a view lost (or back) for this long is reported (a truck passing close goes by sooner)
ONSET_S = 1.0  # and the frames of this long after it is known score above the threshold
LIFT = 1.0  # by this much, in the units of the scores (standard deviations of the footage's fused score)
BLANK = 0.2  # contrast under this share of the footage's: next to nothing is shown
AWAY = 0.5  # agreement under this share of the footage's least: another view
SOFT = 0.6  # sharpness under this share of the video's own lately: a picture gone soft
SOFT_LATELY_S = 10.0  # the video's own sharpness: the median of its frames of this long before, while not soft
SCALE = 4  # structure at 1/SCALE of the working size: the site's layout, not its texture
DETAIL_SIGMA = 3.0  # px at that size: detail is the frame less its blur at this sigma, over its strength around
DETAIL_FLOOR = 2.0  # gray levels: detail this weak is as flat as none (sensor noise on a flat wall)
LEAST = 1  # percentile of the footage frames' agreement taken as its least
MIN_MOVE = 1.0  # working px a frame's farthest corner moves: a smaller move is no move
GAIN = 0.1  # a frame put back by a move found agrees this much better with the footage, or the move is not taken
SQUEEZE = 1.05  # one scale of an affine move found this much above the other: no camera zoom (turns and zooms of the real
# camera, ad hoc: at most 1.011)
MAX_MOVE = 0.1  # of the frame's width: the most a frame's farthest corner moves in a move taken (2° and 10 px: 0.05)
OPENING = 16  # a video's first frames, registered at once where its camera sits off the footage's view
ECC_SMOOTH = 5  # px: ECC compares the structures smoothed so, which lets it find moves of a few px at their size
ECC_STOP = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)

BLANK_WORDS = "the picture shows next to nothing (a covered lens, or a blank or dark picture)"
SOFT_WORDS = "the picture went soft (a lens put out of focus or smeared, or the stream's quality cut)"
AWAY_WORDS = "the view is not the site's (the camera knocked or turned, or something right in front of it)"
MOVED_WORDS = "the camera moved from the footage's view"  # then by how much (move_words)
VIEW_WORDS = (BLANK_WORDS, AWAY_WORDS, MOVED_WORDS, SOFT_WORDS)  # how what a view check says begins
# what a video read away from the footage's view throughout says (ScoreResult.other_view)
OTHER_VIEW_WORDS = "its view was not the normal footage's from its first frame to its last: another camera than the scorer's?"


def structure(gray: np.ndarray) -> np.ndarray:
    """A frame's layout, whatever its lighting: its detail at 1/SCALE of the size over the detail's local strength."""
    small = cv2.resize(gray, (max(gray.shape[1] // SCALE, 1), max(gray.shape[0] // SCALE, 1)),
                       interpolation=cv2.INTER_AREA).astype(np.float32)
    detail = small - cv2.GaussianBlur(small, (0, 0), DETAIL_SIGMA)
    return detail / np.sqrt(cv2.GaussianBlur(detail * detail, (0, 0), DETAIL_SIGMA) + DETAIL_FLOOR**2)


def sharpness(gray: np.ndarray) -> float:
    """How sharp a picture is, whatever its contrast and lighting: its finest detail (the mean magnitude of its
    Laplacian) over its coarser detail (the same at a quarter of the size, two steps down its Gaussian pyramid). A lens
    out of focus takes more than half of it; grain, rain and snow add to it. (Gaussian differences read the same
    conditions apart as well, at ten times the cost: 0.8 ms a frame against 0.06, ad hoc.)"""
    fine = cv2.Laplacian(gray, cv2.CV_16S)
    coarse = cv2.Laplacian(cv2.pyrDown(cv2.pyrDown(gray)), cv2.CV_16S)
    return float(cv2.mean(cv2.convertScaleAbs(fine))[0] / (cv2.mean(cv2.convertScaleAbs(coarse))[0] + 1e-6))


def agreement(seen: np.ndarray, footage: np.ndarray) -> float:
    """The correlation of two structures (1: the same layout; 0: unrelated)."""
    return float((seen * footage).mean() / np.sqrt((seen * seen).mean() * (footage * footage).mean() + 1e-12))


@dataclass(frozen=True)
class FootageView:
    """What the normal footage's camera shows: its median frame (at the working size, where people passing are gone),
    the least its frames agree with that frame's structure, and its contrast."""

    median: np.ndarray  # (H, W) uint8
    least: float
    spread: float

    @cached_property
    def structure(self) -> np.ndarray:
        return structure(self.median)

    @classmethod
    def of(cls, sample: np.ndarray) -> FootageView:
        """From gray frames spread over the footage (footage.background_sample)."""
        median = np.median(sample, axis=0).astype(np.uint8)
        layout = structure(median)
        agreements = [agreement(structure(frame), layout) for frame in sample]
        return cls(median, float(np.percentile(agreements, LEAST)),
                   float(np.median([exposure.spread(frame) for frame in sample])))

    def values(self) -> dict[str, float]:
        """What goes in the scorer's JSON (the median frame goes in its safetensors)."""
        return {"least": round(self.least, 4), "spread": round(self.spread, 2)}

    def agreement(self, gray: np.ndarray) -> float:
        return agreement(structure(gray), self.structure)

    def moved(self, gray: np.ndarray, start: np.ndarray | None) -> np.ndarray | None:
        """How the camera of `gray` has moved from the footage's view, found by ECC on the two structures from `start`:
        a turn and a shift, or where a zoom as well puts it back better (a PTZ camera's lens drawn in or out: a corner
        moved by MIN_MOVE or more by the zoom alone), a turn, a shift and a zoom. The 2 x 3 matrix from the footage's
        working pixels to the frame's; None where ECC does not converge (another view)."""
        seen = structure(gray)
        guess = np.eye(2, 3, dtype=np.float32) if start is None else start.copy()
        guess[:, 2] /= SCALE
        turned = _ecc(self.structure, seen, guess, cv2.MOTION_EUCLIDEAN)
        # OpenCV's ECC has no zoom without shear (a similarity): an affine move is found, and the nearest similarity
        # taken where it is one (a sheared or squeezed "move" is a crowd's, not a camera's)
        zoomed = similarity(_ecc(self.structure, seen, guess if turned is None else turned, cv2.MOTION_AFFINE),
                            (seen.shape[1] / 2, seen.shape[0] / 2))
        height, width = gray.shape
        if zoomed is None or abs(zoom_of(zoomed) - 1) * np.hypot(width, height) / 2 < MIN_MOVE:  # no zoom to speak of
            return None if turned is None else _working(turned)
        found = [_working(move) for move in (turned, zoomed) if move is not None]  # a tie keeps the turn
        return max(found, key=lambda move: self.agreement(self.registered(gray, move)))

    def registered(self, gray: np.ndarray, warp: np.ndarray, seen: np.ndarray | None = None) -> np.ndarray:
        """`gray` put back on the footage's view by `warp` (see `moved`); what the move brought out of view is the
        footage's median frame there (`seen`: where it is in view, `in_view`, when known)."""
        size = (gray.shape[1], gray.shape[0])
        back = cv2.warpAffine(gray, warp, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        return np.where(self.in_view(warp) if seen is None else seen, back, self.median)

    def in_view(self, warp: np.ndarray) -> np.ndarray:
        """Where frames put back by `warp` show what the camera saw (bool, at the working size)."""
        height, width = self.median.shape
        return cv2.warpAffine(np.full((height, width), 255, np.uint8), warp, (width, height),
                              flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP) > 0


def _ecc(footage: np.ndarray, seen: np.ndarray, guess: np.ndarray, motion: int) -> np.ndarray | None:
    """ECC's move (at the structures' size) from the footage's structure to the seen one; None where it does not
    converge."""
    try:
        return cv2.findTransformECC(footage, seen, guess.copy(), motion, ECC_STOP, None, ECC_SMOOTH)[1]
    except cv2.error:
        return None


def _working(move: np.ndarray) -> np.ndarray:
    """A move found at the structures' size, at the working size."""
    out = move.copy()
    out[:, 2] *= SCALE
    return out


def similarity(affine: np.ndarray | None, centre: tuple[float, float]) -> np.ndarray | None:
    """The turn, zoom and shift nearest an affine move (the rotation of its polar decomposition, the geometric mean
    of its two scales, `centre` moved where the affine moves it); None where the affine squeezes one way more than
    SQUEEZE or mirrors."""
    if affine is None:
        return None
    linear = affine[:, :2].astype(np.float64)
    u, scales, vt = np.linalg.svd(linear)
    turn = u @ vt
    if scales[0] > SQUEEZE * scales[1] or np.linalg.det(turn) < 0:
        return None
    out = np.zeros((2, 3), np.float32)
    out[:, :2] = np.sqrt(scales[0] * scales[1]) * turn
    out[:, 2] = linear @ centre + affine[:, 2] - out[:, :2] @ centre
    return out


def zoom_of(warp: np.ndarray) -> float:
    """A move's zoom (1: none; above 1, the lens drawn in)."""
    return float(np.sqrt(abs(np.linalg.det(np.asarray(warp, np.float64)[:, :2]))))


@dataclass
class ViewSeen:
    """What a chunk of frames showed of the footage's view (ViewWatch): the moves its frames were put back by (each
    from a frame on, the first from its first frame; None: as they came), the changes known while it was read, its
    frames flagged for them, and the view at its end in words."""

    moves: list[tuple[int, np.ndarray | None]]
    changes: list[tuple[int, str]]
    flagged: dict[int, str]
    words: str

    def move_at(self, frame: int) -> np.ndarray | None:
        """The move `frame` (of this chunk) was put back by."""
        return next(warp for first, warp in reversed(self.moves) if first <= frame)


def move_words(warp: np.ndarray | None, width: int, height: int) -> str:
    """A move of the camera (FootageView.moved) in words, its shift that of the frame's centre in working px ("":
    none)."""
    if warp is None:
        return ""
    turn = np.degrees(np.arctan2(warp[1, 0], warp[0, 0]))
    shift = warp @ [width / 2, height / 2, 1] - [width / 2, height / 2]
    zoom = zoom_of(warp)
    zoomed = f", zoomed {'in' if zoom > 1 else 'out'} {zoom:.2f}×" if abs(zoom - 1) >= 0.005 else ""
    return f"{MOVED_WORDS} (turned {turn:+.1f}°, shifted {np.hypot(*shift):.0f} px{zoomed}): its frames put back on it"


def _apart(a: np.ndarray | None, b: np.ndarray | None, width: int, height: int) -> float:
    """How far apart, in working px, two moves (None: none) put the farthest corner of a frame."""
    corners = np.float32([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]])
    still = np.eye(2, 3, dtype=np.float32)
    return float(np.abs(corners @ (still if a is None else a).T - corners @ (still if b is None else b).T).max())


class ViewWatch:
    """One video's view against its footage's, frame by frame in order (gray, at the working size, in the footage's
    tones). `feed` puts frames back on the footage's view where the camera moved (by a move found on the frames before
    them), and says what they showed (ViewSeen): where the view was lost and found again or the camera moved, each
    from the frame it was first seen so, in words ("": the site's view, as it came); and the frames that score above
    the threshold for a view lost or a camera moved, from the frame it is known, for ONSET_S, with its words (not for
    what is so from the video's first HOLD_S: a state, not an event)."""

    def __init__(self, footage: FootageView, fps: float) -> None:
        self.footage = footage
        self.hold = max(int(round(HOLD_S * fps)), 1)
        self.onset = max(int(round(ONSET_S * fps)), 1)
        self.state = ""  # the view as reported: "", "blank", "away" or "soft"
        self.warp: np.ndarray | None = None  # the move frames are put back by now (FootageView.moved); None: none
        self._in_view: np.ndarray | None = None  # where it leaves the picture in view (FootageView.in_view)
        self.changes: list[tuple[int, str]] = []
        self.flagged: dict[int, str] = {}  # frames flagged, until their chunk is fed
        self._first: int | None = None  # the video's first frame
        self._size = (0, 0)  # its frames' (width, height)
        self._seeing: tuple[int, str] | None = None  # (since, what) where what is seen differs from the state
        self._low: list[tuple[int, np.ndarray]] = []  # measured frames since they agree less than the footage's least
        self._flag_until, self._flag_words = -1, ""
        self._sharp: deque[tuple[int, float]] = deque()  # (frame, sharpness) of measured frames not soft, SOFT_LATELY_S
        self._lately = max(int(round(SOFT_LATELY_S * fps)), 1)

    @property
    def words(self) -> str:
        """The view as last found, in words ("": the site's, as it came)."""
        lost = {"blank": BLANK_WORDS, "away": AWAY_WORDS, "soft": SOFT_WORDS}.get(self.state, "")
        moved = move_words(self.warp, *self._size) if self.warp is not None else ""
        return "; ".join(w for w in (moved, lost) if w)

    def feed(self, indices: np.ndarray, gray: list[np.ndarray]) -> tuple[list[np.ndarray], ViewSeen]:
        """Consecutive frames, each put back on the footage's view by the move found before it, and what they showed
        of it. A move found changes the frames from the next on: one frame's jump, which frames.ChunkMaker reads as a
        camera's shake."""
        known, seen = len(self.changes), []
        if self._first is None:
            self._first, self._size = int(indices[0]), (gray[0].shape[1], gray[0].shape[0])
            self._opening(gray[:OPENING])
        moves = [(int(indices[0]), self.warp)]
        for index, frame in zip(indices.tolist(), gray):
            if moves[-1][1] is not self.warp:
                moves.append((index, self.warp))
            seen.append(frame if self.warp is None else self.footage.registered(frame, self.warp, self._in_view))
            if index <= self._flag_until:
                self.flagged[index] = self._flag_words
            if index % EVERY == 0:
                self._judge(index, frame, seen[-1])
        flagged = {i: self.flagged.pop(i) for i in indices.tolist() if i in self.flagged}
        return seen, ViewSeen(moves, self.changes[known:], flagged, self.words)

    def _opening(self, gray: list[np.ndarray]) -> None:
        """A video whose camera sits off the footage's view from its start (re-mounted, a PTZ camera back at its preset
        a little off): its first frames' median is registered at once, and all its frames are put back, as a video's
        grain is measured on its first frames and read so from its first (grain.py)."""
        lately = np.median(np.stack(gray), 0).astype(np.uint8)
        if self.footage.agreement(lately) < self.footage.least:
            self._register(self._first, self._first, lately)

    def _judge(self, index: int, frame: np.ndarray, registered: np.ndarray) -> None:
        """One measured frame as it came and put back by the move found last."""
        if exposure.spread(registered) < BLANK * self.footage.spread:
            self._see(index, "blank")
            return
        agree = self.footage.agreement(registered)
        if agree >= self.footage.least:
            self._low = []
        else:
            self._low.append((index, frame))
            if index - self._low[0][0] >= self.hold:
                since, lately = self._low[0][0], np.median(np.stack([f for _, f in self._low]), 0).astype(np.uint8)
                self._low = []
                if self._register(since, index, lately):
                    agree = self.footage.least
        self._see(index, "away" if agree < AWAY * self.footage.least else "soft" if self._soft(index, frame) else "")

    def _soft(self, index: int, frame: np.ndarray) -> bool:
        """Whether a measured frame is much softer than the video's frames of lately were: a lens put out of focus or
        smeared goes soft within a second, a dusk or a camera's noise reduction over minutes, which lately follows.
        (Against the video's own: a picture softer than the footage's from its start, a lower-quality stream's, is
        grain.py's smoother picture.)"""
        sharp = sharpness(frame)
        if self._sharp and sharp < SOFT * float(np.median([s for _, s in self._sharp])):
            return True
        self._sharp.append((index, sharp))
        while self._sharp[0][0] <= index - self._lately:
            self._sharp.popleft()
        return False

    def _register(self, since: int, index: int, lately: np.ndarray) -> bool:
        """Where the frames of the last HOLD_S agreed less with the footage than any of the footage did: whether the
        camera has moved from where it was taken to be. `lately`, their median (a shaking camera's frames move apart,
        and their median stays), is put back by another move of at most MAX_MOVE, found by ECC; if it then agrees GAIN
        better and is not away, the frames after this one are put back by that move."""
        height, width = lately.shape
        warp = self.footage.moved(lately, self.warp)
        off = None if warp is None else _apart(warp, None, width, height)
        if off is None or off > MAX_MOVE * width:
            return False  # another view
        if off < MIN_MOVE:
            warp = None  # back where the footage was filmed from
        if _apart(warp, self.warp, width, height) < MIN_MOVE:
            return False  # where it was taken to be: something in front of it
        before = self.footage.agreement(lately if self.warp is None else self.footage.registered(lately, self.warp))
        moved = self.footage.agreement(lately if warp is None else self.footage.registered(lately, warp))
        if moved < max(before + GAIN, AWAY * self.footage.least):
            return False
        self.warp, self._in_view = warp, None if warp is None else self.footage.in_view(warp)
        self._change(since, index, flag=warp is not None)
        return True

    def _see(self, index: int, what: str) -> None:
        if what == self.state:
            self._seeing = None
        elif self._seeing is None or self._seeing[1] != what:
            self._seeing = (index, what)
        elif index - self._seeing[0] >= self.hold:
            since, self.state, self._seeing = self._seeing[0], what, None
            self._change(since, index, flag=bool(what))

    def _change(self, since: int, index: int, flag: bool) -> None:
        """The view changed from frame `since`, as known at frame `index`; flagged from there if `flag`, unless it
        was so from the video's first HOLD_S."""
        self.changes.append((since, self.words))
        if flag and since >= self._first + self.hold:
            self._flag_until, self._flag_words = index + self.onset - 1, self.words
            self.flagged[index] = self.words


def boxes_moved(boxes: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """Boxes (x0, y0, x1, y1, working px) on frames put back on the footage's view by `warp`: where they are in the
    video's own frames (the box around each one's corners, moved)."""
    x0, y0, x1, y1 = np.asarray(boxes, np.float64).T
    corners = np.stack([np.stack([x, y, np.ones_like(x)], -1) for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))], 1)
    moved = corners @ np.asarray(warp, np.float64).T  # (n, 4, 2)
    empty = (x1 <= x0) | (y1 <= y0)  # no evidence: kept as it was
    out = np.concatenate([moved.min(1), moved.max(1)], 1)
    return np.where(empty[:, None], boxes, out).astype(np.asarray(boxes).dtype)


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
