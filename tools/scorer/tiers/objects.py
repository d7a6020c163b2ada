"""The `objects` tier: what is where, how big, and how it moves.

Foreground objects come from a background model of the site (the per-pixel median of its normal
footage, adapted slowly where nothing is in front of it, so lighting may drift but a person who
stands still stays foreground — for `absorb_frames`: what has stood unchanged in front of the
background that long becomes part of it, so a light switched on or a parked car is one event, not a
flag on every frame from then on; and matched in gain to a video's first frame where the whole
picture begins darker or brighter than the normal footage's, see `_exposure`; and, with `shade`, taken in the frame's
shade where a shadow falls on part of the picture, a cloud's drifting over the site: shade.py). With `sway`, where the
normal footage's picture swayed in place (leaves in the wind: sway.py), no object is found while it sways faster
than it did there, so more wind than the footage's is no flood of leaves unlike any seen there. Each connected blob
is an object with its place (centre x, foot y), size (log width, log height), fill, mean motion
(optical flow inside the blob) and a small appearance descriptor (gradient-orientation histograms
over a 4 × 2 grid of the crop, reduced by PCA learned on the site's own objects). Objects are
followed from frame to frame (each continues the previous frame's object whose centre, moved on by
its velocity, lands nearest) and their size and motion averaged along the track, so one frame's
split blob or noisy flow counts for half, and an object that turns back abruptly shows as motion
unlike its speed. Three k-nearest-neighbour density models of the normal objects score each object:
size for its place, motion for its size, and appearance (against a random sample of the normal
objects: `APPEARANCE_OBJECTS`), on features standardised by the normal objects' spread (one spread
for both axes of a place, a size and a velocity, so that neither axis of one counts more than the
other). Each is scaled so that 1.0 is the 99th percentile of normal objects scored out of sample
(other folds of the footage), an object scores its most unusual aspect, and a frame its most unusual
object. An object cut by the frame's edge is only partly in view: it is judged by its motion, and by
its size only where the part in view is already larger than the normal objects there.

A frame with no object scores 0, so a crowd that is normal at a site adds nothing however fast it
moves: only objects unlike the site's own normal objects count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

import cv2
import numpy as np
from scipy.spatial import cKDTree

from vadagent.tools.scorer import exposure, shade, sway
from vadagent.tools.scorer.frames import FLOW_STEP
from vadagent.tools.scorer.tiers.base import (
    Evidence,
    FrameChunk,
    Reader,
    Tier,
    TierScores,
    TierUnfit,
    fold_of,
    median_picture,
    register,
)
from vadagent.types import heading_in_words

HIST_CELLS = (4, 2)  # rows × cols of the appearance grid over a crop
BINS = 8
PLACE = slice(0, 2)  # column layout of the raw object vector
SIZE = slice(2, 4)
HEIGHT = SIZE.stop - 1  # log height, the size column motion is judged for
FILL, VX, VY, SPEED = 4, 5, 6, 7
HIST = slice(8, 8 + HIST_CELLS[0] * HIST_CELLS[1] * BINS)
GROUPS = ("size for its place", "motion for its size", "appearance")
SIZE_GROUP, MOTION_GROUP, APPEARANCE_GROUP = range(len(GROUPS))
# an object's evidence note, written where it lies beyond the normal objects' 99th percentile in its most unusual
# group (below it, "a size not seen there" would not be true); `read_note` reads one back
NOTE = re.compile(rf"(an object .+) \(({'|'.join(GROUPS)}) ([0-9.]+)× the normal 99th percentile\)")
MAX_TRAIN_OBJECTS = 60_000
# A random sample of the normal objects is all the appearance model compares with: its look-ups (10
# dimensions) cost time that grows with the objects kept (40 synthetic clips, 60,000 objects: 0.66 ms a
# frame against 0.29 with the sample, evals/results/bench_fit_scale.md), while on Ped2's footage 8,000
# self-validated as all 15,000 did (within ±0.0008 on every tier set and draw; 4,000 lower on 8 of 9:
# evals/results/bench_setting_appearance_objects.md).
APPEARANCE_OBJECTS = 8_000
PARALLEL_QUERIES = 4096  # k-d tree queries at once worth a thread per core
APPEARANCE_DIMS = 8
SETTLE_FRAMES = 50  # after the camera last moved, frames are registered on the background this long
NEARBY = 20  # normal objects nearest a place, for how large and fast things get there
STILL = 0.25  # of the median speed of those: an object this slow is said to stand still (its evidence note's words)
ABSORB_RATE = 0.1  # background update per frame where something has stood `absorb_frames`
LIGHTING_FIT = 15.0  # gray levels: pixels this close to the first lighting fit make the second
LIGHTING_EVEN = 25.0  # variance (gray levels²) of the sampled background below which gain is not fitted


@dataclass
class ObjectSet:
    """Objects of a run of frames: `frame[i]` is the position in `indices` of object i."""

    indices: np.ndarray  # (n,) frame indices
    frame: np.ndarray  # (m,) int
    raw: np.ndarray  # (m, 8 + 64) float32, see the column layout above
    box: np.ndarray  # (m, 4) x0, y0, x1, y1 working pixels
    cut: np.ndarray  # (m,) bool: the object touches the frame's edge, so part of it is out of view
    shaded: int = 0  # of the frames, those read in a shadow's light (`shade`)
    swayed: sway.Counted | None = None  # while fitting: how the frames swayed, for the place that sways
    windier: int = 0  # of the frames, those whose place that sways swayed faster than the footage's (sway.WINDIER)


class ObjectNote(NamedTuple):
    """An objects-tier evidence note read back: what was unusual, in which group, how far beyond normal."""

    words: str  # "an object 2.6× taller than anything seen there"
    group: int  # SIZE_GROUP, MOTION_GROUP or APPEARANCE_GROUP
    multiple: float  # of the normal objects' 99th percentile in that group


def read_note(note: str) -> ObjectNote | None:
    """An evidence note this tier wrote, read back; None for any other (the view's words, a motion cell's ""), and
    for one within the normal objects' 99th percentile (scores saved before release 52 have a note on every object)."""
    found = NOTE.fullmatch(str(note))
    if found is None or float(found[3]) < 1.0:
        return None
    return ObjectNote(found[1], GROUPS.index(found[2]), float(found[3]))


