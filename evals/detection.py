"""Frame-level detection metrics, one implementation for every benchmark.

Micro AUC pools all frames of all videos; macro AUC averages per-video AUC over the videos that
hold both classes (no padding frames, no per-video normalisation). Smoothing, when asked for, is
a Gaussian per video whose sigma is reported with the figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d
from sklearn.metrics import average_precision_score, roc_auc_score

from vadagent.tools.scorer.selection import PIXEL_CRITERION
from vadagent.types import Candidate


def smooth(scores: np.ndarray, sigma: float) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    return gaussian_filter1d(scores, sigma, mode="nearest") if sigma > 0 else scores


def micro_auc(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray], sigma: float = 0.0) -> float:
    _check(labels, scores)
    return float(roc_auc_score(np.concatenate(labels), np.concatenate([smooth(s, sigma) for s in scores])))


def macro_auc(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray], sigma: float = 0.0) -> float:
    _check(labels, scores)
    per_video = [roc_auc_score(y, smooth(s, sigma)) for y, s in zip(labels, scores) if 0 < np.sum(y) < len(y)]
    if not per_video:
        raise ValueError("macro AUC needs at least one video with both normal and anomalous frames")
    return float(np.mean(per_video))


def micro_auc_min_max(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray]) -> float:
    """Micro AUC after each video's scores are min-max normalised over the whole video, as FFP's and MNAD's
    evaluations do: for comparison with their figures only, as a live camera has no whole video to normalise
    over (the product's own figures never are). A video whose scores are all equal scores 0 throughout."""
    def scaled(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, np.float64)
        span = values.max() - values.min()
        return (values - values.min()) / span if span > 0 else np.zeros_like(values)

    return micro_auc(labels, [scaled(s) for s in scores])


def average_precision(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray], sigma: float = 0.0) -> float:
    _check(labels, scores)
    return float(average_precision_score(np.concatenate(labels), np.concatenate([smooth(s, sigma) for s in scores])))


def micro_headroom(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray]) -> list[dict[str, float | None]]:
    """Per video, what the pooled (micro) AUC would gain if that video alone were scored perfectly:
    its anomalous frames above every frame (`anomalous`), or its normal frames below every frame
    (`normal`); None where it has no frames of that class. Where a scorer loses, clip by clip."""
    _check(labels, scores)
    y = np.concatenate(labels)
    pooled = np.concatenate([np.asarray(s, np.float64) for s in scores])
    base = roc_auc_score(y, pooled)
    top, bottom = pooled.max() + 1.0, pooled.min() - 1.0
    out, start = [], 0
    for video in labels:
        own = slice(start, start + len(video))
        gains: dict[str, float | None] = {}
        for name, cls, value in (("anomalous", 1, top), ("normal", 0, bottom)):
            if not np.any(np.asarray(video) == cls):
                gains[name] = None
                continue
            changed = pooled.copy()
            changed[own] = np.where(np.asarray(video) == cls, value, pooled[own])
            gains[name] = max(0.0, float(roc_auc_score(y, changed) - base))  # never a loss; below 0 is rounding
        out.append(gains)
        start += len(video)
    return out


def box_coverage(masks: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Per frame, the fraction of its anomalous pixels (`masks`: frames × height × width) inside its box
    (x0, y0, x1, y1, exclusive ends, in the masks' pixels); NaN where the frame's mask is empty."""
    if len(masks) != len(boxes):
        raise ValueError(f"{len(masks)} masks but {len(boxes)} boxes")
    height, width = masks.shape[1:]
    out = np.full(len(masks), np.nan)
    for i, (mask, box) in enumerate(zip(masks, np.asarray(boxes, np.int64))):
        total = np.count_nonzero(mask)
        if total:
            x0, x1 = np.clip(box[[0, 2]], 0, width)
            y0, y1 = np.clip(box[[1, 3]], 0, height)
            out[i] = np.count_nonzero(mask[y0:y1, x0:x1]) / total
    return out


def pixel_auc(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray], coverage: Sequence[np.ndarray],
              min_coverage: float = PIXEL_CRITERION) -> float:
    """Frame AUC under the pixel-level criterion of Mahadevan et al. (CVPR 2010): an anomalous frame is
    detected only where the detected region covers at least `min_coverage` of its anomalous pixels (else
    it ranks below every frame, so it is never a true positive); a normal frame above the threshold is a
    false positive, as at frame level. It can only be at most the micro AUC."""
    _check(labels, scores)
    y = np.concatenate(labels).astype(bool)
    pooled = np.concatenate([np.asarray(s, np.float64) for s in scores])
    covered = np.nan_to_num(np.concatenate(coverage), nan=0.0) >= min_coverage
    return float(roc_auc_score(y, np.where(y & ~covered, pooled.min() - 1.0, pooled)))


def events(labels: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of anomalous frames, as inclusive (first, last) frame pairs."""
    padded = np.concatenate([[0], np.asarray(labels, dtype=np.int8) > 0, [0]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def kept_mask(candidates: Sequence[Candidate], frames: int) -> np.ndarray:
    mask = np.zeros(frames, dtype=bool)
    for c in candidates:
        mask[c.start_frame : c.end_frame + 1] = True
    return mask


def event_recall(labels: Sequence[np.ndarray], kept: Sequence[np.ndarray]) -> tuple[int, int]:
    """(recalled, total): an event is recalled when at least one of its frames is kept."""
    recalled = total = 0
    for y, mask in zip(labels, kept):
        for first, last in events(y):
            total += 1
            recalled += bool(np.any(mask[first : last + 1]))
    return recalled, total


def _check(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray]) -> None:
    if len(labels) != len(scores):
        raise ValueError(f"{len(labels)} label arrays but {len(scores)} score arrays")
    for i, (y, s) in enumerate(zip(labels, scores)):
        if len(y) != len(s):
            raise ValueError(f"video {i}: {len(y)} labels but {len(s)} scores")
