"""The `objects` tier: what is where, how big, and how it moves.

A video's frames are read into foreground objects (object_reader.py: a background model of the site; each
blob's place, size, fill, motion and appearance, followed from frame to frame). Three k-nearest-neighbour density
models of the normal objects score each object: size for its place, motion for its size, and appearance (against a
random sample of the normal objects: `APPEARANCE_OBJECTS`, the crops' histograms reduced by PCA learned on the site's
own objects), on features standardised by the normal objects' spread (one spread for both axes of a place, a size
and a velocity, so that neither axis of one counts more than the other). Each is scaled so that 1.0 is the 99th
percentile of normal objects scored out of sample (other folds of the footage), an object scores its most unusual
aspect, and a frame its most unusual object. An object cut by the frame's edge is only partly in view: it is judged
by its motion, and by its size only where the part in view is already larger than the normal objects there.

A frame with no object scores 0, so a crowd that is normal at a site adds nothing however fast it
moves: only objects unlike the site's own normal objects count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy.spatial import cKDTree

from vadagent.tools.scorer import shade, sway
from vadagent.tools.scorer.tiers.base import (
    FOLDS,
    Evidence,
    Reader,
    Tier,
    TierScores,
    TierUnfit,
    fold_of,
    median_picture,
    register,
)
from vadagent.tools.scorer.tiers.object_reader import (
    BINS,
    FILL,
    HEIGHT,
    HIST,
    PLACE,
    SIZE,
    SPEED,
    VX,
    VY,
    ObjectReader,
    ObjectSet,
)
from vadagent.types import heading_in_words

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
NEARBY = 20  # normal objects nearest a place, for how large and fast things get there
STILL = 0.25  # of the median speed of those: an object this slow is said to stand still (its evidence note's words)


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


def _nearest(tree: cKDTree, points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices of the k nearest neighbours, (n, k) even for k = 1. SciPy's k-d tree:
    the object spaces have 4 to 10 dimensions, where it answers a chunk's queries several times
    faster than scikit-learn's wrapper around the same kind of tree. Threads only for fitting's large
    queries: `workers=-1` starts a thread per core on each call, which costs more than a scoring
    chunk's queries, the more so the more cores (live on 16 cores: 221 → 263 frames/s; on 2 cores
    269 → 282, measured in evals/results/bench_watch*.md)."""
    dist, index = tree.query(points, k=k, workers=-1 if len(points) >= PARALLEL_QUERIES else 1)
    return dist.reshape(len(points), k), index.reshape(len(points), k)


def _judged_against_too_few(fold: np.ndarray, k: int) -> bool:
    """Whether some fold's objects would have k or fewer objects of the other folds to be judged against (their k
    nearest would then be missing: infinitely far)."""
    return any((fold != f).sum() <= k for f in np.unique(fold))


def _folds_by_objects(frame_of: list[np.ndarray], folds: int = FOLDS) -> np.ndarray:
    """The fold of each object (each clip's in turn): runs of whole frames in time order, each holding about as many
    objects as the others. For footage whose objects crowd into one stretch of it (someone passing in a few of its
    seconds), where folds of equal length leave the others hardly any objects to be judged against."""
    frame = np.concatenate(frame_of)
    at = np.concatenate([i * (frame.max() + 1) + f for i, f in enumerate(frame_of)])  # clip by clip, frame by frame
    _, inverse, counts = np.unique(at, return_inverse=True, return_counts=True)
    before = np.cumsum(counts) - counts  # objects in the frames before each frame
    return (before[inverse.reshape(-1)] * folds) // len(frame)


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
        return ObjectReader(self)

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
        k = self.params.k
        fold = np.concatenate([f[fr] for f, fr in zip(fold_of(len(sets), lengths), frame_of)])
        if _judged_against_too_few(fold, k):
            fold = _folds_by_objects(frame_of)
            if _judged_against_too_few(fold, k):
                raise TierUnfit(f"the normal footage's {len(raw)} moving or foreground objects lie in too few frames "
                                "for each to be judged against the others")
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
