"""Explain one video: score it, pick candidates, run the graph, collect a VideoReport."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vadagent.agents.explain.detection import Detection, detect_video
from vadagent.agents.explain.graph import (
    BranchOutcome,
    ExplainDeps,
    build_explain_graph,
    candidate_context,
    context_record,
)
from vadagent.agents.explain.judge import to_event
from vadagent.rules import RuleSet
from vadagent.taxonomy import Taxonomy
from vadagent.tools.scorer import CandidatePolicy, Scorer, ScoreResult
from vadagent.tools.scorer.output import write_scores
from vadagent.tools.scorer.scorer import Progress
from vadagent.tools.vlm import CallBudget, VLMClient
from vadagent.tools.vlm.base import run_sync
from vadagent.types import AnomalyEvent, TokenUsage, Verdict, VideoReport

log = logging.getLogger(__name__)
IN_PROGRESS_NOTE = "Detection only so far: the VLM was being asked when this was written."
NO_VLM_NOTE = ("Explanations need a vision-language model and none was reachable: this report holds the detection "
               "only (scores, candidates, relations). Use --vlm hf:MODEL (in-process; `hf download MODEL` once "
               "where huggingface.co can be reached) or --vlm vllm:MODEL@URL (see `vadagent serve`).")


def explain_video(video: str, scorer: Scorer, client: VLMClient | None, taxonomy: Taxonomy, rules: RuleSet | None, *,
                  sigma: float = 3.0, policy: CandidatePolicy | None = None, folder_fps: float = 25.0,
                  device: str = "cpu", **explaining: Any) -> tuple[VideoReport, ScoreResult]:
    """Score and pick candidates (`detect_video`), then explain them (`explain_detection`)."""
    detection = detect_video(video, scorer, taxonomy, rules, sigma=sigma, policy=policy, folder_fps=folder_fps,
                             device=device)
    return explain_detection(detection, client, folder_fps=folder_fps, **explaining)


def explain_detection(detection: Detection, client: VLMClient | None, **explaining: Any) -> tuple[VideoReport, ScoreResult]:
    """`aexplain_detection` from sync code, in an event loop of its own."""
    return run_sync(aexplain_then_close(detection, client, **explaining))


async def aexplain_then_close(detection: Detection, client: VLMClient | None,
                              **explaining: Any) -> tuple[VideoReport, ScoreResult]:
    """`aexplain_detection` in a loop made for it: the client's connections belong to that loop and close with it."""
    try:
        return await aexplain_detection(detection, client, **explaining)
    finally:
        if client is not None:
            await client.aclose()


async def aexplain_detection(detection: Detection, client: VLMClient | None, *, folder_fps: float = 25.0,
                             max_rounds: int = 1, prompts_log: list[dict] | None = None, detector=None,
                             deadline_s: float = 600.0, calls_per_candidate: int | None = None,
                             on_detected: Callable[[VideoReport, ScoreResult], None] | None = None,
                             progress: Progress | None = None) -> tuple[VideoReport, ScoreResult]:
    """Run the graph on a detection's candidates. `on_detected` gets the detection-only report
    before the first VLM call (so a hung model leaves it behind); `deadline_s` bounds the whole VLM
    phase of the video in time, `calls_per_candidate` (times the candidates) in requests: past
    either, the rest stay detected, not explained. `progress` is told as each candidate is done."""
    video, report, scored = detection.video, detection.report.model_copy(deep=True), detection.scored
    taxonomy, rules, candidates = report.taxonomy, report.rules, report.scorer.candidates
    timings = dict(report.timings_s)
    deps = ExplainDeps(client=client, taxonomy=taxonomy, rules=rules, video=video, fps=scored.info.fps,
                       duration_s=scored.info.duration_s, evidence=scored.evidence, threshold=scored.threshold,
                       frame_size=(scored.info.width, scored.info.height),
                       folder_fps=folder_fps, max_rounds=max_rounds, detector=detector, deadline_s=deadline_s,
                       budget=CallBudget(calls_per_candidate * len(candidates) if calls_per_candidate else None),
                       tracked=detection.tracked, progress=progress, candidate_count=len(candidates),
                       scores=scored.scores, paused=scored.paused)
    started = time.perf_counter()
    if client is None:
        report.contexts = await asyncio.to_thread(lambda: [candidate_context(deps, i, c) for i, c in enumerate(candidates)])
        timings["context"] = round(time.perf_counter() - started, 3)
        report.explained = False
        report.notes.append(NO_VLM_NOTE)
        report.timings_s = timings
        return report, scored
    if on_detected is not None and candidates:
        detected = report.model_copy(update={"explained": False, "notes": [*report.notes, IN_PROGRESS_NOTE]})
        await asyncio.to_thread(on_detected, detected, scored)
    graph = build_explain_graph(deps)
    deps.started = time.monotonic()
    state = await graph.ainvoke({"candidates": candidates, "outcomes": []})
    timings["explain"] = round(time.perf_counter() - started, 3)
    outcomes: list[BranchOutcome] = sorted(state["outcomes"], key=lambda o: o.index)
    events, usage = collect(outcomes)
    report.events = merge_overlapping(events)
    report.contexts = [context_record(o.index, o.keyframes, o.relations, "failed" if o.answer is None else "explained",
                                      o.error) for o in outcomes]
    failed = [o for o in outcomes if o.answer is None]
    if failed:
        reasons = "; ".join(dict.fromkeys(o.error or "unknown error" for o in failed))
        report.explained = len(failed) < len(outcomes)
        report.notes.append(f"The VLM failed for {len(failed)} of {len(outcomes)} candidate(s), which stay in the report "
                            f"as detected, not explained: {reasons}")
    report.models = {"judge": client.model}
    report.usage = usage
    report.timings_s = timings
    if prompts_log is not None:
        prompts_log.extend(deps.prompts)
    return report, scored


