"""The chat agent (LangGraph): a tool-using loop grounded in one VideoReport, with memory.

guard → decide (model picks a tool or answers, schema-enforced) → act (run the tool) → decide … →
answer. A question naming a time outside the video is answered by the guard, without a model call;
slash commands (/events, /look …) go straight to `act` and their result is the answer. The
conversation lives in the graph state, saved by a checkpointer (SQLite), so it resumes by id.
"""

from __future__ import annotations

import operator
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, Field, create_model
from pydantic_core import from_json

from vadagent.agents.chat.tools import TOOLS, OutOfRange, VideoContext
from vadagent.prompts import render
from vadagent.tools.vlm import Message, Sampling, VLMError
from vadagent.tools.vlm.schema import printable

MAX_TOOL_STEPS = 4  # tool calls per question before the model must answer
HISTORY = 24  # messages shown to the model
_Text = Field(default="", pattern=r'^[^\x00-\x1f"\\]{0,800}$')


class ChatStep(BaseModel):
    action: Literal[(*TOOLS, "answer")]  # type: ignore[valid-type] - the registry's names
    event_id: str = ""
    t0: float = 0.0
    t1: float = 0.0
    question: str = _Text
    answer: str = _Text
    cites: list[str] = Field(default_factory=list, max_length=8)


class ChatState(TypedDict, total=False):
    messages: Annotated[list[dict], operator.add]
    direct: dict | None  # a slash command: {"tool": ..., args}
    step: dict | None  # the tool call being made
    steps: int  # tool calls for the current question


def step_type(ctx: VideoContext, must_answer: bool) -> type[ChatStep]:
    """ChatStep whose event ids can only be the report's, and which must answer when out of steps."""
    ids = tuple(e.id for e in ctx.report.events) or ("",)
    fields: dict[str, Any] = {"event_id": (Literal[("",) + ids] if "" not in ids else Literal[ids], "")}
    if must_answer:
        fields["action"] = (Literal["answer"], ...)
    return create_model("ChatStep", __base__=ChatStep, **fields)


_TIME = re.compile(r"(?<![\w.])(?:(\d+):(\d{1,2}(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*(?:s\b|sec\b|secs\b|seconds?\b|-\s*\d))", re.I)
_RANGE_END = re.compile(r"(?<=[\d.])\s*-\s*(\d+(?:\.\d+)?)\s*(?:s\b|sec|seconds?)?", re.I)


def mentioned_times(text: str) -> list[float]:
    """Times a question names: '12 s', '12.5 seconds', '1:05', '12.0-15.5'."""
    times = []
    for match in _TIME.finditer(text):
        if match.group(1) is not None:
            times.append(int(match.group(1)) * 60 + float(match.group(2)))
        else:
            times.append(float(match.group(3)))
    times += [float(m.group(1)) for m in _RANGE_END.finditer(text)]
    return times


class PartialAnswer:
    """Streams the "answer" field of a ChatStep while its JSON is still being generated.

    Fed the raw text so far; writes {"answer": new text} whenever the decoded answer grows, and
    {"restart": True} when the text starts over (a validation retry), for the terminal to redraw.
    Partial JSON (an unfinished string, half an escape) is read by pydantic-core's partial mode."""

    def __init__(self, write) -> None:
        self.write, self.shown = write, ""

    def update(self, text: str) -> None:
        try:
            data = from_json(text, allow_partial="trailing-strings")
        except ValueError:  # not JSON (yet): nothing to show
            return
        answer = data.get("answer") if isinstance(data, dict) else None
        if not isinstance(answer, str):
            return
        answer = printable(answer)  # as the validated answer will be
        if not answer.startswith(self.shown):
            self.write({"restart": True})
            self.shown = ""
        if len(answer) > len(self.shown):
            self.write({"answer": answer[len(self.shown):]})
            self.shown = answer


