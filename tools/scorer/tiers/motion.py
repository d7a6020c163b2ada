"""The `motion` tier (tier 0): motion statistics of normal footage, no gradient training.

Three per-frame cues, each the maximum over cells (an anomaly is local):
- frame-difference energy per 20 px cell, unnormalised (per-cell normalisation flags any walker
  crossing a cell that rarely sees motion: ../shared/SCORER-FACTS.md), in the normal footage's
  exposure (a video whose picture is brighter as a whole has its differences scaled back: `_CellReader`);
- flow speed per 24 px cell divided by (that cell's 99.9th percentile + the one expected at its
  row), so a cell's own statistics count only where they are well supported. The row's expectation
  is a straight line through the rows' moving cells (`perspective`, `row_p999`): on a ground plane
  seen from above, things nearer the camera (lower in the picture) look larger and move faster in
  pixels, so a walker in a lower row the normal footage seldom saw is not read as fast against the
  far walkers' speeds, nor a cyclist far away as slow against the near ones'.
- direction rarity: for cells that move, -log p(direction | cell) from a per-cell histogram of
  the normal footage (8 bins), smoothed towards the global histogram where a cell saw little.
All are z-scored on the training frames and summed; they make partly independent errors.
With `sway`, where the normal footage's picture swayed in place (leaves in the wind: sway.py), the flow of the cells
it covers is judged at the footage's wind while it sways faster: leaves in three times the wind otherwise move three
times as fast as any the footage showed there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vadagent.tools.scorer import exposure, sway
from vadagent.tools.scorer.features import FeatureConfig, FrameFeatures, cell_features, cells
from vadagent.tools.scorer.tiers.base import Evidence, FrameChunk, Reader, Tier, TierScores, median_picture, register

PERCENTILE = 99.9
DIRECTION_BINS = 8
MOVING = 0.5  # px/frame at working size: slower cells have no reliable direction
PRIOR_WEIGHT = 20.0  # pseudo-counts of the global direction histogram in each cell
MIN_ROWS = 2  # rows with moving cells needed to fit the speed expected at each row (else the global one)


def direction_bins(flow: np.ndarray) -> np.ndarray:
    angle = np.arctan2(flow[..., 1], flow[..., 0]) % (2 * np.pi)
    return np.minimum((angle / (2 * np.pi) * DIRECTION_BINS).astype(np.int64), DIRECTION_BINS - 1)


def fit_direction(speed: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Per-cell -log p(direction bin), (rows, cols, bins), from the moving cells of normal frames."""
    n, rows, cols = speed.shape
    moving = speed > MOVING
    bins = direction_bins(flow)
    counts = np.zeros((rows * cols, DIRECTION_BINS))
    cell = np.broadcast_to(np.arange(rows * cols).reshape(rows, cols), (n, rows, cols))
    np.add.at(counts, (cell[moving], bins[moving]), 1.0)
    prior = (counts.sum(0) + 1.0) / (counts.sum() + DIRECTION_BINS)
    p = (counts + PRIOR_WEIGHT * prior) / (counts.sum(1, keepdims=True) + PRIOR_WEIGHT)
    return (-np.log(p)).reshape(rows, cols, DIRECTION_BINS).astype(np.float32)


def row_p999(speed: np.ndarray) -> np.ndarray | None:
    """(rows,) the 99.9th-percentile speed expected at each row: a straight line through the 99.9th
    percentile of each row's moving cells (how fast things move there when they move, not how often
    they do: a row that people seldom cross would read as slow), weighted by how many moving cells
    the row saw, floored at MOVING. None where fewer than MIN_ROWS rows saw motion: no line to fit."""
    rows = speed.shape[1]
    observed, support = np.zeros(rows), np.zeros(rows)
    for row in range(rows):
        moving = speed[:, row][speed[:, row] > MOVING]
        support[row] = len(moving)
        observed[row] = np.percentile(moving, PERCENTILE) if len(moving) else 0.0
    if np.count_nonzero(support) < MIN_ROWS:
        return None
    centres = np.arange(rows) + 0.5
    line = np.polyfit(centres, observed, 1, w=np.sqrt(support))  # weighted least squares; unseen rows weigh 0
    return np.maximum(np.polyval(line, centres), MOVING).astype(np.float32)


