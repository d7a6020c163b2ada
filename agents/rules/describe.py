"""Structured frame descriptions: the VLM's view of a normal frame, in a form rules can be mined from."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

# Bounded by a pattern, not maxLength: xgrammar lets control characters through maxLength (VLM-FACTS).
Phrase = Annotated[str, Field(pattern=r'^[^\x00-\x1f"\\]{2,160}$')]


class FrameDescription(BaseModel):
    people: list[Phrase] = Field(default_factory=list, max_length=12,
                                 description="one short phrase per person or group: what they are doing")
    objects: list[Phrase] = Field(default_factory=list, max_length=12,
                                  description="objects and vehicles in view, with what they are doing")
    scene: Phrase = Field(description="the place: layout, surfaces, fixed structures")

    def statements(self) -> list[str]:
        return [*self.people, *self.objects, self.scene]

    def text(self) -> str:
        """One caption for matching; each statement its own sentence."""
        return " ".join(f"{s.rstrip('.')}." for s in self.statements())


def frame_ref(source: str, frame: int, time_s: float) -> str:
    """How a frame is named in prompts and provenance: `clip#frame@time`."""
    from pathlib import Path

    return f"{Path(source).name}#{frame}@{time_s:.2f}s"
