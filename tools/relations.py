"""Classical object relations: foreground objects, tracks, speed, direction, standing still, size and proximity.

Objects are the connected regions where a frame stands out from the scene behind it: the per-pixel median of frames
spread over at least `BACKGROUND_S` around the stretch (so someone standing still for a few seconds stays in front of
it), each frame's overall brightness change taken off, thresholded and cleaned as the scorer's objects tier does
(tiers/object_reader.py). Tracks link them frame to frame, one to one (each track to the object nearest where its
velocity takes it, within its own size). Speeds and headings come from a track's path, the distance its centre
covers over `SPAN_S`, in seconds of the video's own clock (so a stretch recorded at half rate reads at its true
speed). Until release 70 the objects were blobs of optical flow (DIS), which smears motion over the neighbours and
reads a large step short: the sample's fast object, crossing at 162 px/s, was said at 49 px/s as a blob 273 px wide.
`evals/bench_relations.py` measures what is said against drawn figures and on UCSD Ped2; the settings below were
chosen on its first five rendered clips and on what is said of UCSD Ped2's training footage (normal footage, so
label-free), and checked on two clips rendered after they were fixed and on Ped2's test clips (evals/HISTORY.md,
release 71, says what was seen when).

The result is text triples with time spans ("object 3 (24×40 px, from the bottom left to the centre) moves leftwards
at 30 px/s, against the flow of the others", "object 4 (…) stands still for 4.0 s from 31.2 s", "objects 2 and 5
stay within 12 px of each other for 2.4 s") that the judge reads as measured facts. Places are named in words
(`place_in_picture`) as well as pixels.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from functools import cached_property
from itertools import combinations
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from vadagent.tools.scorer import exposure
from vadagent.tools.scorer.features import working_size
from vadagent.tools.scorer.tiers.base import median_picture
from vadagent.tools.scorer.tiers.objects import ObjectTier
from vadagent.tools.video import open_video
from vadagent.types import Relation, heading_in_words, place_in_picture

BACKGROUND_S = 20.0  # the scene behind a stretch: the median of frames over at least this long around it
BACKGROUND_FRAMES = 48  # at most this many frames in that median
KEPT_FRAMES = 400  # a stretch of at most this many frames is kept from the background's pass, not decoded again
# gray levels from the background: as the objects tier reads them, or less where the picture is cleaner (NOISE times its
# noise, the frames' robust spread about the background; at least LEAST), so a figure a little darker than the grass it
# crosses is one
FOREGROUND = ObjectTier.Params.fg_threshold
NOISE = 5.0
LEAST = 10.0
MIN_AREA = ObjectTier.Params.min_area  # of the frame
MAX_FOREGROUND = 0.4  # a frame this much unlike the background: the camera moved or the light changed, no objects
REACH = 0.6  # of an object's larger side: how far from where it was headed a track may find it next
RESIZED = float(np.log(3.0))  # a track's object is found at most 3 times larger or smaller than it last was
RESHAPED = float(np.log(1.5))  # a blob 1.5 times larger or smaller than the frame before: joined or parted
MISSED_S = 0.5  # a track not found this long (hidden, or merged with a passer-by) ends
SPAN_S = 0.4  # a track's velocity: how far its centre goes in this long (a blob's jitter from frame to frame averages out)
STILL = 0.15  # of its own height a second: slower than this an object stands still (a walker covers about one)
STILL_S = 2.0  # standing still this long is said
JITTER = 2.0  # px: how far a blob's centre may wander by itself over SPAN_S
SURE_S = 2 * SPAN_S  # a track followed this long is compared with the others (faster, slower, against their flow)
STEADY = 0.8  # and moving one way (`Track.steady`): a blob of a group whose members come and go wanders every way
FASTER = 2.0  # × the typical moving object's speed: said to be faster (twice as fast)
SLOWER = 2.5  # the typical moving object's speed over this: said to be slower (someone dawdling where others walk)
FLOW = 0.5  # the flow of the others: the way three in four of the moving go (their headings' mean, each as long as seen)
NEAR = 0.25  # of the smaller one's height: two objects closer than this are together (they touch, or nearly)
KERNEL = np.ones((3, 3), np.uint8)


@dataclass
class Track:
    """One object followed through a stretch, in working pixels and the video's seconds. What it measures is read once
    it is followed to its end (each is worked out once, then kept)."""

    id: int
    times: list[float] = field(default_factory=list)
    centres: list[tuple[float, float]] = field(default_factory=list)
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # x0, y0, x1, y1 (exclusive ends)

    @cached_property
    def size(self) -> tuple[float, float]:
        """Its median (width, height)."""
        box = np.asarray(self.boxes, np.float64)
        return float(np.median(box[:, 2] - box[:, 0])), float(np.median(box[:, 3] - box[:, 1]))

    @cached_property
    def path(self) -> tuple[np.ndarray, np.ndarray]:
        """(times, velocities in px/s): from each position, the way to where it is `SPAN_S` later (the whole track
        where it is seen for less), leaving out the ways over a blob that changed shape at once (joined with a
        passer-by or parted from one: its centre jumps) where others are left."""
        t, c = np.asarray(self.times), np.asarray(self.centres, np.float64)
        if t[-1] - t[0] < SPAN_S:
            return t[:1], ((c[-1] - c[0]) / max(t[-1] - t[0], 1e-9))[None]
        later = np.searchsorted(t, t + SPAN_S - 1e-9)
        start = np.flatnonzero(later < len(t))
        area = np.array([_area(box) for box in self.boxes])
        changed = np.concatenate([[0], np.cumsum(np.abs(np.diff(np.log(area))) > RESHAPED)])
        smooth = start[changed[later[start]] == changed[start]]
        start = smooth if len(smooth) else start
        return t[start], (c[later[start]] - c[start]) / (t[later[start]] - t[start])[:, None]

    def still(self) -> float:
        """The speed (px/s) below which it stands still."""
        return _still(self.size[1])

    @cached_property
    def speed(self) -> float:
        """Its median speed while it moves (px/s); 0 where it never does."""
        speeds = np.hypot(*self.path[1].T)
        moving = speeds[speeds >= self.still()]
        return float(np.median(moving)) if len(moving) else 0.0

    @cached_property
    def heading(self) -> float:
        """The direction it moves in while it moves (degrees, image axes: 0 rightwards, 90 downwards)."""
        velocities = self.path[1]
        moving = velocities[np.hypot(*velocities.T) >= self.still()]
        vx, vy = (moving if len(moving) else velocities).mean(axis=0)
        return float(np.degrees(np.arctan2(vy, vx)) % 360)

    @cached_property
    def steady(self) -> float:
        """How much its ways while it moves keep one direction: the mean of their unit vectors' length (1: one way)."""
        velocities = self.path[1]
        speeds = np.hypot(*velocities.T)
        moving = velocities[speeds >= self.still()] / speeds[speeds >= self.still()][:, None]
        return float(np.hypot(*moving.mean(axis=0))) if len(moving) else 0.0

    def standing(self) -> tuple[float, float] | None:
        """(from, seconds) of its longest stand of `STILL_S` or more; None if it stands no such while."""
        times, velocities = self.path
        if self.times[-1] - self.times[0] < STILL_S:
            return None
        still = np.hypot(*velocities.T) < self.still()
        best = None
        for run in np.split(np.arange(len(still)), np.flatnonzero(np.diff(still.astype(int))) + 1):
            if still[run[0]]:
                # a sample says where it is over the next SPAN_S: the stand lasts to the last one's end
                start, stop = times[run[0]], min(times[run[-1]] + SPAN_S, self.times[-1])
                best = max(best or (0.0, 0.0), (stop - start, start))
        return (best[1], best[0]) if best and best[0] >= STILL_S else None