@dataclass
class MotionStats:
    speed_cell_p999: np.ndarray  # (rows, cols) px/frame
    speed_global_p999: float
    direction_nll: np.ndarray  # (rows, cols, bins)
    diff_mean: float = 0.0
    diff_std: float = 1.0
    flow_mean: float = 0.0
    flow_std: float = 1.0
    direction_mean: float = 0.0
    direction_std: float = 1.0
    speed_row_p999: np.ndarray | None = None  # (rows,) px/frame; None: the global one at every row
    level: float = 0.0  # the normal frames' median gray level (0: saved before it was kept, nothing matched)

    @classmethod
    def fit(cls, diff: np.ndarray, speed: np.ndarray, flow: np.ndarray, level: np.ndarray,
            perspective: bool = True) -> MotionStats:
        """Cell maps of all normal training frames: `diff` (n, r, c), `speed` (n, r2, c2), `flow` (n, r2, c2, 2),
        and their gray levels, `level` (n,)."""
        cell = np.percentile(speed, PERCENTILE, axis=0).astype(np.float32)
        glob = float(np.percentile(speed, PERCENTILE))
        stats = cls(cell, glob, fit_direction(speed, flow), speed_row_p999=row_p999(speed) if perspective else None,
                    level=float(np.median(level)))
        d, f, r = stats.cues(diff, speed, flow)
        stats.diff_mean, stats.diff_std = float(d.mean()), float(d.std() or 1.0)
        stats.flow_mean, stats.flow_std = float(f.mean()), float(f.std() or 1.0)
        # The direction cue is a hinge above its normal range: walkers that cross a footpath in any
        # common direction then add nothing, and only directions rarer than normal footage shows count.
        stats.direction_mean, stats.direction_std = float(np.percentile(r, 99)), float(r.std() or 1.0)
        return stats

    def speed_ratio(self, speed: np.ndarray) -> np.ndarray:
        expected = self.speed_global_p999 if self.speed_row_p999 is None else self.speed_row_p999[:, None]
        return speed / (self.speed_cell_p999 + expected + 1e-6)

    def direction_rarity(self, speed: np.ndarray, flow: np.ndarray) -> np.ndarray:
        """(n, rows, cols): -log p(direction) in moving cells, 0 elsewhere."""
        bins = direction_bins(flow)
        rows, cols = np.indices(speed.shape[1:])
        nll = self.direction_nll[rows[None], cols[None], bins]
        return np.where(speed > MOVING, nll, 0.0)

    def cues(self, diff: np.ndarray, speed: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, ...]:
        n = len(diff)
        return (diff.reshape(n, -1).max(1), self.speed_ratio(speed).reshape(n, -1).max(1),
                self.direction_rarity(speed, flow).reshape(n, -1).max(1))

    def score(self, features: FrameFeatures, direction_weight: float = 1.0) -> np.ndarray:
        """Fused tier-0 score per frame (sum of the z-scored cues)."""
        d, f, r = self.cues(features.diff, features.speed, features.flow)
        fused = (d - self.diff_mean) / self.diff_std + (f - self.flow_mean) / self.flow_std
        return fused + direction_weight * np.maximum(r - self.direction_mean, 0.0) / self.direction_std

    def arrays(self) -> dict[str, np.ndarray]:
        rows = {} if self.speed_row_p999 is None else {"speed_row_p999": self.speed_row_p999}
        return {"speed_cell_p999": self.speed_cell_p999, "direction_nll": self.direction_nll, **rows}

    def scalars(self) -> dict[str, float]:
        return {"speed_global_p999": self.speed_global_p999, "diff_mean": self.diff_mean, "diff_std": self.diff_std,
                "flow_mean": self.flow_mean, "flow_std": self.flow_std, "direction_mean": self.direction_mean,
                "direction_std": self.direction_std, "level": self.level}

    @classmethod
    def restore(cls, arrays: dict[str, np.ndarray], scalars: dict[str, float]) -> MotionStats:
        return cls(speed_cell_p999=arrays["speed_cell_p999"], direction_nll=arrays["direction_nll"],
                   speed_row_p999=arrays.get("speed_row_p999"), **scalars)


def evidence(features: FrameFeatures, stats: MotionStats, cell: int) -> Evidence:
    """The fastest cell for its place, in working pixels and px/frame (the scorer converts)."""
    n, rows, cols = features.speed.shape
    flat = stats.speed_ratio(features.speed).reshape(n, -1).argmax(1)
    r, c = np.divmod(flat, cols)
    box = np.stack([c * cell, r * cell, (c + 1) * cell, (r + 1) * cell], 1)
    vec = features.flow[np.arange(n), r, c]
    speed = features.speed[np.arange(n), r, c]
    return Evidence(
        frame=features.indices, box=box, speed_px_s=speed,
        direction_deg=np.degrees(np.arctan2(vec[:, 1], vec[:, 0])) % 360,
        vs_normal=speed / (stats.speed_cell_p999[r, c] + 1e-6),
    )


