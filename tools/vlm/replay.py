"""Replay recorded answers from JSONL, and record any client's answers to JSONL.

Each line is one raw answer: `{"key": ..., "text": ..., "usage": {...}}` as recorded, or, for
hand-scripted files, `{"match": "substring of the last user message", "text": ...}` or just
`{"text": ...}` (served in order). Answers are validated by `VLMClient` exactly as live ones,
so a recorded invalid answer replays its retry too.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from vadagent.errors import UsageError
from vadagent.jsonlio import read_jsonl
from vadagent.tools.vlm.base import VLMClient
from vadagent.tools.vlm.types import Completion, Image, Message, Sampling, Text, Usage, Video, VLMError


def request_key(messages: list[Message], schema: dict | None) -> str:
    """A stable digest of a request: roles, texts, image contents and the output schema."""
    digest = hashlib.sha256()
    for message in messages:
        digest.update(message.role.encode())
        for part in message.parts:
            if isinstance(part, Text):
                digest.update(part.text.encode())
            elif isinstance(part, Image):
                digest.update(part.pixels.tobytes())
            elif isinstance(part, Video):
                for frame in part.frames:
                    digest.update(frame.tobytes())
    digest.update(json.dumps(schema, sort_keys=True).encode())
    return digest.hexdigest()[:32]


class ReplayClient(VLMClient):
    def __init__(self, path: str | Path, **options) -> None:
        super().__init__(**options)
        self.path = Path(path)
        self.model = f"replay:{self.path}"
        self.entries = read_jsonl(self.path, missing="replay file not found")
        for number, entry in enumerate(self.entries, 1):
            if not isinstance(entry.get("text"), str):
                raise UsageError(f"{self.path}: record {number} needs a string field 'text'")
        self._used = [False] * len(self.entries)
        self._lock = threading.Lock()

    def _take(self, messages: list[Message], schema: dict | None) -> Completion | VLMError:
        key = request_key(messages, schema)
        last_user = next((m.text for m in reversed(messages) if m.role == "user"), "")
        with self._lock:
            for rule in (lambda e: e.get("key") == key,
                         lambda e: "match" in e and e["match"] in last_user,
                         lambda e: "key" not in e and "match" not in e):
                for i, entry in enumerate(self.entries):
                    if not self._used[i] and rule(entry):
                        self._used[i] = True
                        usage = entry.get("usage") or {}
                        return Completion(entry["text"], Usage(usage.get("prompt_tokens", 0),
                                                               usage.get("completion_tokens", 0)))
        return VLMError(f"{self.model}: no recorded answer left for this request (key {key}; "
                        f"last user message: {last_user[:80]!r})")

    async def _complete_batch(self, conversations: list[list[Message]], schema: dict | None,
                              sampling: Sampling) -> list[Completion | VLMError]:
        return [self._take(c, schema) for c in conversations]


class RecordingClient(VLMClient):
    """Wraps a client; appends every raw answer to a JSONL file as soon as it arrives."""

    def __init__(self, inner: VLMClient, path: str | Path) -> None:
        super().__init__(inner.limits, inner.validation_retries)
        self.inner, self.path = inner, Path(path)
        self.model = inner.model
        self.path.parent.mkdir(parents=True, exist_ok=True)

    async def _complete_batch(self, conversations: list[list[Message]], schema: dict | None,
                              sampling: Sampling) -> list[Completion | VLMError]:
        answers = await self.inner._complete_batch(conversations, schema, sampling)
        with self.path.open("a", encoding="utf-8") as handle:
            for messages, answer in zip(conversations, answers):
                if isinstance(answer, Completion):
                    usage = {"prompt_tokens": answer.usage.prompt_tokens,
                             "completion_tokens": answer.usage.completion_tokens}
                    handle.write(json.dumps({"key": request_key(messages, schema), "model": self.model,
                                             "text": answer.text, "usage": usage}) + "\n")
        return answers

    async def aclose(self) -> None:
        await self.inner.aclose()
