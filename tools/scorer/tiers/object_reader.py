"""Foreground objects: what the `objects` tier (objects.py) reads a video's frames into.

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
over a 4 × 2 grid of the crop; the tier reduces them by PCA learned on the site's own objects). Objects are
followed from frame to frame (each continues the previous frame's object whose centre, moved on by
its velocity, lands nearest) and their size and motion averaged along the track, so one frame's
split blob or noisy flow counts for half, and an object that turns back abruptly shows as motion
unlike its speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from vadagent.tools.scorer import exposure, shade, sway
from vadagent.tools.scorer.frames import FLOW_STEP
from vadagent.tools.scorer.tiers.base import FrameChunk, Reader

if TYPE_CHECKING:
    from vadagent.tools.scorer.tiers.objects import ObjectTier

HIST_CELLS = (4, 2)  # rows × cols of the appearance grid over a crop
BINS = 8
PLACE = slice(0, 2)  # column layout of the raw object vector
SIZE = slice(2, 4)
HEIGHT = SIZE.stop - 1  # log height, the size column motion is judged for
FILL, VX, VY, SPEED = 4, 5, 6, 7
HIST = slice(8, 8 + HIST_CELLS[0] * HIST_CELLS[1] * BINS)

SETTLE_FRAMES = 50  # after the camera last moved, frames are registered on the background this long
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


class ObjectReader(Reader):
    """Reads frames into the objects of each (`ObjectSet`), keeping the background, the tracks and what sways
    from one chunk to the next: one per video, made by `ObjectTier.reader`."""

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
