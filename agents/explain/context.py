"""Context sampling (keyframes before, during and after a candidate) and motion relations.

VADER's context-aware sampling is the anchor: the lead-up shows the cause, the aftermath the
effect. Relations are text triples built from the scorer's per-frame evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vadagent.tools.relations import track_objects, track_relations
from vadagent.tools.scorer.tiers import Evidence
from vadagent.tools.scorer.tiers.base import FASTER
from vadagent.tools.scorer.tiers.objects import MOTION_GROUP, read_note
from vadagent.tools.scorer.view import VIEW_WORDS
from vadagent.types import Candidate, Relation, heading_in_words, picture_part, place_of_box


@dataclass(frozen=True)
class Keyframe:
    time_s: float
    phase: str  # before | during | after


CONTEXT_S = 2.0  # seconds of lead-up and aftermath sampled around a candidate (a reflection may double them)


def context_window(candidate: Candidate, duration_s: float, context_s: float = CONTEXT_S) -> tuple[float, float]:
    """The stretch of video a candidate's relations are found in: the candidate and its context."""
    return max(candidate.start_s - context_s, 0.0), min(candidate.end_s + context_s, duration_s)


def tracked_relations(video: str, window: tuple[float, float], folder_fps: float) -> list[Relation]:
    """What the classical tracker (tools/relations) finds in front of the scene in the window, moving or standing, as
    relations."""
    return track_relations(track_objects(video, *window, folder_fps=folder_fps))


def keyframe_times(candidate: Candidate, duration_s: float, *, context_s: float = CONTEXT_S, before: int = 2,
                   during: int = 4, after: int = 2) -> list[Keyframe]:
    """Evenly spaced keyframes: `before` in the `context_s` lead-up, `during` over the segment,
    `after` in the `context_s` aftermath, clipped to the video."""
    last = max(duration_s - 1e-3, 0.0)
    lead = np.linspace(max(candidate.start_s - context_s, 0.0), candidate.start_s, before, endpoint=False)
    body = np.linspace(candidate.start_s, min(candidate.end_s, last), during)
    tail = np.linspace(min(candidate.end_s, last), min(candidate.end_s + context_s, last), after + 1)[1:]
    frames = [Keyframe(float(t), "before") for t in lead if t < candidate.start_s]
    frames += [Keyframe(float(t), "during") for t in body]
    frames += [Keyframe(float(t), "after") for t in tail if t > candidate.end_s]
    unique: dict[float, Keyframe] = {}
    for frame in frames:
        unique.setdefault(round(frame.time_s, 2), frame)
    return sorted(unique.values(), key=lambda k: k.time_s)


@dataclass
class _Run:
    """Frames whose most unusual region moves one way, fast: merged while it goes on."""

    first: int
    last: int
    heading: str
    box: list[int]  # union of the runs' boxes
    speeds: list[float]
    ratios: list[float]

    def near(self, other: _Run, gap_frames: float) -> bool:
        """The same object going on: same heading, soon after, its region touching or next to ours."""
        return other.heading == self.heading and other.first - self.last <= gap_frames and _touching(self.box, other.box)

    def absorb(self, other: _Run) -> None:
        self.last = other.last
        self.box = [min(self.box[0], other.box[0]), min(self.box[1], other.box[1]),
                    max(self.box[2], other.box[2]), max(self.box[3], other.box[3])]
        self.speeds += other.speeds
        self.ratios += other.ratios


def _subject(box: list[int], frame_size: tuple[int, int]) -> str:
    """What a relation of the scorer's evidence is about: the object at a place, or the whole picture (someone filling
    the lens, a cut, a flash, the camera moving: no one object), with its region in pixels."""
    place = place_of_box(box, *frame_size)
    what = picture_part(place) if place == "whole" else f"the object at {picture_part(place)}"
    return f"{what} (region ({box[0]},{box[1]})-({box[2]},{box[3]}))"


def _span(values: list[float], fmt: str) -> str:
    low, high = format(min(values), fmt), format(max(values), fmt)
    return low if low == high else f"{low}–{high}"


def motion_relations(evidence: Evidence, fps: float, start_s: float, end_s: float, frame_size: tuple[int, int], *,
                     min_ratio: float = FASTER, limit: int = 6, merge_gap_s: float = 1.0) -> list[Relation]:
    """Runs of frames whose most unusual region moves faster than normal, as text triples. Runs of
    one object (same heading, neighbouring regions, under `merge_gap_s` apart) become one relation
    with a time span and ranges, so the VLM reads a few informative lines, not a line per frame.
    `frame_size`: the source frame's (width, height), which the boxes are in, to name their place."""
    frames = (evidence.frame >= start_s * fps) & (evidence.frame <= end_s * fps)
    idx = np.flatnonzero(frames & (evidence.vs_normal >= min_ratio))
    runs: list[_Run] = []
    for run in np.split(idx, np.flatnonzero(np.diff(idx) > 2) + 1) if idx.size else []:
        peak = run[np.argmax(evidence.vs_normal[run])]
        current = _Run(int(evidence.frame[run[0]]), int(evidence.frame[run[-1]]),
                       heading_in_words(evidence.direction_deg[peak]),
                       [int(v) for v in evidence.box[peak].tolist()], evidence.speed_px_s[run].tolist(),
                       evidence.vs_normal[run].tolist())
        if runs and runs[-1].near(current, merge_gap_s * fps):
            runs[-1].absorb(current)
        else:
            runs.append(current)
    strongest = sorted(runs, key=lambda r: -max(r.ratios))[:limit]  # the most unusual motion first, when cut
    return [Relation(
        subject=_subject(r.box, frame_size),
        predicate=f"moves {r.heading} at {_span(r.speeds, '.0f')} px/s, {_span(r.ratios, '.1f')}× the fastest normal "
                  "motion there",
        object="", start_s=r.first / fps, end_s=r.last / fps,
        evidence=f"scorer flow evidence, frames {r.first}-{r.last}",
    ) for r in sorted(strongest, key=lambda r: r.first)]


