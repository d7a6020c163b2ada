"""What goes into and comes out of a VLM call, whatever the backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

import numpy as np
from pydantic import BaseModel

from vadagent.errors import UsageError, VadagentError

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Image:
    """An RGB frame (H, W, 3) uint8, with the time it was taken when it comes from a video."""

    pixels: np.ndarray
    time_s: float | None = None


@dataclass(frozen=True)
class Video:
    """A short clip as frames with their timestamps (seconds)."""

    frames: tuple[np.ndarray, ...]
    times_s: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.frames) != len(self.times_s):
            raise ValueError(f"{len(self.frames)} frames but {len(self.times_s)} timestamps")
        if not self.frames:
            raise ValueError("a video needs at least one frame")

    @property
    def fps(self) -> float:
        span = self.times_s[-1] - self.times_s[0]
        return (len(self.frames) - 1) / span if span > 0 and len(self.frames) > 1 else 1.0


Part = Text | Image | Video


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    parts: tuple[Part, ...]

    @classmethod
    def user(cls, *parts: Part | str) -> Message:
        return cls("user", tuple(Text(p) if isinstance(p, str) else p for p in parts))

    @classmethod
    def system(cls, text: str) -> Message:
        return cls("system", (Text(text),))

    @classmethod
    def assistant(cls, text: str) -> Message:
        return cls("assistant", (Text(text),))

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.parts if isinstance(p, Text))


@dataclass(frozen=True)
class Sampling:
    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    retries: int = 0  # validation retries plus transport retries

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.latency_s += other.latency_s
        self.retries += other.retries


@dataclass
class Completion:
    """One raw answer from a backend."""

    text: str
    usage: Usage = field(default_factory=Usage)


@dataclass
class VLMResult(Generic[T]):
    """The validated object (or the text when no output type was asked for) plus usage."""

    text: str
    output: T | None
    usage: Usage
    model: str


class VLMError(VadagentError):
    """A model call failed after its bounded retries (exit 1: the work failed, not the user)."""

    attempts: int = 1  # requests it took to fail (transport retries included)


class VLMUnavailable(VLMError):
    """The model or server cannot be reached or loaded."""


class VLMOutputError(VLMError):
    """The model's answers kept failing validation."""


class VLMBudgetError(VLMError):
    """A piece of work (one video) has spent its request budget."""


@dataclass
class CallBudget:
    """Requests one piece of work may send, counted by the client as it sends them (validation and
    transport retries included). A child budget (one candidate) also charges its parent (the video)."""

    limit: int | None = None
    used: int = 0
    parent: CallBudget | None = None

    def check(self) -> None:
        if self.limit is not None and self.used >= self.limit:
            raise VLMBudgetError(f"the budget of {self.limit} VLM requests for this video is spent")
        if self.parent is not None:
            self.parent.check()

    def charge(self, requests: int) -> None:
        self.used += requests
        if self.parent is not None:
            self.parent.charge(requests)


class ModelSpecError(UsageError):
    """A malformed or unknown model string."""
