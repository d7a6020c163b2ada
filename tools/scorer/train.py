"""The short training loop of the tier-1 frame predictor, and batched inference with it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import torch

from vadagent.tools.scorer.net import FramePredictor, PredictorConfig, motion_weighted_loss

log = logging.getLogger(__name__)


def _windows(frames: np.ndarray, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, H, W) uint8 → contexts (n - context, context, H, W) and targets (n - context, 1, H, W)."""
    x = torch.from_numpy(frames).float().div_(255.0)
    ctx = torch.stack([x[i : len(x) - context + i] for i in range(context)], 1)
    return ctx, x[context:, None]


def train_predictor(
    clips: list[np.ndarray],
    config: PredictorConfig,
    *,
    epochs: int = 6,
    batch_size: int = 32,
    device: str = "cpu",
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
    budget_s: float | None = None,
) -> FramePredictor:
    """Fit on normal clips (each (n, H, W) uint8 at the network size); returns the model in eval mode.
    Stops early, after the step that spends it, when `budget_s` seconds have passed."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    pairs = [_windows(c, config.context) for c in clips if len(c) > config.context]
    if not pairs:
        raise ValueError("tier 1 needs clips longer than its context")
    contexts = torch.cat([p[0] for p in pairs])
    targets = torch.cat([p[1] for p in pairs])
    model = FramePredictor(config).to(device)
    steps = epochs * max(len(contexts) // batch_size, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    out_of_time = False
    for epoch in range(epochs):
        order = torch.randperm(len(contexts), generator=generator)
        total = 0.0
        for start in range(0, max(len(order) - batch_size + 1, 1), batch_size):
            idx = order[start : start + batch_size]
            ctx, target = contexts[idx].to(device), targets[idx].to(device)
            if torch.rand(1, generator=generator).item() < 0.5:  # mirror: walkers go both ways
                ctx, target = ctx.flip(-1), target.flip(-1)
            loss = motion_weighted_loss(model(ctx), target, ctx[:, -1:])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
            if budget_s is not None and time.perf_counter() - started > budget_s:
                out_of_time = True
                break
        log.info("tier 1 epoch %d/%d: loss %.4f", epoch + 1, epochs, total)
        if progress:
            progress(epoch + 1, total)
        if out_of_time:
            log.info("tier 1 training stopped in epoch %d: budget of %.0f s spent", epoch + 1, budget_s)
            break
    return model.eval()


@torch.no_grad()
def predictor_errors(model: FramePredictor, frames: np.ndarray, device: str = "cpu", batch: int = 256) -> np.ndarray:
    """Per-frame errors for one clip; the first `context` frames copy the first available value."""
    context = model.config.context
    if len(frames) <= context:
        return np.zeros(len(frames), np.float32)
    ctx, target = _windows(frames, context)
    errors = torch.cat([
        model.frame_errors(ctx[i : i + batch].to(device), target[i : i + batch].to(device)).cpu()
        for i in range(0, len(ctx), batch)
    ]).numpy()
    return np.concatenate([np.full(context, errors[0]), errors]).astype(np.float32)
