"""Candidates: segments around score peaks, within a VLM-call budget, with a coverage floor.

One `CandidatePolicy` (built from the `candidates` settings) is what `score`, `explain`, `report`
and `eval detect` all pick with, so the figures the benchmark publishes are those of the product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vadagent.types import Candidate


@dataclass(frozen=True)
class CandidatePolicy:
    calls_per_minute: float = 6.0  # budget of VLM calls per minute of video
    min_gap_s: float = 2.0  # peaks closer than this to a chosen segment are skipped
    min_calls: int = 1  # per window: the floor met with below-threshold peaks where needed
    window_s: float = 30.0  # the stretch of video the floor applies to
    max_segment_s: float = 6.0  # a segment grows from its peak at most this long
    # Spend the call budget the threshold leaves unused on the highest peaks below it: "auto" does so
    # only for a video scored by a scorer fitted on that same video (its opening stands in for normal
    # footage, so its threshold says least), "always" / "never" as written.
    fill_budget: str = "auto"

    def __post_init__(self) -> None:
        if self.fill_budget not in ("auto", "always", "never"):
            raise ValueError(f"fill_budget must be auto, always or never, not {self.fill_budget!r}")

    def fills(self, fitted_on_the_video: bool) -> bool:
        return self.fill_budget == "always" or (self.fill_budget == "auto" and fitted_on_the_video)


def call_budget(frames: int, fps: float, calls_per_minute: float, min_calls: int = 1) -> int:
    return max(min_calls, math.floor(calls_per_minute * frames / fps / 60.0))


def pick_candidates(scores: np.ndarray, fps: float, policy: CandidatePolicy | None = None, *,
                    threshold: float | None = None, max_fraction: float | None = None,
                    ignore_before: int = 0, fill: bool = False) -> list[Candidate]:
    """Greedy peak picking, highest first, then a coverage floor per window.

    A segment extends from its peak while the score stays above the threshold (or, for a peak
    below it, above halfway between the peak and the video's median), capped at `max_segment_s`.
    Peaks closer than `min_gap_s` to a chosen segment are skipped. Above-threshold peaks are taken
    within the call budget; then every `window_s` stretch holding fewer than `min_calls` candidates
    gets its highest local peaks below the threshold, marked `below_threshold`, so a threshold
    fitted on little footage never hides a stretch of video from the VLM. A below-threshold peak
    must stand above the video's median (a flat stretch gets nothing). The budget holds in total:
    floor picks displace the lowest above-threshold picks of windows that have more than their floor.
    With `fill`, the budget left after that goes to the highest remaining local peaks below the
    threshold (also marked), for a threshold that was fitted on too little footage to trust.
    `max_fraction` caps the share of frames inside segments (the top-k evaluation), and frames
    before `ignore_before` (a black or fading-in opening) are never candidates.
    """
    policy = policy or CandidatePolicy()
    scores = np.asarray(scores, dtype=np.float64)
    n = len(scores)
    if n == 0:
        return []
    budget = call_budget(n, fps, policy.calls_per_minute, policy.min_calls)
    picker = _Picker(scores, fps, policy, max_fraction, ignore_before)
    for peak in np.argsort(-scores, kind="stable"):
        if len(picker.chosen) >= budget or picker.frames_left <= 0 or (threshold is not None and scores[peak] < threshold):
            break
        picker.take(int(peak), threshold)
    if threshold is not None and policy.min_calls > 0:
        window = max(1, int(round(policy.window_s * fps)))
        for start in range(0, n, window):
            picker.floor(start, min(n, start + window), window, budget, threshold)
    if threshold is not None and fill:
        picker.fill(budget, threshold)
    return [
        Candidate(start_s=s / fps, end_s=(e + 1) / fps, peak_s=p / fps, peak_score=round(float(scores[p]), 4),
                  start_frame=s, end_frame=e, below_threshold=b)
        for s, p, e, b in sorted(picker.chosen)
    ]


class _Picker:
    def __init__(self, scores: np.ndarray, fps: float, policy: CandidatePolicy, max_fraction: float | None,
                 ignore_before: int) -> None:
        self.scores, self.n = scores, len(scores)
        self.frames_left = self.n if max_fraction is None else max(1, int(max_fraction * self.n))
        self.gap = int(round(policy.min_gap_s * fps))
        self.cap = max(1, int(round(policy.max_segment_s * fps)))
        self.median = float(np.median(scores[ignore_before:] if ignore_before < self.n else scores))
        self.min_calls = policy.min_calls
        self.taken = np.zeros(self.n, dtype=bool)
        self.taken[: max(0, ignore_before)] = True
        self.chosen: list[tuple[int, int, int, bool]] = []  # start, peak, end, below threshold

    def free(self, peak: int) -> bool:
        return not self.taken[max(0, peak - self.gap) : min(self.n, peak + self.gap + 1)].any()

    def take(self, peak: int, threshold: float | None) -> bool:
        if not self.free(peak):
            return False
        below = threshold is not None and self.scores[peak] < threshold
        level = self.median + 0.5 * (self.scores[peak] - self.median) if threshold is None or below else threshold
        start, end = _extent(self.scores, peak, level, min(self.cap, self.frames_left), self.taken)
        self.taken[start : end + 1] = True
        self.frames_left -= end - start + 1
        self.chosen.append((start, peak, end, bool(below)))
        return True

    def floor(self, lo: int, hi: int, window: int, budget: int, threshold: float) -> None:
        """Below-threshold local peaks in [lo, hi) until it holds `min_calls` candidates."""
        have = sum(lo <= c[1] < hi for c in self.chosen)
        for peak in lo + np.argsort(-self.scores[lo:hi], kind="stable"):
            if have >= self.min_calls or self.frames_left <= 0 or self.scores[peak] <= self.median:
                return
            if not _local_peak(self.scores, int(peak)) or not self.take(int(peak), threshold):
                continue
            have += 1
            if len(self.chosen) > budget:
                self._displace(window)

    def fill(self, budget: int, threshold: float) -> None:
        """Below-threshold local peaks anywhere, highest first, until the budget is spent."""
        for peak in np.argsort(-self.scores, kind="stable"):
            if len(self.chosen) >= budget or self.frames_left <= 0 or self.scores[peak] <= self.median:
                return
            if _local_peak(self.scores, int(peak)):
                self.take(int(peak), threshold)

    def _displace(self, window: int) -> None:
        """Drop the lowest above-threshold pick of a window that holds more than its floor."""
        counts: dict[int, int] = {}
        for c in self.chosen:
            counts[c[1] // window] = counts.get(c[1] // window, 0) + 1
        spare = [c for c in self.chosen if not c[3] and counts[c[1] // window] > self.min_calls]
        if spare:
            drop = min(spare, key=lambda c: self.scores[c[1]])
            self.chosen.remove(drop)
            self.taken[drop[0] : drop[2] + 1] = False
            self.frames_left += drop[2] - drop[0] + 1


def _local_peak(scores: np.ndarray, i: int) -> bool:
    return (i == 0 or scores[i] >= scores[i - 1]) and (i == len(scores) - 1 or scores[i] >= scores[i + 1])


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