def collect(outcomes: list[BranchOutcome]) -> tuple[list[AnomalyEvent], TokenUsage]:
    events, total = [], TokenUsage()
    for outcome in sorted(outcomes, key=lambda o: o.index):
        total = total + TokenUsage(calls=outcome.calls, prompt_tokens=outcome.usage.prompt_tokens,
                                   completion_tokens=outcome.usage.completion_tokens)
        if outcome.answer is None:
            continue
        c = outcome.candidate
        verdict = {"confirm": Verdict.CONFIRMED, "reject": Verdict.REJECTED}.get(outcome.action, Verdict.UNCERTAIN)
        events.append(to_event(outcome.answer, event_id=f"e{outcome.index + 1}", start_s=c.start_s, end_s=c.end_s,
                               frame_times=[k.time_s for k in outcome.keyframes], relations=outcome.relations,
                               verdict=verdict, notes=outcome.notes, region=c.region))
    return events, total


def merge_overlapping(events: list[AnomalyEvent]) -> list[AnomalyEvent]:
    """Events of one category whose spans overlap become one (rejected ones are kept apart)."""
    merged: list[AnomalyEvent] = []
    for event in sorted(events, key=lambda e: e.start_s):
        last = merged[-1] if merged else None
        if (last is not None and event.verdict != Verdict.REJECTED and last.verdict != Verdict.REJECTED
                and event.category == last.category and event.start_s <= last.end_s):
            merged[-1] = last.model_copy(update={
                "end_s": max(last.end_s, event.end_s), "severity": max(last.severity, event.severity),
                "confidence": max(last.confidence, event.confidence),
                "evidence_frames": sorted(set(last.evidence_frames + event.evidence_frames)),
                "matched_rules": list(dict.fromkeys(last.matched_rules + event.matched_rules)),
                "relations": last.relations + event.relations,
                "reflection_notes": last.reflection_notes + [f"merged with {event.id}"] + event.reflection_notes,
            })
        else:
            merged.append(event)
    return merged


def left_in_progress(report: VideoReport) -> bool:
    """Whether `report` is the detection-only stand-in written before the first VLM call, left by a run
    that was stopped or died while explaining: to be explained again, not reused."""
    return IN_PROGRESS_NOTE in report.notes


def write_report(out: Path, report: VideoReport, scored: ScoreResult, sigma: float, prompts: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_scores(out, scored, sigma, report.scorer.candidates)
    (out / "report.json").write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    with (out / "events.jsonl").open("w", encoding="utf-8") as handle:
        for event in report.events:
            handle.write(event.model_dump_json() + "\n")
    with (out / "prompts.jsonl").open("w", encoding="utf-8") as handle:
        for entry in prompts:
            handle.write(json.dumps(entry) + "\n")