def _goes_their_way(row: np.ndarray, normal: np.ndarray) -> bool:
    """Whether any of `normal` (objects near the place of `row`, raw vectors) heads within 45° of its heading at half
    its speed or more: a walker against the flow has none that does."""
    velocity = row[[VX, VY]]
    going = normal[np.hypot(normal[:, VX], normal[:, VY]) >= 0.5 * np.hypot(*velocity)]
    turn = going[:, [VX, VY]] @ velocity / (np.hypot(going[:, VX], going[:, VY]) * np.hypot(*velocity) + 1e-9)
    return bool((turn >= np.cos(np.pi / 4)).any())


def _looks(raw: np.ndarray) -> np.ndarray:
    """What of an object's look can be put in words, (m, 3): how wide for its height (log width / height), how much of
    its box it fills, and the share of its edge strength in edges that run across (gradients within 45° of vertical:
    a walker's outline runs up and down, a wheel's rim or a cart's frame across)."""
    orientations = raw[:, HIST].reshape(len(raw), -1, BINS).sum(1)
    across = orientations[:, BINS // 4 : 3 * BINS // 4].sum(1) / (orientations.sum(1) + 1e-9)
    return np.column_stack([raw[:, SIZE.start] - raw[:, HEIGHT], raw[:, FILL], across])


def _unlike_in_words(look: np.ndarray, ranges: np.ndarray) -> str:
    """What sets an object's look (a row of `_looks`) apart from the normal objects' (`ranges`: their 1st and 99th
    percentiles of each), the look furthest beyond its range for the range's width; where none is beyond, no single
    look does (the layout of its edges over the crop), and the words say so."""
    low, high = ranges[:, 0], ranges[:, 1]
    beyond = np.maximum(low - look, look - high) / np.maximum(high - low, 1e-6)
    which = int(np.argmax(beyond))
    if beyond[which] <= 0:
        return "an object whose shape and appearance are unlike the normal objects"
    more = bool(look[which] > high[which])
    value, bound = (look[which], high[which]) if more else (look[which], low[which])
    most = "at most" if more else "at least"
    if which == 0:
        return (f"an object {np.exp(value):.1f}× as wide as it is tall, {'wider' if more else 'narrower'} for its height "
                f"than 99 % of the normal objects ({most} {np.exp(bound):.1f}×)")
    if which == 1:
        return (f"an object filling {100 * value:.0f} % of its box, {'more solid' if more else 'more spread out'} than "
                f"99 % of the normal objects ({most} {100 * bound:.0f} %)")
    return (f"an object with {100 * value:.0f} % of its edges running across, {'more' if more else 'fewer'} than 99 % of "
            f"the normal objects ({most} {100 * bound:.0f} %)")


def _appearance(crops: list[np.ndarray], masks: list[np.ndarray]) -> np.ndarray:
    """Gradient-orientation histograms of object crops, all at once: (m, cells × BINS), unit norm.
    Each crop is resized to 16 × 32 and its gradient taken with OpenCV's 1-pixel Sobel (central
    differences, reflected border), weighted by the object's mask."""
    if not crops:
        return np.zeros((0, HIST.stop - HIST.start), np.float32)
    crop = np.stack([cv2.resize(c.astype(np.float32), (16, 32), interpolation=cv2.INTER_AREA) for c in crops])
    keep = np.stack([cv2.resize(m.astype(np.float32), (16, 32), interpolation=cv2.INTER_AREA) for m in masks])
    padded = np.pad(crop, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    gx = padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2]
    gy = padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1]
    magnitude = np.hypot(gx, gy) * keep
    bins = np.minimum(((np.arctan2(gy, gx) % np.pi) / np.pi * BINS).astype(np.int64), BINS - 1)
    rows, cols = HIST_CELLS
    cell = np.arange(32)[:, None] // (32 // rows) * cols + np.arange(16)[None, :] // (16 // cols)
    width = rows * cols * BINS
    slot = np.arange(len(crops))[:, None, None] * width + cell * BINS + bins
    hist = np.bincount(slot.ravel(), magnitude.ravel(), minlength=len(crops) * width).reshape(len(crops), width)
    return (hist / (np.linalg.norm(hist, axis=1, keepdims=True) + 1e-3)).astype(np.float32)


