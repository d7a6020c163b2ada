"""Per-frame motion features, computed in one streaming pass over gray frames.

For each frame t (against frame t-1) at a fixed working size:
- `diff`: mean absolute frame difference per `diff_cell` × `diff_cell` cell;
- `speed`: mean optical-flow speed (OpenCV DIS, ultrafast preset) per `flow_cell` cell, px/frame;
- `flow`: mean flow vector per flow cell (for direction evidence).
Frame 0 has no predecessor and copies frame 1's features.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np


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


def working_size(width: int, height: int, max_side: int = 360) -> tuple[int, int]:
    """Downscale so the longer side is at most `max_side` (cells are sized in working pixels)."""
    scale = min(1.0, max_side / max(width, height))
    return max(int(round(width * scale)), 1), max(int(round(height * scale)), 1)


def _cells(image: np.ndarray, cell: int) -> np.ndarray:
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


class MotionFeatureExtractor:
    """Stateful: feed consecutive gray frames chunk by chunk; holds only the previous frame."""

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._previous: np.ndarray | None = None
        self._pending_first: int | None = None  # index of frame 0 waiting for frame 1's features

    def _resize(self, frame: np.ndarray) -> np.ndarray:
        size = (self.config.width, self.config.height)
        if (frame.shape[1], frame.shape[0]) == size:
            return frame
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)

    def feed(self, indices: np.ndarray, frames: np.ndarray) -> FrameFeatures | None:
        """Features for the frames given (the very first frame is emitted with the second)."""
        out_idx, diffs, speeds, flows = [], [], [], []
        for index, raw in zip(indices.tolist(), frames):
            frame = self._resize(raw)
            if self._previous is None:
                self._previous, self._pending_first = frame, index
                continue
            diff = _cells(cv2.absdiff(frame, self._previous).astype(np.float32), self.config.diff_cell)
            flow = self._dis.calc(self._previous, frame, None)
            cells = _cells(flow, self.config.flow_cell)
            speed = _cells(cv2.magnitude(flow[..., 0], flow[..., 1]), self.config.flow_cell)
            repeat = 2 if self._pending_first is not None else 1
            if self._pending_first is not None:
                out_idx.append(self._pending_first)
                self._pending_first = None
            out_idx.append(index)
            diffs += [diff] * repeat
            speeds += [speed] * repeat
            flows += [cells] * repeat
            self._previous = frame
        if not out_idx:
            return None
        return FrameFeatures(np.asarray(out_idx, dtype=np.int64), np.stack(diffs), np.stack(speeds), np.stack(flows))

    def finish(self) -> FrameFeatures | None:
        """A one-frame source: its only frame has no motion."""
        if self._pending_first is None or self._previous is None:
            return None
        rows_d, rows_f = self.config.diff_grid, self.config.flow_grid
        index, self._pending_first = self._pending_first, None
        return FrameFeatures(
            np.asarray([index]), np.zeros((1, *rows_d), np.float32), np.zeros((1, *rows_f), np.float32),
            np.zeros((1, *rows_f, 2), np.float32),
        )


def extract(batches: Iterable, config: FeatureConfig) -> Iterator[FrameFeatures]:
    """Features for every batch of a `VideoSource.scan(gray=True)`."""
    extractor = MotionFeatureExtractor(config)
    for batch in batches:
        features = extractor.feed(batch.indices, batch.frames)
        if features is not None:
            yield features
    last = extractor.finish()
    if last is not None:
        yield last
