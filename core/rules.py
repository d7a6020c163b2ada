"""Rules of what is normal and what is not at a site, with provenance and validation figures."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, model_validator

from vadagent.yamlio import dump_yaml_model, load_yaml_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleKind(StrEnum):
    NORMAL = "normal"
    ANOMALY = "anomaly"


class RuleSubject(StrEnum):
    HUMAN_ACTIVITY = "human_activity"
    OBJECT = "object"
    SCENE = "scene"
    CONDITIONAL = "conditional"  # "normal only if …"
    OTHER = "other"


class Provenance(_Strict):
    origin: Literal["induced", "manual", "open_world", "imported"] = "manual"
    sources: list[str] = Field(default_factory=list, description="clips the rule was induced from")
    frames: list[str] = Field(default_factory=list, description="source:frame references")
    support: NonNegativeInt = Field(0, description="batches in which the rule recurred")
    model: str | None = None


class RuleValidation(_Strict):
    clips: list[str] = Field(default_factory=list, description="held-out normal clips checked")
    frames_checked: NonNegativeInt = 0
    frames_fired: NonNegativeInt = Field(0, description="frames the rule matched (for an anomaly rule: false alarms)")
    threshold: float | None = Field(None, description="similarity at which a rule counts as matching")

    @property
    def false_alarm_rate(self) -> float:
        return self.frames_fired / self.frames_checked if self.frames_checked else 0.0


class Rule(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    text: str = Field(min_length=3)
    kind: RuleKind
    subject: RuleSubject = RuleSubject.OTHER
    provenance: Provenance = Field(default_factory=Provenance)
    validation: RuleValidation | None = None


class RuleSet(_Strict):
    schema_version: Literal["1.0"] = "1.0"
    scene: str = Field(min_length=1)
    version: int = Field(1, ge=1)
    rules: list[Rule] = Field(default_factory=list)
    induced_from: list[str] = Field(default_factory=list)
    validation: RuleValidation | None = None
    removed: list[Rule] = Field(default_factory=list, description="rules dropped at validation, kept for the record")

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [r.id for r in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule ids: {duplicates}")
        return self

    def by_kind(self, kind: RuleKind) -> list[Rule]:
        return [r for r in self.rules if r.kind == kind]

    @classmethod
    def from_yaml(cls, path: str | Path) -> RuleSet:
        return load_yaml_model(cls, Path(path))

    def to_yaml(self, path: str | Path) -> None:
        dump_yaml_model(self, Path(path))


def default_rules() -> RuleSet:
    """The generic rule set shipped with vadagent, used when a run names none."""
    from importlib.resources import as_file, files

    with as_file(files("vadagent.prompts") / "rules" / "generic.yaml") as path:
        return RuleSet.from_yaml(path)
