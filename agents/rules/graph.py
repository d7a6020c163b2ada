"""The rule-induction graph (LangGraph).

sample diverse normal frames → describe them (VLM, structured) → induce rules per batch (one
parallel branch per batch) → aggregate across batches by meaning and support → describe held-out
normal frames and validate (false-alarm rate per rule) → RuleSet with provenance.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from vadagent.agents.rules.aggregate import aggregate
from vadagent.agents.rules.describe import FrameDescription, frame_ref
from vadagent.agents.rules.induce import CandidateRule, DescribedFrame, induce_from_text, induce_with_vlm
from vadagent.agents.rules.match import DEFAULT_THRESHOLD
from vadagent.agents.rules.sampling import SampledFrame, sample_diverse, split_holdout
from vadagent.agents.rules.validate import MAX_FALSE_ALARM, validate_rules
from vadagent.errors import VadagentError
from vadagent.prompts import render
from vadagent.rules import RuleSet
from vadagent.tools.scorer.footage import SourceSpec
from vadagent.tools.video import open_video
from vadagent.tools.vlm import Image, Message, Sampling, Usage, VLMClient, VLMError

Progress = Callable[[str, int, int], None]


class InductionError(VadagentError):
    """Induction could not produce a rule set (e.g. no frame could be described)."""


@dataclass
class InduceDeps:
    client: VLMClient
    site: str = "the site"
    inducer: Literal["vlm", "text"] = "vlm"
    frames: int = 32  # described for induction
    heldout_frames: int = 16  # described for validation
    batch_size: int = 8
    min_support: int = 2
    max_false_alarm: float = MAX_FALSE_ALARM
    threshold: float = DEFAULT_THRESHOLD
    folder_fps: float = 25.0
    progress: Progress | None = None
    prompts: list[dict] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    failed_descriptions: int = 0


class InduceState(TypedDict, total=False):
    sources: list[SourceSpec]
    train: list[SampledFrame]
    heldout: list[SampledFrame]
    heldout_clips: list[str]
    described: list[DescribedFrame]
    batch: int
    frames: list[DescribedFrame]
    candidates: Annotated[list[CandidateRule], operator.add]
    rules: RuleSet


def build_induce_graph(deps: InduceDeps):
    def tell(stage: str, done: int, total: int) -> None:
        if deps.progress:
            deps.progress(stage, done, total)

    def sample(state: InduceState) -> dict:
        train_specs, held_specs = split_holdout(state["sources"], folder_fps=deps.folder_fps)
        tell("sampling normal frames", 0, 2)
        train = sample_diverse(train_specs, deps.frames, folder_fps=deps.folder_fps)
        tell("sampling normal frames", 1, 2)
        heldout = sample_diverse(held_specs, deps.heldout_frames, folder_fps=deps.folder_fps)
        tell("sampling normal frames", 2, 2)
        clips = list(dict.fromkeys(f"{s.path}#t={s.start_s:g},{s.end_s:g}" if s.end_s is not None else s.path
                                   for s in held_specs))
        return {"train": train, "heldout": heldout, "heldout_clips": clips}

    async def describe(state: InduceState) -> dict:
        return {"described": await describe_frames(deps, state["train"], "describing normal frames")}

    def fan_out(state: InduceState) -> list[Send]:
        frames = state["described"]
        size = deps.batch_size
        return [Send("induce", {"batch": i // size, "frames": frames[i : i + size]}) for i in range(0, len(frames), size)]

    async def induce(state: InduceState) -> dict:
        if deps.inducer == "text":
            return {"candidates": induce_from_text(state["batch"], state["frames"])}
        try:
            found, usage = await induce_with_vlm(deps.client, state["batch"], state["frames"], deps.site, deps.prompts)
        except VLMError as error:  # one failed batch costs its rules, not the run
            deps.prompts.append({"step": "induce", "batch": state["batch"], "error": str(error)})
            return {"candidates": []}
        deps.usage.add(usage)
        return {"candidates": found}

    def merge(state: InduceState) -> dict:
        batches = len({c.batch for c in state.get("candidates", [])}) or 1
        rules = aggregate(state.get("candidates", []), min_support=min(deps.min_support, batches),
                          model=deps.client.model, origin="induced")
        sources = list(dict.fromkeys(s.path for s in state["sources"]))
        return {"rules": RuleSet(scene=deps.site, rules=rules, induced_from=sources)}

    async def validate(state: InduceState) -> dict:
        described = await describe_frames(deps, state["heldout"], "describing held-out normal frames")
        return {"rules": validate_rules(state["rules"], [d.description.text() for d in described],
                                        state["heldout_clips"], threshold=deps.threshold,
                                        max_false_alarm=deps.max_false_alarm)}

    graph = StateGraph(InduceState)
    for name, node in (("sample", sample), ("describe", describe), ("induce", induce), ("aggregate", merge),
                       ("validate", validate)):
        graph.add_node(name, node)
    graph.add_edge(START, "sample")
    graph.add_edge("sample", "describe")
    graph.add_conditional_edges("describe", fan_out, ["induce"])
    graph.add_edge("induce", "aggregate")
    graph.add_edge("aggregate", "validate")
    graph.add_edge("validate", END)
    return graph.compile(name="induce_rules")


async def describe_frames(deps: InduceDeps, frames: list[SampledFrame], stage: str) -> list[DescribedFrame]:
    """One structured description per frame (requests go out together; the client bounds them)."""
    conversations, refs = [], []
    for source in dict.fromkeys(f.source for f in frames):
        mine = [f for f in frames if f.source == source]
        with open_video(source, folder_fps=deps.folder_fps) as video:
            batch = video.read([f.frame for f in mine])
        for f, pixels in zip(mine, batch.frames):
            ref = frame_ref(source, f.frame, f.time_s)
            prompt = render("describe_frame", site=deps.site, ref=ref)
            deps.prompts.append({"step": "describe", "frame": ref, "prompt": prompt})
            conversations.append([Message.user(Image(pixels, f.time_s), prompt)])
            refs.append((ref, source))
    results = []
    for start in range(0, len(conversations), 8):  # progress in steps of 8
        results += await deps.client.agenerate_many(conversations[start : start + 8], FrameDescription,
                                                    Sampling(max_tokens=512))
        if deps.progress:
            deps.progress(stage, min(start + 8, len(conversations)), len(conversations))
    described = []
    for (ref, source), result in zip(refs, results):
        if isinstance(result, Exception):
            deps.failed_descriptions += 1
            deps.prompts.append({"step": "describe", "frame": ref, "error": str(result)})
            continue
        deps.usage.add(result.usage)
        described.append(DescribedFrame(ref, source, result.output))
    if not described:
        raise InductionError(f"{stage}: no frame could be described ({len(refs)} tried); see the prompts log")
    return described
