"""Tier 1: a small frame-prediction network (pure `nn.Module`, no I/O; training is in train.py).

It predicts frame t from frames t-2 and t-1 on downscaled gray frames, as a residual on t-1;
dilated convolutions give it a receptive field wide enough for walking-pace motion. Trained with
a motion-weighted loss, its error is high where motion is unlike the normal footage.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class PredictorConfig:
    width: int = 96
    height: int = 64
    context: int = 2  # previous frames given
    channels: int = 16
    cell: int = 8  # error pooling cell, in network pixels

    def to_dict(self) -> dict:
        return asdict(self)


class FramePredictor(nn.Module):
    def __init__(self, config: PredictorConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.body = nn.Sequential(
            nn.Conv2d(config.context, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=2, dilation=2), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=4, dilation=4), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, 1, 3, padding=1),
        )

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        """(B, context, H, W) in [0, 1] → predicted next frame (B, 1, H, W)."""
        return context[:, -1:] + self.body(context)

    def frame_errors(self, context: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-frame anomaly evidence: the largest mean squared error over overlapping cells."""
        error = (self(context) - target) ** 2
        cell = self.config.cell
        return F.avg_pool2d(error, cell, stride=max(cell // 2, 1)).flatten(1).amax(1)


def motion_weighted_loss(prediction: torch.Tensor, target: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """Squared error weighted up where the frame changes, so static background does not dominate."""
    weight = 1.0 + 10.0 * (target - last).abs()
    return (weight * (prediction - target) ** 2).mean()
