"""The explain graph (LangGraph): one branch per candidate, in parallel.

Each branch: sample keyframes → motion relations → judge (VLM) → reflect, then confirm, re-ask
with the critique, widen the context, or reject as normal, within `max_rounds` reflections.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import operator
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict

import numpy as np
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from vadagent.agents.explain.context import (
    CONTEXT_S,
    Keyframe,
    context_window,
    keyframe_times,
    motion_relations,
    object_relations,
    pause_relations,
    tracked_relations,
    view_relations,
)
from vadagent.agents.explain.judge import JudgeAnswer, answer_type
from vadagent.agents.explain.reflect import reflect
from vadagent.prompts import render
from vadagent.rules import RuleSet
from vadagent.taxonomy import Taxonomy
from vadagent.tools.scorer.tiers import Evidence
from vadagent.tools.video import open_video
from vadagent.tools.vlm import CallBudget, Image, Message, Sampling, Usage, VLMClient, VLMError
from vadagent.types import Candidate, CandidateContext, Relation, picture_part, place_in_picture

log = logging.getLogger(__name__)


EXPLAINING = "explaining candidates"  # the stage a progress callback is told

@dataclass
class ExplainDeps:
    """What the nodes need; passed to the factory, never created at import time."""

    client: VLMClient | None  # None: only the VLM-free context (candidate_context) is used
    taxonomy: Taxonomy
    rules: RuleSet | None
    video: str
    fps: float
    duration_s: float
    evidence: Evidence
    threshold: float
    frame_size: tuple[int, int]  # the source frame's (width, height): the evidence's boxes are in its pixels
    folder_fps: float = 25.0
    max_rounds: int = 1  # one re-ask or widening (SmartHome-Bench reflects once); keeps calls ≥5× under 1 per 16 frames
    context_s: float = CONTEXT_S
    max_tokens: int = 2048
    track_objects: bool = True  # classical blob tracking in the candidate's window (tools/relations)
    detector: object | None = None  # an ObjectDetector when its weights are on disk (tools/detector)
    tracked: dict[tuple[float, float], list[Relation]] = field(default_factory=dict)  # found while detecting, by window
    scores: np.ndarray | None = None  # each frame's fused score: the objects tier's words are given where it is flagged
    paused: list[tuple[int, int]] = field(default_factory=list)  # frames where the recording has none (ScoreResult.paused)
    prompts: list[dict] = field(default_factory=list)  # every rendered prompt, saved with the run
    deadline_s: float = 600.0  # the whole VLM phase of one video, whatever the per-request timeouts and retries
    budget: CallBudget = field(default_factory=CallBudget)  # VLM requests of the whole video (the client counts)
    started: float = field(default_factory=time.monotonic)
    progress: Callable[[str, int, int], None] | None = None  # told (EXPLAINING, done, candidates) as each one ends
    candidate_count: int = 0
    finished: Iterator[int] = field(default_factory=lambda: itertools.count(1))  # (next() is atomic: branches overlap)

    def time_left(self) -> float:
        return max(0.0, self.started + self.deadline_s - time.monotonic())


Action = Literal["confirm", "reject", "uncertain", "reask", "widen", "failed"]


@dataclass(frozen=True)
class BranchOutcome:
    """What one candidate's branch ends with: the judge's answer (None when its calls failed) and
    everything that led to it."""

    index: int
    candidate: Candidate
    answer: JudgeAnswer | None
    action: Action | None
    keyframes: list[Keyframe]
    relations: list[Relation]
    notes: list[str]
    usage: Usage
    calls: int  # requests the client sent for this candidate, validation and transport retries included
    error: str = ""


class BranchState(TypedDict, total=False):
    index: int
    candidate: Candidate
    context_s: float
    round: int
    keyframes: list[Keyframe]
    relations: list[Relation]
    answer: JudgeAnswer | None
    action: Action
    critique: list[str]
    notes: list[str]
    usage: Usage
    calls: int  # VLM requests made, validation retries included
    error: str
    outcomes: Annotated[list[BranchOutcome], operator.add]


class ExplainState(TypedDict, total=False):
    candidates: list[Candidate]
    outcomes: Annotated[list[BranchOutcome], operator.add]


def build_explain_graph(deps: ExplainDeps):
    if deps.client is None:
        raise ValueError("the explain graph needs a VLM client")
    output = answer_type(deps.taxonomy, deps.rules)

    def sample(state: BranchState) -> dict:
        return {"keyframes": keyframe_times(state["candidate"], deps.duration_s, context_s=state["context_s"])}

    def relations(state: BranchState) -> dict:
        return {"relations": candidate_relations(deps, state["candidate"], state["context_s"], state["keyframes"])}

    async def judge(state: BranchState) -> dict:
        c, frames = state["candidate"], state["keyframes"]
        prompt = render("judge_event", start_s=c.start_s, end_s=c.end_s, peak_s=c.peak_s, peak_score=c.peak_score,
                        threshold=deps.threshold, frames=frames, relations=[r.text() for r in state["relations"]],
                        width=deps.frame_size[0], height=deps.frame_size[1],
                        rules=deps.rules.rules if deps.rules else [], taxonomy=deps.taxonomy,
                        critique=state.get("critique", []))
        deps.prompts.append({"candidate": state["index"], "round": state.get("round", 0), "prompt": prompt})
        # decoding is CPU work: off the event loop, which all videos of a batch share
        pixels = await asyncio.to_thread(read_frames, deps.video, deps.folder_fps, [k.time_s for k in frames])
        parts = [Image(p, k.time_s) for p, k in zip(pixels, frames)] if len(pixels) == len(frames) else \
            [Image(p) for p in pixels]
        usage = state.get("usage") or Usage()
        meter = CallBudget(parent=deps.budget)  # this candidate's requests, as the client sends them
        update: dict[str, Any] = {"answer": None, "usage": usage}
        try:
            result = await asyncio.wait_for(deps.client.agenerate([Message.user(*parts, prompt)], output,
                                                                  Sampling(max_tokens=deps.max_tokens), budget=meter),
                                            timeout=deps.time_left())
            usage.add(result.usage)
            update["answer"] = result.output
        except TimeoutError:
            update["error"] = f"timed out: the VLM phase of this video passed its {deps.deadline_s:g} s deadline"
        except VLMError as error:  # unreachable, invalid answers, or the video's request budget spent
            update["error"] = str(error)
        return update | {"calls": state.get("calls", 0) + meter.used}

    def review(state: BranchState) -> dict:
        answer, rounds = state.get("answer"), state.get("round", 0)
        notes = list(state.get("notes", []))
        if answer is None:
            return {"action": "failed", "notes": notes + [f"judge failed: {state.get('error', '')}"],
                    "error": state.get("error", "")}
        c = state["candidate"]
        strength = c.peak_score / deps.threshold if deps.threshold > 0 else 0.0
        verdict = reflect(answer, deps.taxonomy, deps.rules, len(state["keyframes"]), strength)
        notes.append(f"round {rounds}: {verdict.action}" + (f" ({'; '.join(verdict.critique)})" if verdict.critique else ""))
        action = verdict.action
        if action in ("reask", "widen") and rounds >= deps.max_rounds:
            action = "uncertain"  # out of rounds: keep the answer, marked uncertain
        update: dict[str, Any] = {"action": action, "notes": notes, "round": rounds + 1, "critique": verdict.critique}
        if action == "widen":
            update["context_s"] = state["context_s"] * 2
        return update

    def finish(state: BranchState) -> dict:
        if deps.progress is not None:
            deps.progress(EXPLAINING, next(deps.finished), deps.candidate_count)
        return {"outcomes": [BranchOutcome(
            index=state["index"], candidate=state["candidate"], answer=state.get("answer"), action=state.get("action"),
            keyframes=state.get("keyframes", []), relations=state.get("relations", []), notes=state.get("notes", []),
            usage=state.get("usage") or Usage(), calls=state.get("calls", 0), error=state.get("error", ""))]}

    def route(state: BranchState) -> str:
        return {"reask": "judge", "widen": "sample"}.get(state["action"], "finish")

    branch = StateGraph(BranchState)
    for name, node in (("sample", sample), ("relations", relations), ("judge", judge), ("reflect", review),
                       ("finish", finish)):
        branch.add_node(name, node)
    branch.add_edge(START, "sample")
    branch.add_edge("sample", "relations")
    branch.add_edge("relations", "judge")
    branch.add_edge("judge", "reflect")
    branch.add_conditional_edges("reflect", route, ["judge", "sample", "finish"])
    branch.add_edge("finish", END)

    def fan_out(state: ExplainState) -> list[Send] | str:
        sends = [Send("candidate", {"index": i, "candidate": c, "context_s": deps.context_s, "round": 0})
                 for i, c in enumerate(state["candidates"])]
        return sends or END

    graph = StateGraph(ExplainState)
    graph.add_node("candidate", branch.compile(name="candidate"))
    graph.add_conditional_edges(START, fan_out, ["candidate", END])
    graph.add_edge("candidate", END)
    return graph.compile(name="explain")


def candidate_relations(deps: ExplainDeps, candidate: Candidate, context_s: float,
                        keyframes: list[Keyframe]) -> list[Relation]:
    """Relations in the candidate's window: scorer evidence (motion, unusual objects, the camera's view), tracked
    blobs, detector (when present)."""
    window = context_window(candidate, deps.duration_s, context_s)
    found = motion_relations(deps.evidence, deps.fps, *window, deps.frame_size)
    flagged = None if deps.scores is None else deps.scores >= deps.threshold
    found += object_relations(deps.evidence, deps.fps, *window, deps.frame_size, flagged=flagged)
    found += view_relations(deps.evidence, deps.fps, *window)
    found += pause_relations(deps.paused, deps.fps, *window)
    if deps.track_objects:
        known = deps.tracked.get(window)
        found += known if known is not None else tracked_relations(deps.video, window, deps.folder_fps)
    if deps.detector is not None:
        found += detected_objects(deps, [k.time_s for k in keyframes if k.phase == "during"])
    return sorted(found, key=lambda r: r.start_s)


def candidate_context(deps: ExplainDeps, index: int, candidate: Candidate) -> CandidateContext:
    """The VLM-free part of a branch (sample + relations), for detection-only reports."""
    keyframes = keyframe_times(candidate, deps.duration_s, context_s=deps.context_s)
    return context_record(index, keyframes, candidate_relations(deps, candidate, deps.context_s, keyframes))


def context_record(index: int, keyframes: list[Keyframe], relations: list[Relation], status: str = "detected",
                   reason: str = "") -> CandidateContext:
    return CandidateContext(candidate=index, keyframes_s=[round(k.time_s, 3) for k in keyframes], relations=relations,
                            status=status, reason=reason)


def read_frames(video: str, folder_fps: float, times_s: list[float]):
    with open_video(video, folder_fps=folder_fps) as source:
        return source.read_at(times_s).frames


def detected_objects(deps: ExplainDeps, times: list[float]) -> list[Relation]:
    """What the optional detector sees in the candidate's keyframes, as relations."""
    with open_video(deps.video, folder_fps=deps.folder_fps) as video:
        batch = video.read_at(times)
    relations = []
    for time_s, found in zip(batch.times, deps.detector.detect(batch.frames)):
        for d in found:
            x0, y0, x1, y1 = d.box
            place = place_in_picture((x0 + x1) / 2, (y0 + y1) / 2, *deps.frame_size)
            relations.append(Relation(subject=d.label, predicate="is seen",
                                      object=f"at {picture_part(place)} (region ({x0},{y0})-({x1},{y1}))",
                                      start_s=float(time_s), end_s=float(time_s),
                                      evidence=f"object detector, score {d.score:.2f}"))
    return relations