@dataclass
class Tracked:
    """Tracks of objects in a stretch of video, in working pixels, with what places them there."""

    tracks: list[Track]
    fps: float
    scale: float  # working pixels per source pixel
    size: tuple[int, int]  # the working frame's (width, height)


@dataclass(frozen=True)
class _Scene:
    """What is behind a stretch's objects, and how far from it a pixel must be to be one's."""

    background: np.ndarray  # float32
    threshold: float

    @classmethod
    def of(cls, sample: list[np.ndarray], middle: np.ndarray) -> _Scene:
        """The scene of `sample`'s frames (spread over the stretch and about it) that show what `middle` (the
        stretch's middle frame) does: those of another shot of an edited video, or taken before the camera turned, are
        no background to it."""
        reference = middle.astype(np.float32)
        sample = [frame for frame in sample if _unlike(frame, reference, FOREGROUND) <= MAX_FOREGROUND] or [middle]
        background = median_picture(np.stack(sample), middle.shape)  # as the objects tier's background is made
        spreads = []
        for frame in sample:
            delta = frame[::4, ::4] - background[::4, ::4]
            spreads.append(1.4826 * np.median(np.abs(delta - np.median(delta))))  # the noise's sigma, robustly
        return cls(background, float(np.clip(NOISE * np.median(spreads), LEAST, FOREGROUND)))