class _Wind:
    """What sways in place in a video's picture (sway.py), read at the working size divided by `step`: while fitting
    (no place yet), where it sways with nothing in front of the footage's median picture (`median_picture`); once fitted,
    how many times as fast as in the footage its place sways, by which the flow of the cells it covers (`covered`)
    is divided while that is sway.WINDIER or more. Frame differences are left as they are: leaves in three times the
    footage's wind differed little more from frame to frame (evals/HISTORY.md, release 55)."""

    def __init__(self, step: int, place: sway.Place | None, median_picture: np.ndarray | None,
                 covered: np.ndarray | None = None) -> None:
        self.step, self.median_picture, self.covered = step, median_picture, covered
        self.shape = median_picture.shape if place is None else place.zone.shape
        self.motion = sway.Motion(self.shape) if place is None else None
        self.place, self.gusts = place, None  # read from the first chunk's flow, whose size it needs

    def feed(self, chunk: FrameChunk, features: FrameFeatures) -> None:
        height, width = self.shape
        counted = sway.Counted.empty(self.shape) if self.motion is not None else None
        if self.place is not None and self.gusts is None:
            self.gusts = sway.Gusts(self.place, chunk.flow.shape[1:3], 1.0 / self.step)
        for position, flow in enumerate(chunk.flow):
            if self.motion is not None:
                flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR) / self.step
                gray, change = (cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
                                for image in (chunk.gray[position], chunk.diff[position]))
                delta = gray.astype(np.float32) - self.median_picture
                in_front = (np.abs(delta - exposure.median(delta[::4, ::4])) > sway.IN_FRONT).astype(np.uint8)
                # opened as the objects tier's foreground is: a leaf's edge a few pixels off the median is not in front
                in_front = cv2.morphologyEx(in_front, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
                self.motion.count(self.motion.sways(flow), change, in_front, counted)
            elif (wind := self.gusts.feed(flow)) > sway.WINDIER:
                features.speed[position][self.covered] /= wind
                features.flow[position][self.covered] /= wind
                features.windier += 1
        features.swayed = counted


class _CellReader(Reader):
    """A video's cell maps, its frame differences in the normal footage's exposure: a picture twice as bright
    differs twice as much from frame to frame, and would read as motion everywhere (flow and direction do not
    scale with it). The gain is the video's first frame's level over the normal footage's (`exposure`), then each
    chunk's median level's where it moved by at most exposure.DRIFT from the last one followed (the hour, not an event)."""

    def __init__(self, config: FeatureConfig, normal_level: float = 0.0, wind: _Wind | None = None) -> None:
        self.config = config
        self.wind = wind
        self.normal_level = normal_level  # 0 while fitting: nothing to match against
        self.gain: float | None = None  # decided at the first frame, then followed in small steps
        self._followed = 1.0  # the level's ratio to the footage's that the gain follows

    def feed(self, chunk: FrameChunk) -> FrameFeatures:
        features = cell_features(chunk, self.config)
        if len(features.level) and self.normal_level > 0:
            ratio = float(np.median(features.level)) / self.normal_level  # a chunk's: someone passing moves it little
            if self.gain is None:  # the video's first frame, as the objects tier matches it
                first = float(features.level[0]) / self.normal_level
                self.gain, self._followed = (first if exposure.matched(first) else 1.0), ratio
            elif abs(ratio / self._followed - 1.0) <= exposure.DRIFT:
                self.gain, self._followed = (ratio if exposure.matched(ratio) else 1.0), ratio
        elif self.gain is None:
            self.gain = 1.0
        if self.gain and self.gain != 1.0:
            features.diff /= self.gain
        if self.wind is not None:
            self.wind.feed(chunk, features)
        return features


@register
class MotionTier(Tier):
    name = "motion"
    summary = "motion statistics per cell: frame difference, flow speed and direction rarity (no training)"
    saved_before = {"perspective": False}
    needs_background = True  # while fitting: what stands in front where the footage sways (sway.CLEAR)

    @dataclass
    class Params:
        diff_cell: int = 20
        flow_cell: int = 24
        direction_weight: float = 1.0
        perspective: bool = True  # the speed expected at each row fitted as a line (False: one for all rows)
        # where the footage's picture swayed in place (foliage), its cells' flow judged at the footage's wind while it
        # sways faster (sway.py); nowhere at a site without such a place
        sway: bool = True

    stats: MotionStats | None = None
    # the footage's median picture at the size sway is read at, while fitting (not a background model: what
    # self-validation cuts its pasted objects against is the objects tier's)
    median_picture: np.ndarray | None = None
    sway_place: sway.Place | None = None  # where the normal footage swayed in place (None: not fitted yet)

    @property
    def features(self) -> FeatureConfig:
        g, p = self.geometry, self.params
        return FeatureConfig(g.width, g.height, p.diff_cell, p.flow_cell)

    @property
    def step(self) -> int:
        """Integer downscale from the working size at which what sways is read (sway.SIDE)."""
        return self.geometry.step_to(sway.SIDE)

    @property
    def sway_size(self) -> tuple[int, int]:
        """(height, width) at which what sways is read."""
        return self.geometry.shrunk(self.step)

    def set_background(self, sample: np.ndarray) -> None:
        """The footage's median picture, against which what is in front of it is told while fitting (sway.CLEAR)."""
        self.median_picture = median_picture(sample, self.sway_size)

    def reader(self) -> Reader:
        place, wind = self.sway_place, None
        if place is None and self.median_picture is not None:  # fitting: its place is still to be found
            wind = _Wind(self.step, None, self.median_picture)
        elif place is not None and self.params.sway and place.zone.any():
            size = (self.geometry.width, self.geometry.height)
            zone = cv2.resize(place.zone.astype(np.float32), size, interpolation=cv2.INTER_NEAREST)
            wind = _Wind(self.step, place, None, cells(zone, self.params.flow_cell) > 0.5)
        return _CellReader(self.features, self.stats.level if self.stats is not None else 0.0, wind)

    def fit(self, clips: list[list[Any]], **_: Any) -> list[np.ndarray]:
        parts = [p for clip in clips for p in clip]
        counted = [p.swayed for p in parts if p.swayed is not None]
        if counted or self.sway_place is None:  # parts read once a place was found count nothing: it stays
            self.sway_place = sway.Place.found(counted, self.sway_size)
        self.stats = MotionStats.fit(*(np.concatenate([getattr(p, k) for p in parts])
                                       for k in ("diff", "speed", "flow", "level")),
                                     perspective=self.params.perspective)
        return [np.concatenate([self.stats.score(p, self.params.direction_weight) for p in clip]) if clip
                else np.zeros(0) for clip in clips]

    def score(self, part: FrameFeatures, device: str = "cpu") -> TierScores:
        assert self.stats is not None, "fit or restore the motion tier first"
        ev = evidence(part, self.stats, self.params.flow_cell)
        return TierScores(part.indices, self.stats.score(part, self.params.direction_weight), ev,
                          sway.MOTION_WORDS if part.windier else "")

    def fit_notes(self) -> list[str]:
        return sway.fit_notes(self.sway_place, self.name, self.params.sway,
                              "judges the motion there at this footage's wind, so only what moves faster is seen there")

    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        assert self.stats is not None and self.sway_place is not None
        return {**self.stats.arrays(), "sway_zone": self.sway_place.zone.astype(np.uint8)}, \
            {**self.stats.scalars(), "sway_speed": self.sway_place.speed}

    def restore(self, arrays: dict[str, np.ndarray], values: dict) -> None:
        values = dict(values)
        zone = arrays.get("sway_zone", np.zeros(self.sway_size, np.uint8)).astype(bool)  # saved before release 55: none
        self.sway_place = sway.Place(zone, float(values.pop("sway_speed", 0.0)))
        if zone.shape != self.sway_size:
            raise ValueError(f"sway_zone of shape {zone.shape} does not match the working size")
        self.stats = MotionStats.restore(arrays, values)
        if not self.params.perspective:  # saved before rows had their own expectation (or set off)
            self.stats.speed_row_p999 = None
        if self.stats.speed_cell_p999.shape != self.features.flow_grid:
            raise ValueError(f"cell statistics of shape {self.stats.speed_cell_p999.shape} do not match the settings")
        rows = self.stats.speed_row_p999
        if rows is not None and rows.shape != self.features.flow_grid[:1]:
            raise ValueError(f"row statistics of shape {rows.shape} do not match the {self.features.flow_grid[0]} rows")
