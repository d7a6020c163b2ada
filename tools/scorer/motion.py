"""Tier 0: motion statistics of normal footage, no gradient training.

Two per-frame cues, each the maximum over cells (an anomaly is local):
- frame-difference energy per 20 px cell, unnormalised (per-cell normalisation flags any walker
  crossing a cell that rarely sees motion: ../shared/SCORER-FACTS.md);
- flow speed per 24 px cell divided by (that cell's 99.9th percentile + the global one), so a
  cell's own statistics count only where they are well supported.
Both are z-scored on the training frames and summed; they make partly independent errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vadagent.tools.scorer.features import FrameFeatures

PERCENTILE = 99.9


@dataclass
class MotionStats:
    speed_cell_p999: np.ndarray  # (rows, cols) px/frame
    speed_global_p999: float
    diff_mean: float
    diff_std: float
    flow_mean: float
    flow_std: float

    @classmethod
    def fit(cls, diff: np.ndarray, speed: np.ndarray) -> MotionStats:
        """`diff` (n, r, c) and `speed` (n, r2, c2) cell maps of all normal training frames."""
        cell = np.percentile(speed, PERCENTILE, axis=0).astype(np.float32)
        glob = float(np.percentile(speed, PERCENTILE))
        stats = cls(cell, glob, 0.0, 1.0, 0.0, 1.0)
        d, f = stats.cues(diff, speed)
        stats.diff_mean, stats.diff_std = float(d.mean()), float(d.std() or 1.0)
        stats.flow_mean, stats.flow_std = float(f.mean()), float(f.std() or 1.0)
        return stats

    def speed_ratio(self, speed: np.ndarray) -> np.ndarray:
        return speed / (self.speed_cell_p999 + self.speed_global_p999 + 1e-6)

    def cues(self, diff: np.ndarray, speed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(diff)
        return diff.reshape(n, -1).max(1), self.speed_ratio(speed).reshape(n, -1).max(1)

    def score(self, features: FrameFeatures) -> np.ndarray:
        """Fused tier-0 score per frame (sum of the two z-scored cues)."""
        d, f = self.cues(features.diff, features.speed)
        return (d - self.diff_mean) / self.diff_std + (f - self.flow_mean) / self.flow_std

    def arrays(self) -> dict[str, np.ndarray]:
        return {"motion.speed_cell_p999": self.speed_cell_p999}

    def scalars(self) -> dict[str, float]:
        return {"speed_global_p999": self.speed_global_p999, "diff_mean": self.diff_mean, "diff_std": self.diff_std,
                "flow_mean": self.flow_mean, "flow_std": self.flow_std}

    @classmethod
    def restore(cls, arrays: dict[str, np.ndarray], scalars: dict[str, float]) -> MotionStats:
        return cls(speed_cell_p999=arrays["motion.speed_cell_p999"], **scalars)


@dataclass
class Evidence:
    """Why frames scored as they did: the most unusual flow cell of each frame."""

    frame: np.ndarray  # (n,)
    box: np.ndarray  # (n, 4) x0, y0, x1, y1 in source pixels
    speed_px_s: np.ndarray  # (n,) in source pixels per second
    direction_deg: np.ndarray  # (n,) 0 = rightwards, 90 = downwards (image coordinates)
    vs_normal: np.ndarray  # (n,) speed / that cell's 99.9th percentile on normal footage


def evidence(features: FrameFeatures, stats: MotionStats, cell: int, scale: float, fps: float) -> Evidence:
    n, rows, cols = features.speed.shape
    flat = stats.speed_ratio(features.speed).reshape(n, -1).argmax(1)
    r, c = np.divmod(flat, cols)
    box = np.stack([c * cell, r * cell, (c + 1) * cell, (r + 1) * cell], 1) / scale
    vec = features.flow[np.arange(n), r, c]
    speed = features.speed[np.arange(n), r, c]
    return Evidence(
        frame=features.indices, box=box.round().astype(np.int32), speed_px_s=speed / scale * fps,
        direction_deg=np.degrees(np.arctan2(vec[:, 1], vec[:, 0])) % 360,
        vs_normal=speed / (stats.speed_cell_p999[r, c] + 1e-6),
    )