def object_relations(evidence: Evidence, fps: float, start_s: float, end_s: float, frame_size: tuple[int, int], *,
                     flagged: np.ndarray | None = None, min_ratio: float = FASTER, limit: int = 4,
                     merge_gap_s: float = 1.0) -> list[Relation]:
    """What the objects tier found unusual in the window beyond speed (a size not seen at that place, an object where
    the normal footage has none, an unusual shape or heading: its evidence notes), a relation per run of frames that
    says the same of one object, in the words of its most unusual frame. An object faster than normal there (at least
    `min_ratio`) is `motion_relations`' to say. `flagged` (per frame): only frames the scorer flagged are spoken of (a
    frame of many walkers often holds one beyond the normal objects' 99th percentile: 19 % of Ped2's normal frames
    have a note, 0.6 % a note and a flag; evals/HISTORY.md, release 52)."""
    in_window = np.flatnonzero((evidence.frame >= start_s * fps) & (evidence.frame <= end_s * fps))
    if flagged is not None:
        in_window = in_window[flagged[np.minimum(evidence.frame[in_window], len(flagged) - 1)]]
    notes = {int(i): note for i in in_window if (note := read_note(evidence.note[i])) is not None
             and not (note.group == MOTION_GROUP and evidence.vs_normal[i] >= min_ratio)}
    runs: list[list[int]] = []  # evidence rows, each run one object saying one thing (others' frames may come between)
    for i in notes:
        going_on = (run for run in reversed(runs) if notes[run[-1]].group == notes[i].group
                    and evidence.frame[i] - evidence.frame[run[-1]] <= merge_gap_s * fps
                    and _touching(evidence.box[run[-1]], evidence.box[i]))
        run = next(going_on, None)
        if run is None:
            runs.append([i])
        else:
            run.append(i)
    strongest = sorted(runs, key=lambda run: -max(notes[i].multiple for i in run))[:limit]  # when cut
    relations = []
    for run in sorted(strongest, key=lambda run: run[0]):
        peak = max(run, key=lambda i: notes[i].multiple)
        box = [int(v) for v in evidence.box[peak].tolist()]
        first, last = int(evidence.frame[run[0]]), int(evidence.frame[run[-1]])
        relations.append(Relation(
            subject=_subject(box, frame_size),
            predicate="is unusual here:", object=str(evidence.note[peak]), start_s=first / fps, end_s=last / fps,
            evidence=f"scorer objects evidence, frames {first}-{last}"))
    return relations


def _touching(a: Sequence[float], b: Sequence[float]) -> bool:
    """Two boxes (x0, y0, x1, y1) of one object from frame to frame: overlapping, or apart by less than its size."""
    reach = max(b[2] - b[0], b[3] - b[1])
    return bool(b[0] <= a[2] + reach and a[0] <= b[2] + reach and b[1] <= a[3] + reach and a[1] <= b[3] + reach)


def view_relations(evidence: Evidence, fps: float, start_s: float, end_s: float) -> list[Relation]:
    """What the scorer found of the camera's view in the window (a lens covered, a camera moved or turned away:
    tools/scorer/view.py's words on the frames it flagged), a relation per run of frames: a camera knocked by 2° looks
    much as before in keyframes, and the VLM is told what was measured."""
    frames = np.flatnonzero((evidence.frame >= start_s * fps) & (evidence.frame <= end_s * fps))
    said = [i for i in frames if str(evidence.note[i]).startswith(VIEW_WORDS)]
    relations: list[Relation] = []
    for run in np.split(np.asarray(said, np.int64), np.flatnonzero(np.diff(said) > 1) + 1) if said else []:
        first, last = int(evidence.frame[run[0]]), int(evidence.frame[run[-1]])
        relations.append(Relation(subject="the camera's view", predicate="changed:", object=str(evidence.note[run[0]]),
                                  start_s=first / fps, end_s=last / fps,
                                  evidence=f"scorer view check, frames {first}-{last}"))
    return relations


def pause_relations(paused: list[tuple[int, int]], fps: float, start_s: float, end_s: float) -> list[Relation]:
    """Where the recording has no frames in the window (`ScoreResult.paused`: a motion-triggered recorder paused), a
    relation each: the frames shown there are its last before, held, which would read as a scene standing still."""
    return [Relation(subject="the recording", predicate="has no frames",
                     object="(it paused): the picture shown is its last frame before, held; what happened then was "
                            "not recorded",
                     start_s=max(first / fps, start_s), end_s=min(stop / fps, end_s),
                     evidence=f"frame timestamps, frames {first}-{stop - 1} repeat frame {first - 1}")
            for first, stop in paused if first / fps < end_s and start_s < stop / fps]
