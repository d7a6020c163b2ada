"""The chat agent (LangGraph): a tool-using loop grounded in one VideoReport or a batch of them, with memory.

guard → decide (model picks a tool or answers, schema-enforced) → act (run the tool) → decide … →
answer. A question naming a time outside the video is answered by the guard, without a model call;
slash commands (/events, /look …) go straight to `act` and their result is the answer. The
conversation lives in the graph state, saved by a checkpointer (SQLite), so it resumes by id.
What the chat is about, its scope (`ChatScope`), gives the tools, the step schema, the prompt and the guard.
"""

from __future__ import annotations

import operator
from typing import Annotated, Protocol, TypedDict

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from pydantic_core import from_json

from vadagent.agents.chat.steps import ChatStep, ChatTool, OutOfRange
from vadagent.tools.vlm import Message, Sampling, Usage, VLMClient, VLMError
from vadagent.tools.vlm.schema import printable

MAX_TOOL_STEPS = 4  # tool calls per question before the model must answer
HISTORY = 24  # messages shown to the model


class ChatScope(Protocol):
    """What a chat is about: one video (`tools.VideoContext`) or a batch (`batch.BatchContext`)."""

    client: VLMClient | None
    usage: Usage

    @property
    def tools(self) -> dict[str, ChatTool]: ...
    @property
    def title(self) -> str: ...
    @property
    def notice(self) -> str | None: ...
    def kept_folders(self) -> set: ...
    def step_model(self, must_answer: bool) -> type[ChatStep]: ...
    def prompt(self, messages: list[dict], must_answer: bool) -> str: ...
    def outside(self, question: str) -> str | None: ...
    def valid_cites(self, cites: list[str]) -> list[str]: ...


class ChatState(TypedDict, total=False):
    messages: Annotated[list[dict], operator.add]
    direct: dict | None  # a slash command: {"tool": ..., args}
    step: dict | None  # the tool call being made
    steps: int  # tool calls for the current question


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


def build_chat_graph(scope: ChatScope, checkpointer=None):
    async def guard(state: ChatState) -> dict:
        if state.get("direct"):
            return {"step": state["direct"], "steps": 0}
        refused = scope.outside(state["messages"][-1]["content"])
        if refused:
            return {"messages": [_assistant(refused, [])], "step": None}
        return {"step": None, "steps": 0}

    async def decide(state: ChatState) -> dict:
        if scope.client is None:
            offline = ", ".join(t.usage for t in scope.tools.values() if not t.needs_vlm)
            return {"messages": [_assistant(f"Answering in words needs a VLM (--vlm). Without one, use {offline}.", [])],
                    "step": None}
        must = state.get("steps", 0) >= MAX_TOOL_STEPS
        history = [m for m in state["messages"] if m["role"] != "system"][-HISTORY:]
        partial = PartialAnswer(get_stream_writer())
        try:
            result = await scope.client.agenerate([Message.user(scope.prompt(history, must))], scope.step_model(must),
                                                  Sampling(max_tokens=512), on_text=partial.update)
        except VLMError as error:
            return {"messages": [_assistant(f"The model failed to answer: {error}", [])], "step": None}
        scope.usage.add(result.usage)
        step = result.output
        if step.action == "answer":
            return {"messages": [_assistant(step.answer or "(no answer)", scope.valid_cites(step.cites))], "step": None}
        return {"step": {"tool": step.action, "video": getattr(step, "video", ""), "event_id": step.event_id,
                         "t0": step.t0, "t1": step.t1, "question": step.question}}

    async def act(state: ChatState) -> dict:
        step = state["step"]
        try:
            output = await run_tool(scope, step)
        except OutOfRange as error:
            output = f"Refused: {error}."
        message = {"role": "tool", "name": step["tool"], "content": output, "call": scope.tools[step["tool"]].call_text(step)}
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


async def run_tool(scope: ChatScope, step: dict) -> str:
    if step["tool"] not in scope.tools:
        raise ValueError(f"unknown tool {step['tool']!r}")
    return await scope.tools[step["tool"]].run(scope, step)


def _assistant(text: str, cites: list[str]) -> dict:
    return {"role": "assistant", "content": text, "cites": cites}
