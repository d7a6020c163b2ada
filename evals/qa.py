"""Multiple-choice video Q&A in the style of VANE-Bench: a question over a clip, options A–D,
one letter expected. The file is JSONL, one question a line:

    {"video": "clips/x.mp4", "question": "...", "options": {"A": "...", "B": "..."}, "answer": "B",
     "start_s": 3.0, "end_s": 9.5}

`video` is relative to the file; `start_s`/`end_s` are optional (default: the whole clip).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from vadagent.errors import UsageError
from vadagent.jsonlio import numbered_jsonl
from vadagent.prompts import PROMPTS_VERSION, render
from vadagent.tools.video import open_video
from vadagent.tools.vlm import Message, Sampling, Video

FRAMES_PER_QUESTION = 8

class QAItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    video: str
    question: str = Field(min_length=1)
    options: dict[str, str] = Field(min_length=2)
    answer: str
    start_s: float | None = Field(None, ge=0)
    end_s: float | None = Field(None, ge=0)

    @field_validator("answer")
    @classmethod
    def _answer_is_an_option(cls, value: str, info: ValidationInfo) -> str:
        if value not in info.data.get("options", {}):
            raise ValueError(f"answer {value!r} is not one of the options")
        return value


class Choice(BaseModel):
    answer: str = Field(pattern=r"^[A-F]$")

    @field_validator("answer")
    @classmethod
    def _offered(cls, value: str, info: ValidationInfo) -> str:
        offered = (info.context or {}).get("options")
        if offered is not None and value not in offered:
            raise ValueError(f"{value!r} is not an offered option ({', '.join(offered)})")
        return value


def load_qa(path: str | Path) -> list[QAItem]:
    path = Path(path)
    items = []
    for number, row in numbered_jsonl(path, missing="Q&A file not found"):
        try:
            item = QAItem.model_validate(row)
        except ValidationError as error:
            raise UsageError(f"{path}: line {number}: {error.errors()[0]['msg']}") from None
        if not Path(item.video).is_absolute():
            item.video = str(path.parent / item.video)
        items.append(item)
    if not items:
        raise UsageError(f"{path}: no questions")
    return items


def _clip(item: QAItem) -> Video:
    with open_video(item.video) as video:
        start = item.start_s or 0.0
        end = min(item.end_s if item.end_s is not None else video.info.duration_s, video.info.duration_s)
        if end <= start:
            raise UsageError(f"{item.video}: question span {start:g}–{end:g} s is outside the video")
        times = np.linspace(start, max(start, end - 1.0 / video.info.fps), FRAMES_PER_QUESTION)
        batch = video.read_at(times)
    return Video(tuple(batch.frames), tuple(float(t) for t in batch.times))


def run_qa(items: list[QAItem], client) -> dict:
    correct, failed, rows = 0, 0, []
    for item in items:
        messages = [Message.user(_clip(item), render("qa_choice", question=item.question, options=item.options))]
        (answer,) = client.generate_many([messages], Choice, Sampling(max_tokens=16), context={"options": item.options})
        letter = None if isinstance(answer, Exception) else answer.output.answer
        failed += letter is None
        correct += letter == item.answer
        rows.append({"video": Path(item.video).name, "question": item.question, "expected": item.answer,
                     "answered": letter})
    return {"questions": len(items), "correct": correct, "accuracy": round(correct / len(items), 4),
            "unanswered": failed, "model": client.model, "prompts_version": PROMPTS_VERSION, "rows": rows}
