"""The model-free half of a job: fit a scorer, score a video and pick its candidates, from settings.

`Job` (app/job.py) adds the model to it. A batch's scoring processes and a cluster's workers run only
this half (`detect_apart`), so they import neither the agents' graph nor LangGraph: a process's imports
take 0.6 of the CPU time they did (evals/bench_startup.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console

from vadagent.agents.explain.detection import Detection, detect_video
from vadagent.app.scoring import candidate_policy, fit_scorer, footage_seconds, scorer_config
from vadagent.config import Settings
from vadagent.rules import RuleSet
from vadagent.taxonomy import Taxonomy
from vadagent.tools.scorer import Scorer, SourceSpec
from vadagent.tools.scorer.scorer import Progress


def opening_note(scorer: Scorer) -> str:
    """What a report says of a scorer fitted on the video's own opening (`Scorer.fit_on_opening`)."""
    info = scorer.fit_info
    chosen = info.get("selection", {}).get("chosen")
    footage = info["sources"][0]
    fitted = (f"the video cuts from one shot to another, and each shot's scorer was fitted on that shot's own first "
              f"quarter (the first shot's: {footage['start_s']:g} to {footage['end_s']:g} s)" if info.get("shots") else
              f"the scorer was fitted on the first {footage['end_s']:g} s of this video")
    return (f"No --normal footage or --scorer: {fitted}, taken as normal, so its threshold rests on little footage; "
            "candidates may lie below it (marked below_threshold), taken to cover every stretch of the video and to spend "
            "its call budget"
            + _openings_scored(scorer)
            + (f"; its tiers and weights ({scorer.description}) chosen by self-validation on synthetic anomalies in "
               "that opening" if chosen else "")
            + ". Give the site's normal footage (--normal) for a better baseline.")


def _openings_scored(scorer: Scorer) -> str:
    """How many of a stand-in's openings (one a shot) were scored by a second scorer fitted on their closing stretch."""
    stand_ins = [scorer, *(shot for _, _, shot in scorer.shots)]
    scored = sum("opening_scored_by" in s.fit_info for s in stand_ins)
    if not scored:
        return ""
    if len(stand_ins) == 1:
        return " (those first seconds were scored by a second scorer fitted on the video's last stretch)"
    which = "each shot's first quarter" if scored == len(stand_ins) else \
        f"the first quarter of {scored} of its {len(stand_ins)} shots"
    return f" ({which} was scored by a second scorer fitted on that shot's last quarter)"


def scorer_note(scorer: Scorer) -> str:
    """What a report says of a scorer fitted on normal footage: its tiers and weights, how much
    footage it learnt, and whether self-validation chose them (the default does from 15 s)."""
    info = scorer.fit_info
    frames = info.get("frames")
    text = f"Scorer: {scorer.description}"
    if frames and scorer.fps:
        text += f", fitted on {footage_seconds(scorer):.0f} s of normal footage ({frames} frames)"
    chosen = info.get("selection", {}).get("chosen")
    if chosen:
        text += (f"; tiers and weights chosen by self-validation (AUC {chosen['auc']:.3f} on synthetic anomalies in "
                 "held-out normal footage)")
    return text + "."


@dataclass
class DetectionJob:
    """What a job detects with, and its detecting: a scorer fitted (on normal footage or a video's opening),
    a video scored and its candidates picked. A scoring process or worker builds its own from the fields it is
    handed (`detect_apart`)."""

    settings: Settings
    taxonomy: Taxonomy
    rules: RuleSet
    device: str
    fps: float | None  # the rate of frame folders given with --fps (None: the settings', said when fitting)

    @property
    def folder_fps(self) -> float:
        return self.fps or self.settings.video.folder_fps

    @property
    def sigma(self) -> float:
        return self.settings.scorer.smoothing_sigma

    def fit(self, normal: list[str], console: Console) -> Scorer:
        return fit_scorer(self.settings, SourceSpec.each(normal), scorer_config(self.settings), console,
                          fps=self.fps)

    def fit_on_opening(self, video: str, progress: Progress | None = None) -> tuple[Scorer, str]:
        """A scorer fitted on the video's own opening, and the report note that says so."""
        scorer = Scorer.fit_on_opening(video, scorer_config(self.settings), folder_fps=self.folder_fps,
                                       device=self.device, progress=progress)
        return scorer, opening_note(scorer)

    def _detecting(self) -> dict:
        return {"sigma": self.sigma, "policy": candidate_policy(self.settings), "folder_fps": self.folder_fps,
                "device": self.device}

    def detect(self, video: str, scorer: Scorer | None, *, track: bool = False,
               progress: Progress | None = None) -> tuple[Detection, str | None]:
        """Score a video and pick its candidates (CPU work, no model), with `track` also what moves around
        each (where this runs apart from the model); without a scorer, one is fitted on the video's opening,
        and the note says so."""
        if scorer is None:
            scorer, note = self.fit_on_opening(video, progress)
        else:
            note = scorer_note(scorer)
        return detect_video(video, scorer, self.taxonomy, self.rules, track=track, progress=progress,
                            **self._detecting()), note


def detect_apart(scorer: Scorer | None, settings: Settings, taxonomy: Taxonomy, rules: RuleSet | None,
                 fps: float | None, device: str, video: str) -> tuple[Detection, str | None]:
    """In a scoring process or on a cluster's worker: the same `detect` the batch runs in its threads,
    with what moves around each candidate tracked there. (The scorer first, as `SideBySide.run` hands
    it over.)"""
    return DetectionJob(settings, taxonomy, rules, device, fps).detect(video, scorer, track=True)