def _exposure(frame: np.ndarray, background: np.ndarray) -> tuple[float, float] | None:
    """(gain, offset) with frame ≈ gain · background + offset over sampled pixels, or None where the
    gain is not one to match (`exposure.matched`) or the background too even to tell gain from offset: there the
    offset alone (each frame's median difference) is matched, as before this fit existed, so steady
    lighting scores exactly as it did. A camera's exposure or the time of day scale the picture as well
    as shift it, and in a picture of dark and bright parts a shift alone leaves the bright parts
    foreground (a real camera's normal video 20 % darker: evals/results/bench_robustness.md). Least
    squares, then again on the pixels within LIGHTING_FIT gray levels of the first fit, so objects in
    front pull it little."""
    keep = np.ones(len(frame), bool)
    gain = offset = 0.0
    for _ in range(2):
        b, f = background[keep], frame[keep]
        spread = float(b.var()) if len(b) >= 16 else 0.0
        if spread < LIGHTING_EVEN:
            return None
        gain = float(np.mean((b - b.mean()) * (f - f.mean())) / spread)
        if not exposure.GAINS[0] <= gain <= exposure.GAINS[1]:  # a black frame, a fade, another scene
            return None
        offset = float(f.mean() - gain * b.mean())
        keep = np.abs(frame - (gain * background + offset)) < LIGHTING_FIT
    return (gain, offset) if exposure.matched(gain) else None


def _off(frame: np.ndarray, background: np.ndarray, threshold: float) -> np.ndarray:
    """Which sampled pixels are further than `threshold` from the background, the frame's median
    difference taken off (what the objects tier reads as foreground)."""
    delta = frame - background
    return np.abs(delta - exposure.median(delta)) > threshold


