"""Per-frame motion cell maps, computed from the shared frame pass.

For each frame t (against frame t-1) at the working size:
- `diff`: mean absolute frame difference per `diff_cell` × `diff_cell` cell;
- `speed`: mean optical-flow speed per `flow_cell` cell, px/frame;
- `flow`: mean flow vector per flow cell (for direction evidence);
- `level`: the frame's gray level as a whole (for its exposure).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vadagent.tools.scorer import exposure, sway
from vadagent.tools.scorer.frames import FLOW_STEP, ChunkMaker, working_size
from vadagent.tools.scorer.tiers.base import FrameChunk

__all__ = ["FeatureConfig", "FrameFeatures", "MotionFeatureExtractor", "cell_features", "working_size"]


@dataclass(frozen=True)
class FeatureConfig:
    width: int
    height: int
    diff_cell: int = 20
    flow_cell: int = 24

    @property
    def diff_grid(self) -> tuple[int, int]:
        return self.height // self.diff_cell, self.width // self.diff_cell

    @property
    def flow_grid(self) -> tuple[int, int]:
        return self.height // self.flow_cell, self.width // self.flow_cell


def cells(image: np.ndarray, cell: int) -> np.ndarray:
    """Mean over non-overlapping `cell` × `cell` blocks of an (H, W) or (H, W, C) float32 image.

    cv2.resize with INTER_AREA at an integer factor is exactly the block mean, and several times
    faster than a numpy reshape-mean over strided axes.
    """
    rows, cols = image.shape[0] // cell, image.shape[1] // cell
    cropped = image[: rows * cell, : cols * cell]
    return cv2.resize(cropped, (cols, rows), interpolation=cv2.INTER_AREA)


@dataclass
class FrameFeatures:
    """Features of a run of frames: arrays indexed like `indices`."""

    indices: np.ndarray  # (n,)
    diff: np.ndarray  # (n, rows, cols) float32
    speed: np.ndarray  # (n, rows, cols) float32
    flow: np.ndarray  # (n, rows, cols, 2) float32
    level: np.ndarray  # (n,) each frame's gray level as a whole (exposure.level)
    swayed: sway.Counted | None = None  # while fitting the motion tier: how the frames swayed (sway.py)
    windier: int = 0  # frames whose place that sways swayed faster than the footage's, read at its wind (sway.py)


def cell_features(chunk: FrameChunk, config: FeatureConfig) -> FrameFeatures:
    diff = [cells(d.astype(np.float32), config.diff_cell) for d in chunk.diff]
    if config.flow_cell % FLOW_STEP == 0:  # flow is at 1/FLOW_STEP of the working size: the same grid
        planes, cell = chunk.flow, config.flow_cell // FLOW_STEP
    else:
        planes = [cv2.resize(f, (config.width, config.height), interpolation=cv2.INTER_LINEAR) for f in chunk.flow]
        cell = config.flow_cell
    flow = [cells(f, cell) for f in planes]
    speed = [cells(cv2.magnitude(f[..., 0], f[..., 1]), cell) for f in planes]
    level = np.array([exposure.level(gray) for gray in chunk.gray], np.float32)
    return FrameFeatures(chunk.indices, np.stack(diff), np.stack(speed), np.stack(flow), level)


class MotionFeatureExtractor:
    """Cell maps straight from gray frames (for callers outside the scorer, e.g. rule sampling)."""

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        self._maker = ChunkMaker(config.width, config.height)

    def feed(self, indices: np.ndarray, frames: np.ndarray) -> FrameFeatures | None:
        chunk = self._maker.feed(indices, frames)
        return None if chunk is None else cell_features(chunk, self.config)

    def finish(self) -> FrameFeatures | None:
        chunk = self._maker.finish()
        return None if chunk is None else cell_features(chunk, self.config)