def _unlike(frame: np.ndarray, background: np.ndarray, threshold: float) -> float:
    """The share of (sampled) pixels further than `threshold` from `background`, the overall brightness change off."""
    delta = frame[::4, ::4] - background[::4, ::4]
    return float(np.mean(np.abs(delta - exposure.median(delta)) > threshold))


def _objects(frame: np.ndarray, scene: _Scene) -> list[tuple[tuple[float, float], tuple[int, int, int, int]]]:
    """The frame's foreground objects: (centre, box) of each."""
    delta = frame.astype(np.float32) - scene.background
    delta -= exposure.median(delta[::4, ::4])  # the whole picture brighter or darker is no object
    mask = (np.abs(delta) > scene.threshold).astype(np.uint8)
    if mask.mean() > MAX_FOREGROUND:  # another shot, the camera moved, or the light changed: no objects to tell
        return []
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, KERNEL)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, KERNEL, iterations=2)
    count, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    smallest = max(MIN_AREA * mask.size, 9)
    return [((float(centroids[i][0]), float(centroids[i][1])), (x, y, x + w, y + h))
            for i in range(1, count) for x, y, w, h, area in [stats[i].tolist()]
            if smallest <= area <= MAX_FOREGROUND * mask.size]  # larger: a part of the picture changed, no object


def _background_span(start_s: float, end_s: float, duration_s: float) -> tuple[float, float]:
    """The stretch whose frames' median is the scene behind [start_s, end_s]: it, widened to `BACKGROUND_S`."""
    wide = max(BACKGROUND_S, end_s - start_s)
    first = max(0.0, min((start_s + end_s - wide) / 2, duration_s - wide))
    return first, min(first + wide, duration_s)


def track_objects(video_path: str | Path, start_s: float, end_s: float, *, folder_fps: float = 25.0,
                  max_side: int = 360) -> Tracked:
    """Tracks of the objects in [start_s, end_s]."""
    with open_video(video_path, folder_fps=folder_fps) as video:
        size = working_size(video.info.width, video.info.height, max_side)
        scale, fps = size[0] / video.info.width, video.info.fps
        first, last = _background_span(start_s, end_s, video.info.duration_s)
        every = max(1, round((last - first) * fps / BACKGROUND_FRAMES))
        sample, kept, read, middle = [], [], 0, (None, np.inf)
        for batch in video.scan(gray=True, start_s=first, end_s=last, chunk=32, size=size):
            for time_s, frame in zip(batch.times.tolist(), batch.frames):
                if read % every == 0:
                    sample.append(frame)
                if abs(time_s - (start_s + end_s) / 2) < middle[1]:
                    middle = (frame, abs(time_s - (start_s + end_s) / 2))
                if kept is not None and start_s <= time_s <= end_s:
                    if len(kept) < KEPT_FRAMES:
                        kept.append((time_s, frame))
                    else:
                        kept = None  # too many to hold: decoded again below
                read += 1
        if not sample:
            return Tracked([], fps, scale, size)
        scene = _Scene.of(sample, middle[0])
        frames = kept if kept is not None else (
            (time_s, frame) for batch in video.scan(gray=True, start_s=start_s, end_s=end_s, chunk=32, size=size)
            for time_s, frame in zip(batch.times.tolist(), batch.frames))
        tracks = _follow(frames, scene)
    return Tracked([t for t in tracks if len(t.times) >= 3], fps, scale, size)