def _nearest(tree: cKDTree, points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices of the k nearest neighbours, (n, k) even for k = 1. SciPy's k-d tree:
    the object spaces have 4 to 10 dimensions, where it answers a chunk's queries several times
    faster than scikit-learn's wrapper around the same kind of tree. Threads only for fitting's large
    queries: `workers=-1` starts a thread per core on each call, which costs more than a scoring
    chunk's queries, the more so the more cores (live on 16 cores: 221 → 263 frames/s; on 2 cores
    269 → 282, measured in evals/results/bench_watch*.md)."""
    dist, index = tree.query(points, k=k, workers=-1 if len(points) >= PARALLEL_QUERIES else 1)
    return dist.reshape(len(points), k), index.reshape(len(points), k)


class _ObjectReader(Reader):
    def __init__(self, tier: ObjectTier) -> None:
        self.tier = tier
        self.background = tier.background.astype(np.float32).copy()
        self.kernel = np.ones((3, 3), np.uint8)
        self.standing = np.zeros(self.background.shape, np.int32)  # frames each pixel has been foreground
        self.shaking = 0  # frames left to register frames on the background after the camera moved
        self.tracked = np.zeros((0, HIST.start), np.float32)  # the previous frame's objects, as followed
        self.unexposed = tier.params.lighting  # the first frame's exposure is still to be matched
        # what sways in place (sway.py): read while fitting (its place is still to be found), all of the picture, and
        # where the footage had it, within the place's box alone (each pixel's reading is its own: the same there)
        place, self.box = tier.sway_place, (slice(None), slice(None))
        self.sway: sway.Motion | None = None
        self.place: sway.Place | None = None  # the footage's, within its box
        if place is None:
            self.sway = sway.Motion(self.background.shape)
        elif tier.params.sway and place.zone.any():
            self.box = place.box()
            self.place = sway.Place(place.zone[self.box], place.speed)
            self.sway = sway.Motion(self.place.zone.shape)
        # 16-bit labels where they cannot run out: OpenCV 5 labels a frame with statistics faster in 16 bits
        # than in 32 (0.17-0.20 against 0.31-0.58 ms at 320 x 240; evals/HISTORY.md, release 43), the same labels
        # and statistics. After the 3 x 3 opening every blob has at least 9 pixels, so a frame holds fewer than
        # 65,536 of them up to 9 x 65,536 px
        self.labels = cv2.CV_16U if self.background.size < 9 * 65_536 else cv2.CV_32S

    def feed(self, chunk: FrameChunk) -> ObjectSet:
        p, (height, width) = self.tier.params, self.background.shape
        step = self.tier.step
        min_area = max(int(p.min_area * width * height), 4)
        frames, rows, boxes, crops, masks, cut, shaded = [], [], [], [], [], [], 0
        swayed = sway.Counted.empty(self.background.shape) if self.tier.sway_place is None else None
        windier = 0
        for position, (full, full_flow, shaken) in enumerate(zip(chunk.gray, chunk.flow, chunk.shake)):
            gray = cv2.resize(full, (width, height), interpolation=cv2.INTER_AREA) if step > 1 else full
            flow = self._at_object_scale(full_flow) / step
            quiet = None  # where no object is found in this frame: its place that sways, swaying faster than the footage's
            if self.sway is not None:
                sways = self.sway.sways(flow[self.box])
                if swayed is None and self.sway.windier(self.place):
                    quiet, windier = np.zeros(self.background.shape, bool), windier + 1
                    quiet[self.box] = sways & self.place.zone
            self.shaking = SETTLE_FRAMES if shaken else max(self.shaking - 1, 0)
            edge = 0
            if self.shaking:  # the camera moved lately: put the frame back where the background is
                gray, edge = self._registered(gray)
            g = gray.astype(np.float32)
            if self.unexposed:
                self._expose(g)
            foreground, labels, stats = self._blobs(g, self.background, edge, quiet)
            if swayed is not None:  # where nothing has stood in front of the background lately (sway.CLEAR)
                change = chunk.diff[position]
                change = cv2.resize(change, (width, height), interpolation=cv2.INTER_AREA) if step > 1 else change
                self.sway.count(sways, change, foreground, swayed)
            held = foreground  # what the background does not follow: in front of it, or in another light
            if p.shade:
                foreground, labels, stats, held, in_shade = self._shaded(g, edge, foreground, labels, stats, quiet)
                shaded += in_shade
            order = np.argsort(-stats[1:, cv2.CC_STAT_AREA])[: p.max_objects] + 1
            order = order[stats[order, cv2.CC_STAT_AREA] >= min_area]
            found = []
            for label in order.tolist():
                x, y, w, h, area = stats[label].tolist()
                mask = labels[y : y + h, x : x + w] == label
                motion = flow[y : y + h, x : x + w][mask]
                speed = np.hypot(motion[:, 0], motion[:, 1])
                top = int(0.9 * (len(speed) - 1))
                vx, vy = motion.sum(0) / len(motion)  # np.mean's arithmetic without its Python overhead
                found.append([(x + w / 2) / width, (y + h) / height, np.log(w), np.log(h), area / (w * h), vx, vy,
                              np.partition(speed, top)[top]])
                crops.append(gray[y : y + h, x : x + w])
                masks.append(mask)
                boxes.append((x * step, y * step, (x + w) * step, (y + h) * step))
                cut.append(x == 0 or y == 0 or x + w == width or y + h == height)
                frames.append(position)
            found = np.asarray(found, np.float32).reshape(-1, HIST.start)
            rows.append(self._follow(found, width, height, chunk.time_scale) if p.track > 0 else found)
            if p.adapt > 0:  # follow slow lighting changes where nothing stands in front
                cv2.accumulateWeighted(g, self.background, p.adapt, mask=1 - held)
            # what has been foreground (or in another light) most of the time for `absorb_frames` (a leaky count, so
            # people passing in front do not restart it) fades into the background within a few frames
            self.standing += np.where(held > 0, 1, -1).astype(np.int32)
            np.clip(self.standing, 0, p.absorb_frames, out=self.standing)
            settled = (self.standing >= p.absorb_frames).astype(np.uint8)
            if settled.any():
                cv2.accumulateWeighted(g, self.background, ABSORB_RATE, mask=settled)
        found = np.concatenate(rows) if rows else np.zeros((0, HIST.start), np.float32)
        raw = np.concatenate([found, _appearance(crops, masks)], axis=1)
        return ObjectSet(chunk.indices, np.asarray(frames, np.int64), raw, np.asarray(boxes, np.float32).reshape(-1, 4),
                         np.asarray(cut, bool), shaded, swayed, windier)

    def _blobs(self, g: np.ndarray, background: np.ndarray, edge: int, quiet: np.ndarray | None = None,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The frame's foreground against `background` (opened and closed), less `quiet` (where the footage's place that
        sways sways faster now), its blobs' labels and their statistics."""
        delta = g - background
        delta -= exposure.median(delta[::4, ::4])  # global brightness changes are not objects
        foreground = (np.abs(delta) > self.tier.params.fg_threshold).astype(np.uint8)
        if quiet is not None:
            foreground[quiet] = 0
        if edge:  # no object where the shake leaves the picture unknown (and the flow: frames.py zeroes it)
            foreground[:edge], foreground[-edge:], foreground[:, :edge], foreground[:, -edge:] = 0, 0, 0, 0
        foreground = cv2.morphologyEx(foreground, cv2.MORPH_OPEN, self.kernel)
        foreground = cv2.morphologyEx(foreground, cv2.MORPH_CLOSE, self.kernel, iterations=2)
        _, labels, stats, _ = cv2.connectedComponentsWithStats(foreground, connectivity=8, ltype=self.labels)
        return foreground, labels, stats

    def _shaded(self, g: np.ndarray, edge: int, foreground: np.ndarray, labels: np.ndarray, stats: np.ndarray,
                quiet: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
        """The frame's foreground, labels and statistics found again in its light where a shadow falls on part of it
        (shade.py), what the background must not follow (the foreground, and where the light is another), and whether
        it was. Found again in that light more than once, as what was an object may be shade seen in the first one's
        penumbra."""
        ratio, shaded = None, None
        for _ in range(shade.PASSES):
            shadows = self._shadows(g, labels, stats)
            if shadows is None:
                break
            ratio = shade.log_ratio(g, self.background) if ratio is None else ratio
            light = shade.relit(self.background, ratio, (labels > 0) & ~shadows)
            if light is None:
                break
            relit, shaded = light
            foreground, labels, stats = self._blobs(g, relit, edge, quiet)
        return foreground, labels, stats, foreground if shaded is None else foreground | shaded, shaded is not None

    def _large(self, stats: np.ndarray) -> np.ndarray:
        """The labels of blobs of `shade.LEAST` of the frame or more: only these may be a shadow."""
        height, width = self.background.shape
        return np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= shade.LEAST * height * width) + 1

    def _shadows(self, g: np.ndarray, labels: np.ndarray, stats: np.ndarray) -> np.ndarray | None:
        """The pixels of the frame's blobs that are shadows (`shade.light_of`), or None where none is, or where a
        source of light appeared: then the rest darkening is the camera's exposure answering it."""
        shadows = None
        for label in self._large(stats).tolist():
            x, y, w, h, _ = stats[label].tolist()
            box = slice(max(y - 1, 0), y + h + 1), slice(max(x - 1, 0), x + w + 1)  # a pixel beyond it (shade.light_of)
            mask = labels[box] == label
            light = shade.light_of(g[box], self.background[box], mask)
            if light is shade.Light.SOURCE:
                return None
            if light is shade.Light.SHADOW:
                shadows = np.zeros(labels.shape, bool) if shadows is None else shadows
                shadows[box] |= mask
        return shadows

    def _expose(self, first: np.ndarray) -> None:
        """The background in the exposure of the video's first frame: a video that begins darker or
        brighter as a whole (another time of day, a camera's exposure) is not objects everywhere its
        picture is bright. Only the opening is matched; a later change of the whole picture (a flash,
        a fire, a lamp) stays an event, as a light switched on is one (see `absorb_frames`)."""
        self.unexposed = False
        sample, behind = first[::4, ::4].ravel(), self.background[::4, ::4].ravel()
        exposure = _exposure(sample, behind)
        if exposure is None:
            return
        exposed = np.clip(exposure[0] * self.background + exposure[1], 0, 255).astype(np.float32)
        # kept only where it explains the frame far better than a shift alone: a gain is a straight line
        # through a camera's response, which the picture's gamma or a scene change may not follow. Pixels
        # off either way (someone in front) say nothing; of the rest, the gain must mend twice those it spoils
        shifted = _off(sample, behind, self.tier.params.fg_threshold)
        scaled = _off(sample, exposed[::4, ::4].ravel(), self.tier.params.fg_threshold)
        if np.count_nonzero(shifted & ~scaled) > 2 * np.count_nonzero(scaled & ~shifted):
            self.background = exposed

    def _at_object_scale(self, flow: np.ndarray) -> np.ndarray:
        """A frame's flow (at 1/FLOW_STEP of the working size) sampled at the objects' size."""
        height, width = self.background.shape
        ratio, rest = divmod(self.tier.step, FLOW_STEP)
        if ratio and not rest:
            return flow[::ratio, ::ratio][:height, :width]
        return cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)

    def _follow(self, now: np.ndarray, width: int, height: int, time_scale: float = 1.0) -> np.ndarray:
        """This frame's objects with size and motion averaged along their tracks (weight `track` on the
        track's past per fitted frame interval): an object continues the previous frame's object whose
        centre, moved on by its velocity, lands nearest to it, within half its height; each object
        continues one track. Motion is in fitted frame intervals (`time_scale`: the video's rate over
        the fitted one), so at another rate the move between frames and the memory are rescaled."""
        before, weight = self.tracked, self.tier.params.track ** (1.0 / time_scale)
        if len(now) and len(before):
            scale = np.float32([width, height])
            landed = before[:, PLACE] * scale + before[:, VX : VY + 1] / time_scale
            gap = np.linalg.norm(now[:, None, PLACE] * scale - landed[None], axis=2)
            close = np.argwhere(gap <= 0.5 * np.exp(now[:, HEIGHT, None]))
            matched: dict[int, int] = {}  # this frame's object → the previous frame's it continues
            for i, j in close[np.argsort(gap[close[:, 0], close[:, 1]], kind="stable")].tolist():
                if i not in matched and j not in matched.values():
                    matched[i] = j
            if matched:
                i, j = np.fromiter(matched, np.int64), np.fromiter(matched.values(), np.int64)
                for columns in (SIZE, slice(VX, SPEED + 1)):
                    now[i, columns] = weight * before[j, columns] + (1 - weight) * now[i, columns]
        self.tracked = now
        return now

    def _registered(self, gray: np.ndarray) -> tuple[np.ndarray, int]:
        """The frame shifted onto the background (phase correlation: whole-pixel camera shake), and
        how many pixels along each edge the shift leaves unknown."""
        frame = gray.astype(np.float32)
        (dx, dy), response = cv2.phaseCorrelate(self.background, frame)
        if np.hypot(dx, dy) < 0.5 or response < 0.05:
            return gray, 0
        edge = int(np.ceil(max(abs(dx), abs(dy)))) + 1
        back = np.float32([[1, 0, -dx], [0, 1, -dy]])
        size = (gray.shape[1], gray.shape[0])
        moved = cv2.warpAffine(frame, back, size, borderMode=cv2.BORDER_CONSTANT)
        # the strip the camera moved into was not in view: it shows the background, which therefore
        # does not learn the frame's edge repeated into it (as it did where nothing stands)
        seen = cv2.warpAffine(np.ones(gray.shape, np.float32), back, size, borderMode=cv2.BORDER_CONSTANT)
        return np.where(seen > 0.999, moved, self.background), edge


