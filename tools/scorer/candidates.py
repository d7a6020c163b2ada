"""Candidates: segments around score peaks, within a VLM-call budget and a minimum gap."""

from __future__ import annotations

import math

import numpy as np

from vadagent.types import Candidate


def call_budget(frames: int, fps: float, calls_per_minute: float, min_calls: int = 1) -> int:
    return max(min_calls, math.floor(calls_per_minute * frames / fps / 60.0))


def pick_candidates(
    scores: np.ndarray,
    fps: float,
    *,
    calls_per_minute: float = 6.0,
    min_gap_s: float = 2.0,
    min_calls: int = 1,
    threshold: float | None = None,
    max_fraction: float | None = None,
    max_segment_s: float = 6.0,
) -> list[Candidate]:
    """Greedy peak picking, highest first.

    A segment extends from its peak while the score stays above the threshold (or, without one,
    above halfway between the peak and the video's median), capped at `max_segment_s`. Peaks
    closer than `min_gap_s` to a chosen segment are skipped. `max_fraction` caps the share of
    frames inside segments (the evaluation's per-video budget). When fewer than `min_calls` peaks
    reach the threshold, the highest peaks below it are taken too, marked `below_threshold`, so a
    threshold fitted on little footage never hides a whole video from the VLM.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n = len(scores)
    if n == 0:
        return []
    budget = call_budget(n, fps, calls_per_minute, min_calls)
    frames_left = n if max_fraction is None else max(1, int(max_fraction * n))
    gap, cap = int(round(min_gap_s * fps)), max(1, int(round(max_segment_s * fps)))
    median = float(np.median(scores))
    taken = np.zeros(n, dtype=bool)
    chosen: list[tuple[int, int, int, bool]] = []
    for peak in np.argsort(-scores, kind="stable"):
        if len(chosen) >= budget or frames_left <= 0:
            break
        if threshold is not None and scores[peak] < threshold and (len(chosen) >= min_calls or scores[peak] <= median):
            break  # below threshold: only to meet min_calls, and only where something stands out
        lo, hi = max(0, peak - gap), min(n, peak + gap + 1)
        if taken[lo:hi].any():
            continue
        below = threshold is not None and scores[peak] < threshold
        level = median + 0.5 * (scores[peak] - median) if threshold is None or below else threshold
        start, end = _extent(scores, int(peak), level, min(cap, frames_left), taken)
        taken[start : end + 1] = True
        frames_left -= end - start + 1
        chosen.append((start, int(peak), end, below))
    return [
        Candidate(start_s=s / fps, end_s=(e + 1) / fps, peak_s=p / fps, peak_score=round(float(scores[p]), 4),
                  start_frame=s, end_frame=e, below_threshold=b)
        for s, p, e, b in sorted(chosen)
    ]


def _extent(scores: np.ndarray, peak: int, level: float, cap: int, taken: np.ndarray) -> tuple[int, int]:
    """Grow [start, end] around `peak` while above `level`, free and within `cap` frames."""
    start = end = peak
    while end - start + 1 < cap:
        left = start > 0 and not taken[start - 1] and scores[start - 1] >= level
        right = end < len(scores) - 1 and not taken[end + 1] and scores[end + 1] >= level
        if not (left or right):
            break
        if left and (not right or scores[start - 1] >= scores[end + 1]):
            start -= 1
        else:
            end += 1
    return start, end
