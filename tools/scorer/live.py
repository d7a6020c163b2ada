"""A fitted scorer on frames as they arrive, and the moments its scores open and close.

`LiveScorer` runs the same frame pass, tiers and calibration as `Scorer.score`, causally: the
median over `median_window` frames trails instead of centring, so a frame's score is known a
chunk after it arrives, with the evidence of the tier that contributed most (as `Scorer.score`
gives it), so a moment's clip needs no second scoring pass. `MomentTracker` opens a moment when
the score crosses the threshold and closes it once the score has stayed below for `hold_s`, or
after `max_s` (a long event is asked about while it lasts, in pieces). `CoverageFloor` keeps the
candidates' coverage floor on a stream: a stretch with no moment gives its highest peak below the
threshold, as `pick_candidates` gives one for a stretch of a file.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

import cv2
import numpy as np

from vadagent.tools.scorer.candidates import CandidatePolicy, pick_candidates
from vadagent.tools.scorer.frames import ChunkMaker
from vadagent.tools.scorer.scorer import Scorer
from vadagent.tools.scorer.tiers import Evidence
from vadagent.tools.scorer.view import LIFT, boxes_moved


@dataclass(frozen=True)
class LiveScore:
    """One frame's calibrated score and its evidence row, in working pixels and px/frame (the
    camera's frame size and rate turn them into source units: `Evidence.to_source`)."""

    index: int
    score: float
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    speed: float = 0.0
    direction_deg: float = 0.0
    vs_normal: float = 0.0
    note: str = ""

    @staticmethod
    def evidence(scores: list[LiveScore]) -> Evidence:
        """The rows of consecutive frames as one Evidence (frames numbered from 0)."""
        return Evidence(np.arange(len(scores)), np.asarray([s.box for s in scores], np.float64).reshape(-1, 4),
                        np.asarray([s.speed for s in scores]), np.asarray([s.direction_deg for s in scores]),
                        np.asarray([s.vs_normal for s in scores]), np.asarray([s.note for s in scores], dtype=object))


