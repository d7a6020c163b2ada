"""What the chat model writes at each step, the tools it may name, and the times a text names.

A chat is about one video (`tools.VideoContext`) or a batch of them (`batch.BatchContext`); both describe their
tools with `ChatTool` and let the model step through them with a `ChatStep` narrowed to their own names.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

_Text = Field(default="", pattern=r'^[^\x00-\x1f"\\]{0,800}$')
# what a tool takes, as the model's step fields and a user's typed command: VIDEO (a batch's), ID, T0-T1, QUESTION
Argument = Literal["video", "event_id", "span", "question"]
_TYPED = {"video": "VIDEO", "event_id": "ID", "span": "T0-T1", "question": "QUESTION"}


class OutOfRange(ValueError):
    """A time span that is not inside the video."""


class ChatStep(BaseModel):
    """One step of the model's: a tool to run with its arguments, or the answer. Narrowed per chat by `step_model`."""

    action: str
    event_id: str = ""
    t0: float = 0.0
    t1: float = 0.0
    question: str = _Text
    answer: str = _Text
    cites: list[str] = Field(default_factory=list, max_length=8)


# Names a step's schema lists at most: beyond, a name is any short text and the tools refuse one that is not the chat's.
# Decoding compiles the schema into a grammar, and a list of 10,000 event ids took 4.2 s to compile (xgrammar), one of
# 5,000 0.4 s, once per question (evals/bench_chat_batch.py).
SCHEMA_NAMES = 2000
_NAME = Field(default="", pattern=r'^[^\x00-\x1f"\\]{0,200}$')


def one_of(values: Sequence[str], most: int = SCHEMA_NAMES) -> tuple[Any, Any]:
    """A step field naming one of `values` or left empty: a Literal of them, or a short text beyond `most` of them."""
    if len(values) > most:
        return str, _NAME
    return Literal[tuple(dict.fromkeys(("", *values)))], ""


def step_model(tools: Sequence[str], event_ids: Sequence[str], *, videos: Sequence[str] | None = None,
               must_answer: bool = False, most: int = SCHEMA_NAMES) -> type[ChatStep]:
    """ChatStep whose action is one of `tools` or "answer" (only "answer" when out of steps), whose event ids can
    only be the chat's, and, in a batch's chat, which names one of its `videos` (up to `most` of each listed)."""
    fields: dict[str, Any] = {"action": (Literal["answer"] if must_answer else Literal[(*tools, "answer")], ...),
                              "event_id": one_of(event_ids, most)}
    if videos is not None:
        fields["video"] = one_of(videos, most)
    return create_model("ChatStep", __base__=ChatStep, **fields)


@dataclass(frozen=True)
class ChatTool:
    """One tool: what the model is told, which step fields it takes, how a user types it."""

    name: str
    description: str
    arguments: tuple[Argument, ...]
    call: Callable[[Any, dict], str | Awaitable[str]]
    needs_vlm: bool = False

    @property
    def usage(self) -> str:
        return " ".join(["/" + self.name, *(_TYPED[a] for a in self.arguments)])

    def call_text(self, step: dict) -> str:
        shown = []
        for argument in self.arguments:
            if argument == "span":
                shown.append(f"{float(step['t0']):g}, {float(step['t1']):g}")
            elif argument != "question" or step.get("question"):
                shown.append(repr(step.get(argument, "")))
        return f"{self.name}({', '.join(shown)})"

    async def run(self, context: Any, step: dict) -> str:
        output = self.call(context, step)
        return await output if inspect.isawaitable(output) else output


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


def cites_times_within(cite: str, duration_s: float) -> bool:
    """Whether a citation names times ('18 s', '1:05', or a bare '18') and all of them lie in a video this long."""
    times = mentioned_times(cite if re.search(r"[a-z:]", cite, re.I) else f"{cite} s")
    return bool(times) and all(0 <= t <= duration_s for t in times)