def build_chat_graph(ctx: VideoContext, checkpointer=None):
    async def guard(state: ChatState) -> dict:
        if state.get("direct"):
            return {"step": state["direct"], "steps": 0}
        question = state["messages"][-1]["content"]
        outside = [t for t in mentioned_times(question) if t > ctx.duration_s + 1e-6]
        if outside:
            return {"messages": [_assistant(f"The video is {ctx.duration_s:.1f} s long, so {outside[0]:g} s is outside it: "
                                            "there is nothing to look at there. Ask about 0–"
                                            f"{ctx.duration_s:.1f} s.", [])], "step": None}
        return {"step": None, "steps": 0}

    async def decide(state: ChatState) -> dict:
        if ctx.client is None:
            offline = ", ".join(t.usage for t in TOOLS.values() if not t.needs_vlm)
            return {"messages": [_assistant(f"Answering in words needs a VLM (--vlm). Without one, use {offline}.", [])],
                    "step": None}
        must = state.get("steps", 0) >= MAX_TOOL_STEPS
        names = [f"{e.id} ({e.start_s:.1f}–{e.end_s:.1f} s, {e.label})" for e in ctx.report.events]
        history = [m for m in state["messages"] if m["role"] != "system"][-HISTORY:]
        prompt = render("chat_agent", video_name=Path(ctx.report.video.path).name, duration_s=ctx.duration_s,
                        events=names, messages=history, must_answer=must,
                        tools=[(t.name, t.description) for t in TOOLS.values()])
        partial = PartialAnswer(get_stream_writer())
        try:
            result = await ctx.client.agenerate([Message.user(prompt)], step_type(ctx, must), Sampling(max_tokens=512),
                                                on_text=partial.update)
        except VLMError as error:
            return {"messages": [_assistant(f"The model failed to answer: {error}", [])], "step": None}
        ctx.usage.add(result.usage)
        step = result.output
        if step.action == "answer":
            return {"messages": [_assistant(step.answer or "(no answer)", _valid_cites(ctx, step.cites))], "step": None}
        return {"step": {"tool": step.action, "event_id": step.event_id, "t0": step.t0, "t1": step.t1,
                         "question": step.question}}

    async def act(state: ChatState) -> dict:
        step = state["step"]
        try:
            output = await run_tool(ctx, step)
        except OutOfRange as error:
            output = f"Refused: {error}."
        message = {"role": "tool", "name": step["tool"], "content": output, "call": TOOLS[step["tool"]].call_text(step)}
        update: dict = {"messages": [message], "steps": state.get("steps", 0) + 1, "step": None}
        if state.get("direct"):  # a slash command: its result is the answer
            update["messages"].append(_assistant(output, []))
            update["direct"] = None
        return update

    def after_guard(state: ChatState) -> str:
        if state["messages"][-1]["role"] == "assistant":  # answered by the guard
            return END
        return "act" if state.get("step") else "decide"

    def after_decide(state: ChatState) -> str:
        return "act" if state.get("step") else END

    def after_act(state: ChatState) -> str:
        return END if state["messages"][-1]["role"] == "assistant" else "decide"

    graph = StateGraph(ChatState)
    graph.add_node("guard", guard)
    graph.add_node("decide", decide)
    graph.add_node("act", act)
    graph.add_edge(START, "guard")
    graph.add_conditional_edges("guard", after_guard, ["act", "decide", END])
    graph.add_conditional_edges("decide", after_decide, ["act", END])
    graph.add_conditional_edges("act", after_act, ["decide", END])
    return graph.compile(checkpointer=checkpointer, name="chat")


async def run_tool(ctx: VideoContext, step: dict) -> str:
    if step["tool"] not in TOOLS:
        raise ValueError(f"unknown tool {step['tool']!r}")
    return await TOOLS[step["tool"]].run(ctx, step)


def _assistant(text: str, cites: list[str]) -> dict:
    return {"role": "assistant", "content": text, "cites": cites}


def _valid_cites(ctx: VideoContext, cites: list[str]) -> list[str]:
    """Keep citations that name a real event id or a time inside the video."""
    ids = {e.id for e in ctx.report.events}
    kept = []
    for cite in cites:
        cite = cite.strip()
        times = mentioned_times(cite if re.search(r"[a-z:]", cite, re.I) else f"{cite} s")
        if cite in ids or (times and all(0 <= t <= ctx.duration_s for t in times)):
            kept.append(cite)
    return kept