def _follow(frames, scene: _Scene) -> list[Track]:
    """Every track of the objects in `frames` ((time, gray frame) in order)."""
    tracks: list[Track] = []
    active: list[Track] = []
    before = None
    for time_s, frame in frames:
        if time_s == before:  # a frame a regular clock shows again (video/regular.py): nothing moved
            continue
        before = time_s
        found = _objects(frame, scene)
        active = [t for t in active if time_s - t.times[-1] <= MISSED_S]
        taken = set()
        if active and found:
            headed = [_headed(track, time_s) for track in active]
            ahead = np.array([h.place for h in headed])  # (tracks, 2)
            velocity = np.array([h.velocity for h in headed])
            reach, still = (np.array([getattr(h, name) for h in headed])[:, None] for name in ("reach", "still"))
            centres = np.array([centre for centre, _ in found])  # (objects, 2)
            distance = np.hypot(*(centres[None] - ahead[:, None]).transpose(2, 0, 1))
            # near where it was headed, and of much its size: where a fast object overtakes a walker, their merged blob
            # is the larger one's, and each is its own again as they part
            grown = np.abs(np.log(np.array([_area(box) for _, box in found])[None]
                                  / np.array([_area(track.boxes[-1]) for track in active])[:, None]))
            # and not turned back at full speed from one frame to the next: an object turning back slows first, while
            # one leaving by the frame's edge where another comes in would seem to
            lately = np.array([[*track.centres[-1], time_s - track.times[-1]] for track in active])
            step = (centres[None] - lately[:, None, :2]) / lately[:, None, 2:]
            back = ((step * velocity[:, None]).sum(-1) < 0) & (np.hypot(*velocity.T)[:, None] >= still) \
                & (np.hypot(*step.transpose(2, 0, 1)) >= still)
            allowed = (distance <= reach) & (grown <= RESIZED) & ~back
            cost = np.where(allowed, distance / reach + grown, 1e9)
            for i, j in zip(*linear_sum_assignment(cost)):
                if allowed[i, j]:
                    centre, box = found[j]
                    active[i].times.append(time_s), active[i].centres.append(centre), active[i].boxes.append(box)
                    taken.add(j)
        for j, (centre, box) in enumerate(found):
            if j not in taken:
                track = Track(len(tracks) + 1, [time_s], [centre], [box])
                tracks.append(track)
                active.append(track)
    return tracks


def _still(height: float) -> float:
    """The speed (px/s) below which an object this tall stands still: `STILL` of its height a second, and no less than
    its blob's centre wanders by itself (`JITTER` over `SPAN_S`: a small blob's outline in a noisy picture)."""
    return max(STILL * height, JITTER / SPAN_S)


def _area(box: tuple[int, int, int, int]) -> float:
    return float((box[2] - box[0]) * (box[3] - box[1]))


class _Headed(NamedTuple):
    """Where a track's object would be next, at its latest velocity, and how far from there it may be found."""

    place: tuple[float, float]
    velocity: tuple[float, float]  # px/s over the last SPAN_S
    reach: float  # px
    still: float  # px/s: slower, it stands still


def _headed(track: Track, time_s: float) -> _Headed:
    t, c = track.times, track.centres
    back = min(bisect_left(t, t[-1] - SPAN_S), len(t) - 1)
    elapsed = t[-1] - t[back]
    vx, vy = ((c[-1][0] - c[back][0]) / elapsed, (c[-1][1] - c[back][1]) / elapsed) if elapsed > 0 else (0.0, 0.0)
    ahead = time_s - t[-1]
    x0, y0, x1, y1 = track.boxes[-1]
    return _Headed((c[-1][0] + vx * ahead, c[-1][1] + vy * ahead), (vx, vy), REACH * max(x1 - x0, y1 - y0) + 3.0,
                   _still(y1 - y0))


def _route(track: Track, size: tuple[int, int]) -> str:
    """Where a track was, in words: "in the centre", or "from the bottom left to the centre"."""
    first, last = (place_in_picture(*track.centres[i], *size) for i in (0, -1))
    return f"in the {first}" if first == last else f"from the {first} to the {last}"


