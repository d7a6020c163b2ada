"""The model-free half of explaining a video: score it, pick its candidates and, where this runs apart
from the model, find what moves around each. Batch scoring processes and a cluster's workers import
this module and not the graph's, so they start without LangGraph."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from vadagent.agents.explain.context import context_window, tracked_relations
from vadagent.prompts import PROMPTS_VERSION
from vadagent.rules import RuleSet
from vadagent.taxonomy import Taxonomy
from vadagent.tools.scorer import CandidatePolicy, Scorer, ScoreResult, cuts
from vadagent.tools.scorer.scorer import Progress
from vadagent.types import Relation, ScorerSummary, VideoReport


@dataclass
class Detection:
    """A video scored, its candidates picked and, where it is detected apart from the model, what moves
    around each of them tracked: the CPU-heavy, model-free half of explaining it (which a batch's scoring
    processes and a cluster's workers run), as a report without explanations yet."""

    video: str
    report: VideoReport
    scored: ScoreResult
    tracked: dict[tuple[float, float], list[Relation]] = field(default_factory=dict)  # by context window; {}: not yet


def detect_video(video: str, scorer: Scorer, taxonomy: Taxonomy, rules: RuleSet | None, *, sigma: float = 3.0,
                 policy: CandidatePolicy | None = None, folder_fps: float = 25.0, device: str = "cpu",
                 track: bool = False, progress: Progress | None = None) -> Detection:
    """Score, pick candidates and, with `track`, find what moves around each (see `Detection`)."""
    started = time.perf_counter()
    scored = scorer.score(video, folder_fps=folder_fps, device=device, progress=progress)
    candidates = scored.candidates(policy, sigma)
    # the video from anywhere: chat, the web UI and a later run open it again, from another folder than this one
    info = scored.info if "://" in str(video) else scored.info.model_copy(update={"path": os.path.abspath(video)})
    report = VideoReport(
        video=info, taxonomy=taxonomy, rules=rules, prompts_version=PROMPTS_VERSION,
        scorer=ScorerSummary(scorer_id=scored.scorer_id, fps=scored.info.fps, smoothing_sigma=sigma,
                             threshold=round(scored.threshold, 4), candidates=candidates, scores_file="scores.csv"),
        notes=_candidate_notes(scored, candidates), timings_s={"score": round(time.perf_counter() - started, 3)},
    )
    if not track:
        return Detection(video, report, scored)
    # the tracker decodes each window again, as much CPU as the scoring on a video of many candidates. Where
    # detection runs apart from the model (a batch's scoring processes, a cluster's workers) it is done there,
    # or the one process that asks the model would do it for every video; in that process itself it is left to
    # the graph, where it overlaps the model's calls candidate by candidate (done here, a batch scored in threads
    # took longer in 5 of 6 interleaved pairs on 2 cores, 0.97-1.25x; ad hoc, release 31)
    started = time.perf_counter()
    windows = dict.fromkeys(context_window(c, scored.info.duration_s) for c in candidates)
    tracked = {window: tracked_relations(video, window, folder_fps) for window in windows}
    report.timings_s["tracks"] = round(time.perf_counter() - started, 3)
    return Detection(video, report, scored, tracked)


def _candidate_notes(scored: ScoreResult, candidates: list) -> list[str]:
    notes = []
    if scored.settled_from:
        notes.append(f"The first {scored.settled_from / scored.info.fps:.1f} s are blank or fading in: not candidates.")
    below = sum(c.below_threshold for c in candidates)
    if below:
        notes.append(f"{below} candidate(s) lie below the scorer's threshold (marked below_threshold): taken so that no "
                     "stretch of the video goes unseen; expect them to be normal more often.")
    if scored.skipped:
        notes.append(f"{scored.skipped} undecodable packet(s) of the video were skipped; their frames' scores are "
                     "interpolated from their neighbours'.")
    if scored.clock:  # its frame count and rate are then not the file's own (what other players' counters say)
        notes.append(f"The video was read by its frames' timestamps, {scored.clock}.")
    notes += [note for note in (picture_note(scored), cuts_note(scored)) if note]
    return notes + [note for note in (damage_note(scored, candidates), pause_note(scored, candidates)) if note]


def pause_note(scored: ScoreResult, candidates: list) -> str | None:
    """Where the recording has no frames for a second or more (`ScoreResult.paused`: a motion-triggered recorder that
    paused), whose picture is then its last frame before, and which candidates overlap it; None: nowhere."""
    if not scored.paused:
        return None
    fps = scored.info.fps
    spans = _spans_said(scored.paused, fps)
    hit = [str(i) for i, c in enumerate(candidates)
           if any(start / fps < c.end_s and c.start_s < stop / fps for start, stop in scored.paused)]
    return (f"The recording has no frames at {spans} (it paused): the picture there is its last frame before, "
            "held, and scores as that frame; what happened then was not recorded"
            + (f"; candidate(s) {', '.join(hit)} overlap it." if hit else "."))


def picture_note(scored: ScoreResult) -> str | None:
    """How the video's picture differed from the normal footage's and was read (`ScoreResult.picture`: its grain,
    weather or veil, and its view: a camera covered, moved or turned away); None: as it came."""
    if not scored.picture:
        return None
    changes = "; then ".join(f"from {frame / scored.info.fps:.1f} s, {read or 'as it came'}"
                             for frame, read in scored.picture)
    return f"The picture differed from the normal footage's: {changes}."


def cuts_note(scored: ScoreResult) -> str | None:
    """Where an edited video cuts from one shot to another (`ScoreResult.cuts`, cuts.py), and how its shots were
    scored where no normal footage was given; None: no cut found."""
    times = cuts.said(scored.cuts, scored.info.fps)
    if not times:
        return None
    note = f"At {_listed(times)} s {cuts.WORDS}."
    if scored.stand_in and scored.shots:
        note += (f" Each shot from {_listed([frame / scored.info.fps for frame in scored.shots])} s on was scored by a "
                 "scorer fitted on that shot's own opening, as the video's first shot was on its own (a shot under "
                 f"{cuts.MIN_SHOT_S:g} s with the one before it).")
    elif scored.stand_in:
        note += (" The scorer learnt the view of the video's opening: after a cut to another view it compares that "
                 "view with the opening's, so candidates there may say more of the view than of what happens in it.")
    return note


def _listed(times: list[float]) -> str:
    said = [f"{t:.1f}" for t in times[:8]]
    return (", ".join(said[:-1]) + " and " + said[-1] if len(said) > 1 else said[0]) + (" …" if len(times) > 8 else "")


def _spans_said(spans: list[tuple[int, int]], fps: float) -> str:
    """Frame ranges [start, stop) in seconds, the first eight: "4.0–9.0 s, 12.0–13.5 s …"."""
    return ", ".join(f"{start / fps:.1f}–{stop / fps:.1f} s" for start, stop in spans[:8]) + (" …" if len(spans) > 8 else "")


def damage_note(scored: ScoreResult, candidates: list) -> str | None:
    """Where the video arrived damaged (`ScoreResult.damaged`) and which candidates overlap it; None: nowhere."""
    if not scored.damaged:
        return None
    fps = scored.info.fps
    spans = _spans_said(scored.damaged, fps)
    hit = [str(i) for i, c in enumerate(candidates)
           if any(start / fps <= c.end_s and c.start_s <= stop / fps for start, stop in scored.damaged)]
    return (f"Parts of the video arrived damaged (pieces of their data lost, as in a recording over a lossy network): "
            f"{spans}. Their glitches may score as motion, and frames there "
            "that did not decode are scored as their neighbours"
            + (f"; candidate(s) {', '.join(hit)} overlap them." if hit else "."))
