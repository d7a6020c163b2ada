"""The `predictor` tier (tier 1): a small frame-prediction network trained on the site's normal
footage (net.py, train.py). Its error is high where motion is unlike the normal footage. It
trains for a bounded time (`budget_s`) on the CPU and in minutes on a GPU.

The network's modules import torch, which takes seconds; they are imported when the tier is used,
not when it registers, so every command that does not use it (each `vadagent` start) is spared that."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from vadagent.tools.scorer.tiers.base import FrameChunk, Reader, Tier, TierScores, register

if TYPE_CHECKING:
    from vadagent.tools.scorer.net import PredictorConfig


@dataclass
class SmallFrames:
    """Frames at network size; the first `lead` of them are context carried over from before."""

    indices: np.ndarray  # frames scored (len(frames) - lead)
    frames: np.ndarray
    lead: int


class _SmallReader(Reader):
    def __init__(self, config: PredictorConfig) -> None:
        self.config, self._context = config, None

    def feed(self, chunk: FrameChunk) -> SmallFrames:
        size = (self.config.width, self.config.height)
        small = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in chunk.gray])
        lead = 0 if self._context is None else len(self._context)
        frames = small if self._context is None else np.concatenate([self._context, small])
        self._context = frames[-self.config.context:]
        return SmallFrames(chunk.indices, frames, lead)


@register
class PredictorTier(Tier):
    name = "predictor"
    summary = "learned: a small network predicts each frame from the two before it (trained on the site)"
    learned = True
    needs_flow = False

    @dataclass
    class Params:
        width: int = 96
        height: int = 64
        channels: int = 16
        epochs: int = 6
        budget_s: float = 300.0  # training stops when the budget is spent, whatever the epoch

    model = None

    @property
    def config(self) -> PredictorConfig:
        from vadagent.tools.scorer.net import PredictorConfig

        p = self.params
        return PredictorConfig(width=p.width, height=p.height, channels=p.channels)

    def reader(self) -> Reader:
        return _SmallReader(self.config)

    def fit(self, clips: list[list[Any]], *, budget_s: float | None = None, device: str = "cpu",
            progress=None) -> list[np.ndarray]:
        from vadagent.tools.scorer.train import predictor_errors, train_predictor

        frames = [np.concatenate([p.frames[p.lead:] for p in clip]) for clip in clips if clip]
        report = (lambda epoch, _loss: progress("training the predictor tier", epoch, self.params.epochs)) \
            if progress else None
        self.model = train_predictor(frames, self.config, epochs=self.params.epochs, device=device, progress=report,
                                     budget_s=budget_s or self.params.budget_s)
        # Frame prediction generalises rather than memorises at this size: in-sample errors calibrate.
        return [predictor_errors(self.model, f, device) for f in frames]

    def score(self, part: SmallFrames, device: str = "cpu") -> TierScores:
        from vadagent.tools.scorer.train import predictor_errors

        errors = predictor_errors(self.model, part.frames, device)
        return TierScores(part.indices, errors[part.lead:])

    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        return {k: v.detach().cpu().numpy() for k, v in self.model.state_dict().items()}, {}

    def restore(self, arrays: dict[str, np.ndarray], values: dict) -> None:
        import torch

        from vadagent.tools.scorer.net import FramePredictor

        model = FramePredictor(self.config)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()}, strict=True)
        self.model = model.eval()

    def to(self, device: str) -> PredictorTier:
        if self.model is not None:
            self.model.to(device)
        return self
