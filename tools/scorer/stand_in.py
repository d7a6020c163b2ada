"""A scorer for a video given without normal footage: its opening stands in for the footage (Scorer.fit_on_opening).

A scorer cannot judge the footage it learnt as normal, and anomalies do start in the first seconds, so the opening
itself is scored by a second scorer fitted on the video's closing stretch (kept in memory only; `Scorer.score` splices
its scores in over the opening). Each stand-in is self-validated as normal footage is (from AUTO_SELECT_S of it: a
video of a minute or more): on rendered clips of two sites with events, its choice scored higher than equal weights
(evals/bench_footageless.py), though the stand-in may hold the anomaly among its normal frames.

An edited video (cuts.py) is fitted so shot by shot: its first shot by the scorer returned, each later shot of
MIN_SHOT_S or more by a stand-in of its own (`Scorer.shots`), so that each camera is compared with itself.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from vadagent.errors import UsageError
from vadagent.tools.scorer import cuts
from vadagent.tools.scorer.config import ScorerConfig
from vadagent.tools.scorer.footage import closing_of, opening_of, probe
from vadagent.tools.scorer.frames import working_size
from vadagent.tools.scorer.scorer import Progress, Scorer, TooFewFrames

log = logging.getLogger(__name__)


def fit_on_opening(cls: type[Scorer], video: str, config: ScorerConfig, folder_fps: float, device: str,
                   progress: Progress | None) -> Scorer:
    """See the module: the stand-in of the video's (first shot's) opening, with its later shots' in `shots`."""
    info = probe(video, folder_fps)
    shots = cuts.shots_of(video, folder_fps, working_size(info.width, info.height, config.max_side), progress)
    spans = [(start / info.fps, end / info.fps if end < info.frame_count else None) for start, end in shots]
    # one shot: the whole video, as ever (what decodes of it may fall short of the container's frame count)
    scorer = stand_in(cls, video, config, spans[0] if len(shots) > 1 else (0.0, None), folder_fps, device, progress)
    for (start, end), span in zip(shots[1:], spans[1:]):
        def apart(stage: str, done: int, total: int, at: float = span[0]) -> None:  # each shot's on bars of its own
            progress(f"{stage} (the shot from {at:.1f} s)", done, total)

        try:
            shot = stand_in(cls, video, config, span, folder_fps, device, apart if progress else None)
        except UsageError as why:  # a static shot (a still, a screenshot): scored with the shot before it
            log.warning("%s: the shot from %.1f s is scored with the one before it (%s)", video, span[0], why)
            if scorer.shots:  # that shot's pass reads on through it (the first shot's, the video's, reads up to the next)
                scorer.shots[-1] = (scorer.shots[-1][0], end, scorer.shots[-1][2])
            continue
        scorer.shots.append((start, end, shot))
        scorer.fit_info["fit_seconds"] += shot.fit_info["fit_seconds"]
    if scorer.shots:
        scorer.fit_info["shots"] = [[start, end] for start, end, _ in scorer.shots]
    return scorer


def stand_in(cls: type[Scorer], video: str, config: ScorerConfig, span: tuple[float, float | None],
             folder_fps: float, device: str, progress: Progress | None) -> Scorer:
    """A scorer fitted on the first quarter of the video's `span` (seconds; None: to its end), with a second one,
    fitted on the span's last quarter, for that first quarter (`for_opening`)."""
    opening = opening_of(video, folder_fps, span)
    try:
        scorer = cls.fit([opening], config, folder_fps=folder_fps, device=device, progress=progress)
    except TooFewFrames:  # said of the video given, not of the stand-in's range (`clip.mp4#t=0,0.01`)
        frames = probe(video, folder_fps).frame_count
        raise TooFewFrames(f"{video}: {frames} frame(s), too few to score without normal footage: its first quarter "
                           "stands in for the site's normal footage and must hold 2 frames or more (a scorer learns "
                           "from motion between frames); give --normal footage of the site, or a longer video") from None
    # A stand-in is the video's own camera and encoding: its grain differs from the rest of the video only where
    # the scene does (smoke, a crowd), which grain.py would read as another camera (UCF-Crime's Explosion016:
    # its event left out of the candidates); so none is kept, and the video is read as it comes.
    scorer.fit_info |= {"stand_in": True, "grain": None, "view": None}
    scorer.view = None  # nor is its view judged: it is the video's own camera, and cuts are looked for instead
    closing = closing_of(video, folder_fps, span)
    if opening.end_s is not None and closing.start_s >= opening.end_s:
        def apart(stage: str, done: int, total: int) -> None:  # its stages on bars of their own
            progress(f"{stage} ({'the video' if span == (0.0, None) else 'the shot'}'s last quarter)", done, total)

        try:
            scorer.for_opening = cls.fit([closing], config, folder_fps=folder_fps, device=device,
                                         progress=apart if progress else None)
            scorer.for_opening.fit_info |= {"grain": None, "view": None}
            scorer.for_opening.view = None
            scorer.fit_info["opening_scored_by"] = asdict(closing)
            scorer.fit_info["fit_seconds"] += scorer.for_opening.fit_info["fit_seconds"]
        except UsageError as why:  # a static or blank closing stretch: the opening keeps its own scores
            log.warning("%s: the opening is scored by the scorer fitted on it (%s)", video, why)
    return scorer