def track_relations(tracked: Tracked, *, limit: int = 8) -> list[Relation]:
    """Speed, direction, standing, size, place and proximity relations between tracked objects."""
    tracks, scale = tracked.tracks, tracked.scale
    if not tracks:
        return []
    # what is compared (the typical speed, the flow, who is faster or against it): tracks followed long enough, and
    # going one way, for their velocity to be one (a blob split off a passing pair for a few frames moves every way)
    sure = [t for t in tracks if t.times[-1] - t.times[0] >= SURE_S and t.steady >= STEADY]
    moving = [t for t in sure if t.speed > 0]
    typical = float(np.median([t.speed for t in moving])) if moving else 0.0
    # the flow of the others: the way most of the moving go, each for as long as it is seen (an object followed in
    # two pieces counts once), where there is one
    headings = np.radians([t.heading for t in moving])
    seen = np.array([t.times[-1] - t.times[0] for t in moving]) + 1e-9
    flow = np.array([np.cos(headings) @ seen, np.sin(headings) @ seen]) / seen.sum() if moving else np.zeros(2)
    dominant = np.degrees(np.arctan2(flow[1], flow[0])) % 360 if len(moving) > 2 and np.hypot(*flow) > FLOW else None
    ranked, compared = [], {t.id for t in moving}
    for track in tracks:
        w, h = track.size
        facts = []
        if track.speed > 0:
            facts.append(f"moves {heading_in_words(track.heading)} at {track.speed / scale:.0f} px/s")
        if track.id in compared:
            if len(moving) > 1 and track.speed >= FASTER * typical:
                facts.append(f"{track.speed / typical:.1f}× faster than the typical moving object")
            elif len(moving) > 1 and track.speed * SLOWER <= typical:
                facts.append(f"{typical / track.speed:.1f}× slower than the typical moving object")
            if dominant is not None and abs((track.heading - dominant + 180) % 360 - 180) > 120:
                facts.append("against the flow of the others")
        # said first: how it compares with the others, then a stop on its way (a loiterer's), then the longest seen
        unusual = 2 if len(facts) > 1 else 0
        stand = track.standing()
        if stand is not None:
            facts.append(f"stands still for {stand[1]:.1f} s from {stand[0]:.1f} s")
            unusual = max(unusual, 1 if track.speed > 0 else 0)
        elif not facts:
            facts.append("stands still")
        relation = Relation(subject=f"object {track.id} ({w / scale:.0f}×{h / scale:.0f} px, {_route(track, tracked.size)})",
                            predicate=", ".join(facts), start_s=track.times[0], end_s=track.times[-1],
                            evidence=f"track of {len(track.times)} frames")
        ranked.append((unusual, track.times[-1] - track.times[0], relation))
    ranked.sort(key=lambda item: (item[0], item[1]), reverse=True)
    relations = [r for *_, r in ranked[: max(limit - 2, 1)]] + _proximity(tracks, scale)[:2]
    relations.sort(key=lambda r: r.start_s)
    return relations[:limit]


def _gap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Pixels between two boxes (0 where they touch or overlap)."""
    return float(np.hypot(max(0, a[0] - b[2], b[0] - a[2]), max(0, a[1] - b[3], b[1] - a[3])))


def _proximity(tracks: list[Track], scale: float) -> list[Relation]:
    """Pairs of objects that come within `NEAR` of the smaller one's height of each other, those that stay so longest
    first (two people together for seconds before passers-by who brush past)."""
    out, heights = [], {t.id: t.size[1] for t in tracks}
    for a, b in combinations(tracks, 2):
        if a.times[-1] < b.times[0] or b.times[-1] < a.times[0]:
            continue
        at = dict(zip(a.times, a.boxes))
        gaps = [(_gap(at[t], box), t) for t, box in zip(b.times, b.boxes) if t in at]
        reach = NEAR * min(heights[a.id], heights[b.id])
        close = [t for gap, t in gaps if gap <= reach]
        if not close:
            continue
        gap, when = min(gaps)
        lasted = close[-1] - close[0]
        if lasted >= STILL_S:
            relation = Relation(subject=f"objects {a.id} and {b.id}",
                                predicate=f"stay within {reach / scale:.0f} px of each other for {lasted:.1f} s",
                                object=f"from {close[0]:.1f} s", start_s=close[0], end_s=close[-1], evidence="track boxes")
        else:
            relation = Relation(subject=f"objects {a.id} and {b.id}",
                                predicate="touch" if gap < 1 else f"come within {gap / scale:.0f} px",
                                object=f"at {when:.1f} s", start_s=when, end_s=when, evidence="track boxes")
        out.append((lasted, relation))
    out.sort(key=lambda item: -item[0])
    return [r for _, r in out]
