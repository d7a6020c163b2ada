"""Domain types shared by every layer: videos, scores, candidates, relations, events, reports.

All are pydantic v2 models with `extra="forbid"`, so a typo in a hand-edited file is an error,
not a silently dropped field. `SCHEMA_VERSION` versions the JSON written to disk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone
from enum import IntEnum, StrEnum
from typing import Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from vadagent.rules import RuleSet
from vadagent.taxonomy import Taxonomy

SCHEMA_VERSION = "1.0"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=True)


def _check_span(start: float, end: float) -> None:
    if end < start:
        raise ValueError(f"end ({end:g} s) is before start ({start:g} s)")


class VideoInfo(Model):
    path: str
    kind: Literal["file", "frames", "stream"] = "file"
    fps: PositiveFloat
    frame_count: NonNegativeInt
    width: PositiveInt
    height: PositiveInt
    codec: str | None = None

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps

    def time_of(self, frame: int) -> float:
        return frame / self.fps

    def frame_at(self, time_s: float) -> int:
        """Index of the frame shown at `time_s`, clamped to the video."""
        return min(max(int(round(time_s * self.fps)), 0), max(self.frame_count - 1, 0))

    def frames_in(self, start_s: float = 0.0, end_s: float | None = None) -> range:
        """The frames whose timestamps lie in [start_s, end_s): ranges that meet share no frame, and
        a bound a float's width past a frame's time (0.28 s * 25 = 7.000000000000001) keeps it."""
        def first_at(time_s: float) -> int:
            return min(max(math.ceil(time_s * self.fps - 1e-6), 0), self.frame_count)

        return range(first_at(start_s), self.frame_count if end_s is None else first_at(end_s))


class FrameScores(Model):
    """One anomaly score per frame; higher is more anomalous, calibrated on normal footage."""

    scorer_id: str
    fps: PositiveFloat
    scores: list[float]
    smoothing_sigma: NonNegativeFloat = 0.0
    threshold: float | None = None

    @property
    def times(self) -> list[float]:
        return [i / self.fps for i in range(len(self.scores))]


PICTURE_ROWS = ("top", "middle", "bottom")
PICTURE_COLUMNS = ("left", "centre", "right")
WHOLE = 0.8  # a box this much of the picture's width and height is the whole picture, in no one ninth
COMPASS = ("rightwards", "down-right", "downwards", "down-left", "leftwards", "up-left", "upwards", "up-right")


def place_in_picture(x: float, y: float, width: float, height: float) -> str:
    """The ninth of the picture a point lies in, in words: "bottom left", "top centre", "centre". A model
    sees frames resized, and reads "the bottom left of the picture" where a pixel box means little to it."""
    row = PICTURE_ROWS[min(max(int(3 * y / height), 0), 2)]
    column = PICTURE_COLUMNS[min(max(int(3 * x / width), 0), 2)]
    return "centre" if (row, column) == ("middle", "centre") else f"{row} {column}"


def place_of_box(box: Sequence[float], width: float, height: float) -> str:
    """The ninth of the picture a box's centre lies in, or "whole" for a box over (nearly) all of it: the
    evidence of a frame changing as a whole (someone filling the lens, a cut, a flash, the camera moving) lies in
    no one ninth."""
    x0, y0, x1, y1 = box
    if x1 - x0 >= WHOLE * width and y1 - y0 >= WHOLE * height:
        return "whole"
    return place_in_picture((x0 + x1) / 2, (y0 + y1) / 2, width, height)


def picture_part(place: str) -> str:
    """A place (`place_of_box`) in words: "the whole picture", "the bottom left of the picture"."""
    return "the whole picture" if place == "whole" else f"the {place} of the picture"


def heading_in_words(degrees: float) -> str:
    """A direction in the picture (0 = rightwards, 90 = downwards) as the nearest of eight words."""
    return COMPASS[int(((degrees + 22.5) % 360) // 45)]


class Region(Model):
    """Where the scorer's evidence lies in one frame: a box in the video's own pixels, and its place in words."""

    box: tuple[NonNegativeInt, NonNegativeInt, NonNegativeInt, NonNegativeInt] = Field(description="x0, y0, x1, y1")
    place: str = Field(description='the ninth of the picture its centre lies in: "bottom left", "centre", …; "whole" '
                                   "for a box over (nearly) all of it")
    at_s: NonNegativeFloat = Field(description="the frame's time")
    why: str = Field("", description='what the scorer measured there, where it says: "an object 2.6× taller than anything '
                                     'seen there (…)", "motion downwards at 576 px/s, 16.3× the fastest normal motion '
                                     'there", "the picture shows next to nothing (…)"')

    @classmethod
    def of(cls, box: tuple[int, int, int, int], width: int, height: int, at_s: float, why: str = "") -> Self:
        x0, y0, x1, y1 = (max(int(v), 0) for v in box)
        return cls(box=(x0, y0, x1, y1), place=place_of_box((x0, y0, x1, y1), width, height), at_s=at_s, why=why)

    @property
    def part(self) -> str:
        """Its place in words: "the bottom left of the picture", "the whole picture"."""
        return picture_part(self.place)

    @property
    def where(self) -> str:
        """Its place as a sentence says it: "at the bottom left of the picture", "over the whole picture"."""
        return ("over " if self.place == "whole" else "at ") + self.part


class Candidate(Model):
    """A segment around a score peak that the explain graph will look at."""

    start_s: NonNegativeFloat
    end_s: NonNegativeFloat
    peak_s: NonNegativeFloat
    peak_score: float
    start_frame: NonNegativeInt
    end_frame: NonNegativeInt
    below_threshold: bool = Field(False, description="taken to meet the minimum number of calls, not above threshold")
    region: Region | None = Field(None, description="where the scorer's evidence lies at the peak")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        _check_span(self.start_s, self.end_s)
        if not self.start_s <= self.peak_s <= self.end_s:
            raise ValueError(f"peak ({self.peak_s:g} s) lies outside [{self.start_s:g}, {self.end_s:g}] s")
        if self.end_frame < self.start_frame:
            raise ValueError(f"end_frame {self.end_frame} is before start_frame {self.start_frame}")
        return self


class Relation(Model):
    """A text triple over a time span, e.g. ("object 3", "moves against", "the flow of walkers")."""

    subject: str = Field(min_length=1)
    predicate: str = Field(min_length=1)
    object: str = ""
    start_s: NonNegativeFloat
    end_s: NonNegativeFloat
    evidence: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        _check_span(self.start_s, self.end_s)
        return self

    def text(self) -> str:
        start, end = f"{self.start_s:.1f}", f"{self.end_s:.1f}"
        return " ".join(p for p in (self.subject, self.predicate, self.object) if p) + (
            f" (at {start} s)" if start == end else f" ({start}–{end} s)"
        )


class Severity(IntEnum):
    NONE = 0
    MINOR = 1
    MODERATE = 2
    SERIOUS = 3
    CRITICAL = 4


SEVERITY_MEANING = {
    Severity.NONE: "none",
    Severity.MINOR: "minor, no risk",
    Severity.MODERATE: "moderate, worth a look",
    Severity.SERIOUS: "serious, risk to people or property",
    Severity.CRITICAL: "critical, immediate response",
}


class Verdict(StrEnum):
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    UNCERTAIN = "uncertain"


class AnomalyEvent(Model):
    """One explained event. `category` must be an id of the taxonomy in use.

    Validate with `AnomalyEvent.model_validate(data, context={"taxonomy": taxonomy})` to check
    the category; `VideoReport` does this for all its events against its own taxonomy.
    """

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    start_s: NonNegativeFloat
    end_s: NonNegativeFloat
    category: str
    label: str
    what: str
    cause: str
    effect: str
    severity: Severity
    severity_rationale: str = ""
    confidence: float = Field(ge=0.0, le=1.0)
    evidence_frames: list[NonNegativeFloat] = Field(default_factory=list, description="timestamps (s)")
    matched_rules: list[str] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list)
    verdict: Verdict = Verdict.UNCERTAIN
    reflection_notes: list[str] = Field(default_factory=list)
    region: Region | None = Field(None, description="where the scorer's evidence lies at the candidate's peak")

    @field_validator("severity", mode="before")
    @classmethod
    def _severity_range(cls, value: object) -> object:
        if isinstance(value, int | float) and not 0 <= value <= 4:
            raise ValueError(f"severity must be 0–4 (0 none … 4 critical), got {value}")
        return value

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str, info: ValidationInfo) -> str:
        taxonomy = (info.context or {}).get("taxonomy")
        if taxonomy is not None:
            taxonomy.require(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        _check_span(self.start_s, self.end_s)
        return self


class TokenUsage(Model):
    calls: NonNegativeInt = 0
    prompt_tokens: NonNegativeInt = 0
    completion_tokens: NonNegativeInt = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class ScorerSummary(Model):
    scorer_id: str
    fps: PositiveFloat
    smoothing_sigma: NonNegativeFloat = 0.0
    threshold: float | None = None
    candidates: list[Candidate] = Field(default_factory=list)
    scores_file: str | None = Field(default=None, description="path of scores.csv, relative to the report")


class CandidateContext(Model):
    """What was gathered around one candidate (keyframe times, relations) and whether the VLM explained it."""

    candidate: NonNegativeInt = Field(description="index into scorer.candidates")
    status: Literal["explained", "failed", "detected"] = Field(
        "detected", description="explained: the VLM answered; failed: its calls failed (see reason); detected: not asked")
    reason: str = Field("", description="why a failed candidate was not explained")
    keyframes_s: list[NonNegativeFloat] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list)


class VideoReport(Model):
    schema_version: Literal["1.0"] = SCHEMA_VERSION
    video: VideoInfo
    scorer: ScorerSummary
    events: list[AnomalyEvent] = Field(default_factory=list)
    contexts: list[CandidateContext] = Field(default_factory=list, description="per candidate, explained or not")
    taxonomy: Taxonomy
    rules: RuleSet | None = None
    models: dict[str, str] = Field(default_factory=dict, description="role → model string")
    prompts_version: str = ""
    timings_s: dict[str, NonNegativeFloat] = Field(default_factory=dict, description="stage → wall seconds")
    usage: TokenUsage = Field(default_factory=TokenUsage)
    explained: bool = Field(True, description="False when no VLM was reachable, or it failed for every candidate: "
                                              "detection only (see contexts[].reason)")
    notes: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))

    @model_validator(mode="after")
    def _events_in_taxonomy(self) -> Self:
        for event in self.events:
            self.taxonomy.require(event.category)
            if event.end_s > self.video.duration_s + 1e-6:
                raise ValueError(
                    f"event {event.id} ends at {event.end_s:g} s, after the video ({self.video.duration_s:g} s)"
                )
        if self.rules is not None:
            known = {rule.id for rule in self.rules.rules}
            for event in self.events:
                unknown = sorted(set(event.matched_rules) - known)
                if unknown:
                    raise ValueError(f"event {event.id} cites unknown rule ids {unknown}")
        return self