class LiveScorer:
    def __init__(self, scorer: Scorer, *, device: str = "cpu", chunk: int = 8, fps: float | None = None) -> None:
        """`fps`: the stream's frame rate, when it may differ from the normal footage's."""
        self.scorer, self.device, self.chunk = scorer, device, chunk
        self.maker = ChunkMaker(scorer.width, scorer.height, flow=scorer.config.flow_for(scorer.tiers),
                                time_scale=scorer.time_scale(fps) if fps else 1.0, fitted_fps=scorer.fps,
                                footage_grain=scorer.fit_info.get("grain"), footage_view=scorer.view,
                                fps=fps or scorer.fps or 25.0, overlay=scorer.overlay, repeats=False)
        self.readers = {name: tier.reader() for name, tier in scorer.tiers.items()}
        self.recent: deque[float] = deque(maxlen=scorer.config.median_window)
        self._indices: list[int] = []
        self._grays: list[np.ndarray] = []
        self._stamps: list[float | None] = []
        # how the stream's picture is read against the footage's now (frames.picture_reading), what the tiers read of
        # it (TierScores.reading) and its view (view.py)
        self.reading = ""

    def feed(self, index: int, rgb: np.ndarray, stamp_s: float | None = None) -> list[LiveScore]:
        """Add one frame (`stamp_s`: its timestamp in the stream, which puts motion across dropped
        frames or a variable rate in the fitted units); returns the frames scored so far."""
        self._indices.append(index)
        self._grays.append(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        self._stamps.append(stamp_s)
        return self.flush() if len(self._indices) >= self.chunk else []

    def flush(self) -> list[LiveScore]:
        if not self._indices:
            return []
        stamps = None if None in self._stamps else np.asarray(self._stamps, np.float64)
        chunk = self.maker.feed(np.asarray(self._indices, np.int64), np.stack(self._grays), stamps)
        self._indices, self._grays, self._stamps = [], [], []
        if chunk is None:
            return []
        view, said = chunk.view, []
        scorer, per_tier, rows = self.scorer, {}, {}
        for name, tier in scorer.tiers.items():
            scored = tier.score(self.readers[name].feed(chunk), self.device)
            said += [scored.reading] if scored.reading else []
            z = scorer._z(name, scored.scores) * scorer.config.weight(name)
            per_tier[name] = dict(zip(scored.indices.tolist(), z.tolist()))
            if scored.evidence is not None:
                rows[name] = (scored.evidence, {int(f): i for i, f in enumerate(scored.evidence.frame.tolist())})
        # in Scorer.score's order: the picture, what the tiers read of it (a shadow read as light), the view
        self.reading = "; ".join(words for words in (chunk.reading, *said, view and view.words) if words)
        scores = []
        for index in chunk.indices.tolist():
            self.recent.append(sum(values.get(index, 0.0) for values in per_tier.values()))
            fused = float(np.median(self.recent))
            calibrated = (fused - scorer.calibration["mean"]) / scorer.calibration["std"]
            if view and index in view.flagged:  # a view lost or a camera moved: the whole picture, as Scorer.score
                scores.append(LiveScore(index, max(calibrated, scorer.threshold + LIFT),
                                        (0.0, 0.0, float(scorer.width), float(scorer.height)), note=view.flagged[index]))
                continue
            score = self._with_evidence(index, calibrated, per_tier, rows)
            warp = view.move_at(index) if view else None
            if warp is not None:  # found on a frame put back on the footage's view: where it is in the stream
                score = replace(score, box=tuple(boxes_moved(np.asarray([score.box]), warp)[0].tolist()))
            scores.append(score)
        return scores

    @staticmethod
    def _with_evidence(index: int, score: float, per_tier: dict, rows: dict) -> LiveScore:
        """The frame's evidence from the tier that contributed most to it (the rule of Scorer.score)."""
        having = [name for name, (_, at) in rows.items() if index in at]
        if not having:
            return LiveScore(index, score)
        evidence, at = rows[max(having, key=lambda name: per_tier[name].get(index, -np.inf))]
        i = at[index]
        return LiveScore(index, score, tuple(float(v) for v in evidence.box[i]), float(evidence.speed_px_s[i]),
                         float(evidence.direction_deg[i]), float(evidence.vs_normal[i]), str(evidence.note[i] or ""))


@dataclass
class Moment:
    """A stretch of a live stream whose score crossed the threshold."""

    start_s: float
    end_s: float
    peak_s: float
    peak_score: float
    opened_wall: float  # when the score crossed the threshold
    closed_wall: float = 0.0
    reading: str = ""  # how the camera's picture was read against the footage's as it closed (LiveScorer.reading)
    below_threshold: bool = False  # the coverage floor's (CoverageFloor), not the threshold's

    def overlaps(self, other: Moment, slack_s: float = 0.0) -> bool:
        return self.start_s <= other.end_s + slack_s and other.start_s <= self.end_s + slack_s

    def merge(self, other: Moment) -> Moment:
        peak = self if self.peak_score >= other.peak_score else other
        later = self if self.closed_wall >= other.closed_wall else other
        return Moment(min(self.start_s, other.start_s), max(self.end_s, other.end_s), peak.peak_s, peak.peak_score,
                      min(self.opened_wall, other.opened_wall), max(self.closed_wall, other.closed_wall), later.reading,
                      self.below_threshold and other.below_threshold)


class MomentTracker:
    def __init__(self, threshold: float, *, hold_s: float = 1.0, max_s: float = 10.0) -> None:
        self.threshold, self.hold_s, self.max_s = threshold, hold_s, max_s
        self.open: Moment | None = None
        self._below_since: float | None = None

    def update(self, time_s: float, score: float, wall: float) -> Moment | None:
        """Feed one frame's score; returns a moment when one closes."""
        if score >= self.threshold:
            self._below_since = None
            if self.open is None:
                self.open = Moment(time_s, time_s, time_s, score, wall)
            else:
                self.open.end_s = time_s
                if score > self.open.peak_score:
                    self.open.peak_s, self.open.peak_score = time_s, score
            if self.open.end_s - self.open.start_s >= self.max_s:
                return self.close(wall)
            return None
        if self.open is not None:
            self._below_since = time_s if self._below_since is None else self._below_since
            if time_s - self._below_since >= self.hold_s:
                return self.close(wall)
        return None

    def close(self, wall: float) -> Moment | None:
        moment, self.open, self._below_since = self.open, None, None
        if moment is not None:
            moment.closed_wall = wall
        return moment


SPARE = 2  # the coverage floor keeps the frames of this many peaks for each it may take (CoverageFloor)


class CoverageFloor:
    """The candidates' coverage floor on a stream: a stretch of `policy.window_s` that ends with fewer than
    `policy.min_calls` candidates gives as many of its highest peaks below the threshold as it lacks, as moments
    (`below_threshold`), so the model also sees what the scorer passes over. The stretch's own scores are judged by
    the rule that picks a file's candidates (`pick_candidates`: local peaks above the stretch's median, each grown
    while above halfway to it, at most `max_segment_s`); a stretch cut short by the stream's end gives none.
    `kept_s`: the camera times of the stretch's highest peaks below the threshold so far, `min_gap_s` apart and from
    any score over the threshold (as the rule keeps them from a moment), whose frames the camera keeps until the
    stretch ends: twice as many as `min_calls` (SPARE), as the rule keeps a peak `min_gap_s` from another's grown
    segment, not from its peak, which only the stretch's end tells. A peak the rule picks that is none of them (its
    frames were not kept) is not given, so a stretch may give fewer than it lacks."""

    def __init__(self, threshold: float, policy: CandidatePolicy, fps: float) -> None:
        self.threshold, self.policy, self.fps = threshold, policy, fps
        self.times: list[float] = []
        self.scores: list[float] = []
        self.peaks: list[tuple[float, float]] = []  # (camera time, score) of the peaks kept, SPARE x min_calls at most
        self.above_s: float | None = None  # the stretch's last score over the threshold

    @property
    def kept_s(self) -> tuple[float, ...]:
        return tuple(sorted(t for t, _ in self.peaks))

    def update(self, time_s: float, score: float, wall: float) -> list[Moment]:
        """Feed one frame's score; returns the floor's moments of the stretch this frame ends (none, mostly)."""
        moments = []
        if self.times and time_s >= self.times[0] + self.policy.window_s:
            moments = self._floor(wall)
            self.times, self.scores, self.peaks, self.above_s = [], [], [], None
        self.times.append(time_s)
        self.scores.append(score)
        gap = self.policy.min_gap_s
        if score >= self.threshold:  # a moment's: no peak of the floor beside it
            self.above_s = time_s
            self.peaks = [(t, s) for t, s in self.peaks if time_s - t > gap]
        elif self.policy.min_calls > 0 and (self.above_s is None or time_s - self.above_s > gap):
            self._keep(time_s, score)
        return moments

    def _keep(self, time_s: float, score: float) -> None:
        """This frame among the kept peaks: in place of those within `min_gap_s` of it if it tops them all, else of
        the lowest when all are kept and it tops that (the stretch's highest score so far away from its moments is
        always kept)."""
        near = [(t, s) for t, s in self.peaks if abs(time_s - t) < self.policy.min_gap_s]
        if near:
            if score > max(s for _, s in near):
                self.peaks = [p for p in self.peaks if p not in near] + [(time_s, score)]
        elif len(self.peaks) < SPARE * self.policy.min_calls:
            self.peaks.append((time_s, score))
        else:
            lowest = min(range(len(self.peaks)), key=lambda i: self.peaks[i][1])
            if score > self.peaks[lowest][1]:
                self.peaks[lowest] = (time_s, score)

    def _floor(self, wall: float) -> list[Moment]:
        if self.policy.min_calls <= 0:
            return []
        # the stretch as a whole video of one window: its candidates above the threshold count towards the floor
        whole = replace(self.policy, window_s=len(self.scores) / self.fps + 1.0)
        moments, kept = [], self.kept_s
        for c in pick_candidates(np.asarray(self.scores), self.fps, whole, threshold=self.threshold):
            peak = min(round(c.peak_s * self.fps), len(self.times) - 1)
            if c.below_threshold and any(abs(self.times[peak] - t) <= self.policy.min_gap_s for t in kept):
                moments.append(Moment(self.times[c.start_frame], self.times[c.end_frame], self.times[peak],
                                      float(self.scores[peak]), opened_wall=wall, closed_wall=wall, below_threshold=True))
        return moments
