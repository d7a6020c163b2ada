"""Context sampling (keyframes before, during and after a candidate) and motion relations.

VADER's context-aware sampling is the anchor: the lead-up shows the cause, the aftermath the
effect. Relations are text triples built from the scorer's per-frame evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vadagent.tools.scorer.tiers import Evidence
from vadagent.types import Candidate, Relation

COMPASS = ["rightwards", "down-right", "downwards", "down-left", "leftwards", "up-left", "upwards", "up-right"]


@dataclass(frozen=True)
class Keyframe:
    time_s: float
    phase: str  # before | during | after


def keyframe_times(candidate: Candidate, duration_s: float, *, context_s: float = 2.0, before: int = 2,
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


def motion_relations(evidence: Evidence, fps: float, start_s: float, end_s: float, *, min_ratio: float = 1.2,
                     limit: int = 6) -> list[Relation]:
    """Runs of frames whose most unusual region moves faster than normal, as text triples."""
    frames = (evidence.frame >= start_s * fps) & (evidence.frame <= end_s * fps)
    idx = np.flatnonzero(frames & (evidence.vs_normal >= min_ratio))
    relations: list[Relation] = []
    for run in np.split(idx, np.flatnonzero(np.diff(idx) > 2) + 1) if idx.size else []:
        peak = run[np.argmax(evidence.vs_normal[run])]
        x0, y0, x1, y1 = evidence.box[peak].tolist()
        heading = COMPASS[int(((evidence.direction_deg[peak] + 22.5) % 360) // 45)]
        relations.append(Relation(
            subject=f"the object in region ({x0},{y0})-({x1},{y1})",
            predicate=f"moves {heading} at {evidence.speed_px_s[peak]:.0f} px/s, "
                      f"{evidence.vs_normal[peak]:.1f}× the fastest normal motion there",
            object="", start_s=float(evidence.frame[run[0]] / fps), end_s=float(evidence.frame[run[-1]] / fps),
            evidence=f"scorer flow evidence, frames {int(evidence.frame[run[0]])}-{int(evidence.frame[run[-1]])}",
        ))
    relations.sort(key=lambda r: r.start_s)
    return relations[:limit]
