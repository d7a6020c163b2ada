"""Putting every tier's score in one unit before fusing: surprisal under the normal footage.

A tier's raw score s becomes -ln P(normal score >= s): read from the normal footage's own
(out-of-sample) scores up to their 95th percentile, and beyond it from an exponential tail fitted
to the exceedances (peaks over threshold: mean excess above the 95th percentile). Tiers differ in
spread and in how heavy their normal tails are; in these units a tier whose normal scores are
tight cannot outvote one whose normal scores are wide, and a weighted sum is Fisher's way of
combining independent evidence. Scores above the normal range keep growing linearly, so the
fused score still ranks two anomalies beyond anything normal.
"""

from __future__ import annotations

import numpy as np

TAIL_START = 0.95  # the empirical distribution below, the exponential tail above
LEVELS = 96  # stored quantiles from 0 to TAIL_START


def tail_calibration(normal: np.ndarray) -> dict:
    """What `surprisal` needs, JSON-able: the normal quantiles and the tail's mean excess."""
    normal = np.asarray(normal, np.float64)
    quantiles = np.percentile(normal, np.linspace(0, 100 * TAIL_START, LEVELS))
    excess = normal[normal > quantiles[-1]] - quantiles[-1]
    spread = float(normal.std()) or 1.0
    # a tail with no exceedances (ties at the top) gets the overall spread as its scale
    beta = float(excess.mean()) if len(excess) else spread
    return {"quantiles": quantiles.round(6).tolist(), "tail_scale": max(beta, 1e-6 * spread)}


def surprisal(raw: np.ndarray, calibration: dict) -> np.ndarray:
    """-ln P(normal score >= raw). Scorers saved before this calibration hold a mean and std
    instead: they keep their z-scores."""
    raw = np.asarray(raw, np.float64)
    if "quantiles" not in calibration:
        return (raw - calibration["mean"]) / calibration["std"]
    quantiles = np.asarray(calibration["quantiles"])
    top = quantiles[-1]
    below = -np.log1p(-np.interp(raw, quantiles, np.linspace(0, TAIL_START, len(quantiles))))
    return np.where(raw > top, -np.log1p(-TAIL_START) + (raw - top) / calibration["tail_scale"], below)