@register
class ObjectTier(Tier):
    name = "objects"
    summary = "foreground objects vs the site's normal objects: size for the place, motion, appearance (kNN)"
    needs_background = True
    saved_before = {"track": 0.0, "cut_by_motion": False, "cut_height": False, "isotropic": False,
                    "appearance_objects": MAX_TRAIN_OBJECTS, "lighting": False}

    @dataclass
    class Params:
        fg_threshold: float = 25.0  # gray levels from the background
        min_area: float = 0.0005  # of the frame
        max_objects: int = 24  # largest blobs per frame
        max_side: int = 180  # objects are found at the working size divided by a whole step to at least this
        k: int = 5
        adapt: float = 0.01  # background update rate where no object is
        absorb_frames: int = 1500  # foreground this long joins the background (1 min at 25 frames/s)
        track: float = 0.5  # weight of a track's past in its objects' size and motion (0: not followed)
        cut_by_motion: bool = True  # an object cut by the frame's edge: its motion, and its size only if too large
        cut_height: bool = True  # with cut_by_motion: its motion judged for a height up to the tallest there
        isotropic: bool = True  # a place, a size and a velocity each judged on one scale for both axes
        appearance_objects: int = APPEARANCE_OBJECTS  # normal objects the appearance model compares with
        lighting: bool = True  # a video's first frame matched to the background in gain (False: offset only)
        shade: bool = False  # a shadow on part of the picture (a cloud's) is the frame's light, no object (shade.py)
        # where the footage's picture swayed in place (foliage), no object while it sways faster (sway.py); nowhere at a
        # site without such a place
        sway: bool = True

    background: np.ndarray | None = None
    sway_place: sway.Place | None = None  # where the normal footage swayed in place (None: not fitted yet)

    @property
    def step(self) -> int:
        """Integer downscale from the working size (flow is subsampled by the same step)."""
        return self.geometry.step_to(self.params.max_side)

    @property
    def size(self) -> tuple[int, int]:
        return self.geometry.shrunk(self.step)

    # -- fitting ---------------------------------------------------------------------------------
    def set_background(self, sample: np.ndarray) -> None:
        """The site's background: the per-pixel median of frames spread over the normal footage."""
        self.background = median_picture(sample, self.size)

    def reader(self) -> Reader:
        if self.background is None:
            raise RuntimeError("the objects tier needs its background before reading (set_background)")
        return _ObjectReader(self)

    def fit(self, clips: list[list[Any]], **_: Any) -> list[np.ndarray]:
        sets = [list(clip) for clip in clips]
        counted = [p.swayed for clip in sets for p in clip if p.swayed is not None]
        if counted or self.sway_place is None:  # parts read once a place was found count nothing: it stays
            self.sway_place = sway.Place.found(counted, self.size)
        raw = np.concatenate([p.raw for clip in sets for p in clip] or [np.zeros((0, HIST.stop), np.float32)])
        cut = np.concatenate([p.cut for clip in sets for p in clip] or [np.zeros(0, bool)])
        frame_of = [np.concatenate([p.frame + sum(len(q.indices) for q in clip[:i]) for i, p in enumerate(clip)]
                                   or [np.zeros(0, np.int64)]) for clip in sets]
        lengths = [sum(len(p.indices) for p in clip) for clip in sets]
        if len(raw) < 4 * self.params.k:
            raise TierUnfit(f"only {len(raw)} moving or foreground objects in the normal footage (it needs "
                            f"{4 * self.params.k})")
        rng = np.random.default_rng(0)
        keep = np.sort(rng.choice(len(raw), MAX_TRAIN_OBJECTS, replace=False)) if len(raw) > MAX_TRAIN_OBJECTS \
            else np.arange(len(raw))
        self._fit_projection(raw[keep])
        self.train = raw[keep]
        cap = self.params.appearance_objects
        self.appearance_rows = np.sort(rng.choice(len(keep), cap, replace=False)) if len(keep) > cap \
            else np.arange(len(keep))
        remembered = np.isin(np.arange(len(raw)), keep[self.appearance_rows])
        self._index()  # the nearest normal objects of a place are needed out of fold (_motion_when_cut)
        spaces = self._spaces(raw)
        folds_by_frame = fold_of(len(sets), lengths)
        fold = np.concatenate([f[fr] for f, fr in zip(folds_by_frame, frame_of)])
        k = self.params.k
        out_of_fold = np.zeros((len(raw), len(GROUPS)))
        for f in np.unique(fold):
            test, train = fold == f, (fold != f)
            train &= np.isin(np.arange(len(raw)), keep)
            if train.sum() <= k:
                train = fold != f
            for g, space in enumerate(spaces):
                rows = train & remembered if g == APPEARANCE_GROUP else train
                tree = cKDTree(space[rows if rows.sum() > k else train])
                dist, _ = _nearest(tree, space[test], k)
                out_of_fold[test, g] = dist.mean(1)
                if g == MOTION_GROUP:
                    out_of_fold[test, g] = self._motion_when_cut(tree, raw[test], cut[test], out_of_fold[test, g])
        self.scale = np.percentile(out_of_fold, 99, axis=0).astype(np.float32) + 1e-6
        per_object = self._judged(out_of_fold / self.scale, raw, cut).max(1)
        scores = []
        start = 0
        for frames, n in zip(frame_of, lengths):
            s = np.zeros(n)
            np.maximum.at(s, frames, per_object[start : start + len(frames)])
            scores.append(s)
            start += len(frames)
        return scores

    def _fit_projection(self, raw: np.ndarray) -> None:
        hist = raw[:, HIST]
        self.hist_mean = hist.mean(0).astype(np.float32)
        _, _, vt = np.linalg.svd(hist - self.hist_mean, full_matrices=False)
        self.hist_axes = vt[:APPEARANCE_DIMS].astype(np.float32)
        base = self._columns(raw)
        self.mean = base.mean(0).astype(np.float32)
        self.std = (base.std(0) + 1e-3).astype(np.float32)

    def _columns(self, raw: np.ndarray) -> np.ndarray:
        """Place, size, fill, motion, aspect, appearance: one row per object, before standardising."""
        appearance = (raw[:, HIST] - self.hist_mean) @ self.hist_axes.T
        aspect = raw[:, SIZE][:, :1] - raw[:, SIZE][:, 1:]
        return np.column_stack([raw[:, PLACE], raw[:, SIZE], raw[:, FILL], raw[:, VX], raw[:, VY], raw[:, SPEED],
                                aspect, appearance])

    def _spaces(self, raw: np.ndarray) -> list[np.ndarray]:
        z = (self._columns(raw) - self.mean) / self.spread
        # Motion is judged for the object's size, not its place: where walkers may go is the size
        # model's question, and tying speed to place flags every walker on a rarely used edge.
        return [z[:, [0, 1, 2, 3]], z[:, [3, 5, 6, 7]], z[:, [4, 8, *range(9, z.shape[1])]]]

    def _column_spread(self) -> np.ndarray:
        """What each column is divided by: its own spread, or with `isotropic` one spread for both axes
        of a place (in pixels), of a size and of a velocity, each a vector of one kind. Each axis by its
        own spread made the rarer axis count several times more: on Ped2, whose walkers cross sideways
        along a narrow band, one a little above the band, or walking a little up or down the frame, read
        as unusual. (The first eight columns are the raw layout's, so PLACE, SIZE, VX, VY name them.)"""
        spread = self.std.copy()
        if self.params.isotropic:
            for columns, pixels in ((PLACE, self.size[::-1]), (SIZE, (1, 1)), ([VX, VY], (1, 1))):
                px = np.float32(pixels)
                spread[columns] = np.sqrt(np.mean((self.std[columns] * px) ** 2)) / px
        return spread

    def _motion_when_cut(self, tree: cKDTree, raw: np.ndarray, cut: np.ndarray, dist: np.ndarray) -> np.ndarray:
        """`dist`, the motion distances of objects for their height in view, with an object cut by the
        frame's edge judged for the height that suits its motion best, from the part in view up to the
        tallest normal object near its place: how tall it is cannot be seen, and for the sliver in view a
        walker half in view at the bottom edge moves too fast. Motion only ever reads as more normal."""
        if not (self.params.cut_by_motion and self.params.cut_height and cut.any()):
            return dist
        rows = np.flatnonzero(cut)
        near = self._nearby(raw[rows])
        nearby = self.train[near][:, :, HEIGHT]
        dist = dist.copy()
        space = self._spaces(raw[rows])[MOTION_GROUP]
        for share in (50, 100):  # the median and the tallest of them
            heights = np.maximum(raw[rows, HEIGHT], np.percentile(nearby, share, axis=1))
            space[:, 0] = (heights - self.mean[HEIGHT]) / self.spread[HEIGHT]  # the motion space's height column
            judged, _ = _nearest(tree, space, self.params.k)
            dist[rows] = np.minimum(dist[rows], judged.mean(1))
        return dist

    def _judged(self, per_group: np.ndarray, raw: np.ndarray, cut: np.ndarray) -> np.ndarray:
        """Per-group scores, with what cannot be judged of objects cut by the frame's edge left out: a
        person half in view is neither their own size nor shape, and the edge is where everyone enters,
        so those judgements would flag arrivals wherever the normal footage saw few. Their appearance
        is left out; their size counts only where the part in view is already wider or taller than
        any normal object near that place (the whole is larger still: someone too close to the camera)."""
        if self.params.cut_by_motion and cut.any():
            per_group = per_group.copy()
            per_group[cut, APPEARANCE_GROUP] = 0.0
            cut = np.flatnonzero(cut)
            per_group[cut[~self._larger_than_seen(raw[cut])], SIZE_GROUP] = 0.0
        return per_group

    def _larger_than_seen(self, raw: np.ndarray) -> np.ndarray:
        """Whether each object is wider or taller than all the normal objects nearest its place."""
        near = self._nearby(raw)
        return (raw[:, SIZE] > self.train[near][:, :, SIZE].max(1)).any(1)

    def _nearby(self, raw: np.ndarray) -> np.ndarray:
        """Indices of the normal objects nearest each object's place, (m, NEARBY). Places as fractions of
        the frame: in pixels, self-validation scored the same (evals/results/bench_setting_pixel_places.md)."""
        return _nearest(self.places, raw[:, PLACE], min(NEARBY, len(self.train)))[1]

    def _index(self) -> None:
        """The k-d trees of the normal objects, and the column spreads their spaces and every query use."""
        self.spread = self._column_spread()
        spaces = self._spaces(self.train)
        spaces[APPEARANCE_GROUP] = spaces[APPEARANCE_GROUP][self.appearance_rows]
        self.models = [cKDTree(s) for s in spaces]
        self.places = cKDTree(self.train[:, PLACE])
        self.look_ranges = np.percentile(_looks(self.train), [1, 99], axis=0).T  # for the evidence's words

    # -- scoring ---------------------------------------------------------------------------------
    def score(self, part: ObjectSet, device: str = "cpu") -> TierScores:
        n = len(part.indices)
        scores, best = np.zeros(n), np.full(n, -1)
        evidence = Evidence(part.indices, np.zeros((n, 4), np.float32), np.zeros(n), np.zeros(n), np.zeros(n))
        if len(part.raw):
            per_group = self._judged(self._distances(part.raw, part.cut) / self.scale, part.raw, part.cut)
            per_object = per_group.max(1)
            for i in np.argsort(per_object):  # ascending: the frame keeps its most unusual object
                scores[part.frame[i]] = per_object[i]
                best[part.frame[i]] = i
            shown = best >= 0
            self._explain(part, per_group, best[shown], np.flatnonzero(shown), evidence)
        said = [shade.WORDS] if part.shaded else []
        return TierScores(part.indices, scores, evidence, "; ".join(said + [sway.WORDS] if part.windier else said))

    def _distances(self, raw: np.ndarray, cut: np.ndarray) -> np.ndarray:
        """Mean distance of each object to its k nearest normal objects in each space, (m, groups). The
        appearance of an object cut by the frame's edge is not looked up: `_judged` leaves it out, and
        the appearance space (10 dimensions) costs most of the look-ups' time."""
        spaces = self._spaces(raw)
        out = np.zeros((len(raw), len(GROUPS)))
        for g, (tree, space) in enumerate(zip(self.models, spaces)):
            rows = np.flatnonzero(~cut) if g == APPEARANCE_GROUP and self.params.cut_by_motion else np.arange(len(raw))
            if len(rows):
                out[rows, g] = _nearest(tree, space[rows], self.params.k)[0].mean(1)
        out[:, MOTION_GROUP] = self._motion_when_cut(self.models[MOTION_GROUP], raw, cut, out[:, MOTION_GROUP])
        return out

    def _explain(self, part: ObjectSet, per_group: np.ndarray, objects: np.ndarray, frames: np.ndarray,
                 evidence: Evidence) -> None:
        if not len(objects):
            return
        raw = part.raw[objects]
        near = self._nearby(raw)
        height, width = self.background.shape
        height, width = height * self.step, width * self.step
        for row, frame, nearby in zip(raw, frames, near):
            i = objects[np.flatnonzero(frames == frame)[0]]
            normal = self.train[nearby]
            fastest = float(normal[:, SPEED].max()) + 1e-6
            evidence.box[frame] = part.box[i]
            evidence.speed_px_s[frame] = row[SPEED]
            evidence.direction_deg[frame] = np.degrees(np.arctan2(row[VY], row[VX])) % 360
            evidence.vs_normal[frame] = row[SPEED] / fastest
            group = int(np.argmax(per_group[i]))
            if per_group[i, group] < 1.0:  # an object as the normal ones are: nothing to say
                continue
            gap = float(np.hypot(*(normal[0, PLACE] - row[PLACE]) * (width, height)))
            if group == SIZE_GROUP and gap > 0.1 * max(width, height):
                text = f"an object where the normal footage shows none (nearest normal object {gap:.0f} px away)"
            elif group == SIZE_GROUP:
                taller = np.exp(row[HEIGHT] - normal[:, HEIGHT].max())
                wider = np.exp(row[2] - normal[:, 2].max())
                ratio, what = max((taller, "taller"), (wider, "wider"))
                text = (f"an object {ratio:.1f}× {what} than anything seen there" if ratio > 1
                        else "an object of a size not seen there")
            elif group == MOTION_GROUP:
                heading = heading_in_words(evidence.direction_deg[frame])
                text = f"an object moving {heading}, {row[SPEED] / fastest:.1f}× the fastest normal object near there"
                typical = float(np.median(normal[:, SPEED]))
                if row[SPEED] < STILL * typical:  # not its speed nor its heading: that it hardly moves
                    text = (f"an object standing almost still where the normal objects near there move "
                            f"({row[SPEED] / typical:.2f}× their median speed)")
                elif row[SPEED] < fastest and not _goes_their_way(row, normal):  # its heading
                    text = (f"an object moving {heading}, which no normal object near there does "
                            f"({row[SPEED] / fastest:.1f}× the fastest of them)")
            else:
                text = _unlike_in_words(_looks(row[None])[0], self.look_ranges)
            evidence.note[frame] = f"{text} ({GROUPS[group]} {per_group[i, group]:.1f}× the normal 99th percentile)"

    def fit_notes(self) -> list[str]:
        return sway.fit_notes(self.sway_place, self.name, self.params.sway,
                              "finds no object there, so what is in front of it is seen by its motion")

    # -- artefacts -------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        return {"background": self.background, "train": self.train, "hist_mean": self.hist_mean,
                "hist_axes": self.hist_axes, "mean": self.mean, "std": self.std, "scale": self.scale,
                "appearance_rows": self.appearance_rows, "sway_zone": self.sway_place.zone.astype(np.uint8)}, \
            {"sway_speed": self.sway_place.speed}

    def restore(self, arrays: dict[str, np.ndarray], values: dict) -> None:
        for key in ("background", "train", "hist_mean", "hist_axes", "mean", "std", "scale"):
            setattr(self, key, arrays[key])
        self.appearance_rows = arrays.get("appearance_rows", np.arange(len(self.train)))
        zone = arrays.get("sway_zone", np.zeros(self.background.shape, np.uint8)).astype(bool)  # saved before 54: none
        self.sway_place = sway.Place(zone, float(values.get("sway_speed", 0.0)))
        if self.background.shape != self.size:
            raise ValueError(f"background of shape {self.background.shape} does not match the working size")
        if zone.shape != self.size:
            raise ValueError(f"sway_zone of shape {zone.shape} does not match the working size")
        rows = self.appearance_rows
        if rows.ndim != 1 or not len(rows) or rows.min() < 0 or rows.max() >= len(self.train):
            raise ValueError(f"appearance_rows do not index the {len(self.train)} normal objects")
        self._index()
