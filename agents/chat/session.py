"""A conversation about one video or a batch of them: open its report(s), ask, stream the steps, resume by id."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from vadagent.agents.chat.agent import ChatScope, build_chat_graph
from vadagent.agents.chat.steps import ChatTool
from vadagent.agents.chat.tools import TOOLS
from vadagent.errors import UsageError, validation_summary
from vadagent.types import VideoReport

MAX_QUESTION_CHARS = 4000  # a question, not a document: longer ones cost minutes of prompt processing
MARKDOWN_SYNTAX = re.compile(r"([\\`*_\[\]<>!&|#])")  # escaped by a backslash, each is shown as itself
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:s)?\s*-\s*(\d+(?:\.\d+)?)\s*(?:s)?\s*(.*)$")


def commands(tools: dict[str, ChatTool]) -> str:
    """The slash commands of a chat with these tools, as its help line says them."""
    return " · ".join([*(t.usage for t in tools.values()), "/save [FILE]", "/quit"])


COMMANDS = commands(TOOLS)  # a video's


@dataclass
class Reply:
    text: str
    cites: list[str]
    tools: list[str]  # the tool calls made for this reply, in order


def load_report(path: Path) -> tuple[VideoReport, Path]:
    """A report.json, or a folder holding one."""
    file = path / "report.json" if path.is_dir() else path
    if not file.is_file():
        raise UsageError(f"{path}: no report.json here (run 'vadagent explain' first, or give a video)")
    try:
        return VideoReport.model_validate_json(file.read_bytes()), file.parent
    except ValidationError as error:
        raise UsageError(f"{file}: not a valid report: {validation_summary(error)}") from None


def literal(text: str) -> str:
    """`text` for a Markdown file, shown as written: what a model says may quote a video's signs, and a
    Markdown viewer would fetch an image or render HTML written in it."""
    return MARKDOWN_SYNTAX.sub(r"\\\1", text)


def parse_command(text: str, tools: dict[str, ChatTool] = TOOLS) -> dict | None:
    """A slash command as a direct tool call; None for a plain question. Bad syntax is a UsageError."""
    if not text.startswith("/"):
        return None
    name, _, rest = text[1:].partition(" ")
    tool = tools.get(name)
    if tool is None:
        raise UsageError(f"unknown command /{name}; commands: {commands(tools)}")
    step: dict = {"tool": name}
    if "video" in tool.arguments:
        step["video"], _, rest = rest.strip().partition(" ")
        if not step["video"]:
            raise UsageError(f"usage: {tool.usage} (a video's name, as /videos lists them)")
    if "event_id" in tool.arguments:
        step["event_id"] = rest.strip()
    if "span" in tool.arguments:
        match = _SPAN.match(rest)
        if match is None:
            raise UsageError(f"usage: {tool.usage} (seconds, e.g. /{name} {'VIDEO ' * ('video' in tool.arguments)}12-15.5)")
        step |= {"t0": float(match[1]), "t1": float(match[2]),
                 "question": match[3].strip() if "question" in tool.arguments else ""}
    return step


@asynccontextmanager
async def open_memory(path: Path):
    """The conversation store: LangGraph's SQLite checkpointer with a strict serializer (plain data
    only, no pickle, no class reconstruction), since a memory file may come from someone else."""
    import aiosqlite
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path.parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(str(path)) as connection:
        try:
            await connection.execute("pragma schema_version")  # a file that is not SQLite fails here, clearly
            await connection.commit()  # the checkpointer switches to WAL, which needs no open transaction
        except sqlite3.DatabaseError as error:
            raise UsageError(f"{path}: not a chat memory file (SQLite): {error}") from None
        yield AsyncSqliteSaver(connection, serde=JsonPlusSerializer(pickle_fallback=False, allowed_msgpack_modules=None))


class ChatSession:
    def __init__(self, context: ChatScope, *, memory: Path, conversation: str | None = None) -> None:
        self.context = context
        self.memory = memory
        self.conversation = conversation or uuid.uuid4().hex[:12]

    def _config(self) -> dict:
        return {"configurable": {"thread_id": self.conversation}, "recursion_limit": 40}

    async def stream(self, text: str) -> AsyncIterator[tuple[str, object]]:
        """Yields ("tool", call text) as tools run, ("delta", text) as the answer is generated (("restart",
        None) if it starts over), then ("reply", Reply)."""
        if len(text) > MAX_QUESTION_CHARS:
            raise UsageError(f"the question is {len(text):,} characters; ask in at most {MAX_QUESTION_CHARS:,}")
        direct = parse_command(text, self.context.tools)
        tools: list[str] = []
        answer: dict | None = None
        async with open_memory(self.memory) as saver:
            graph = build_chat_graph(self.context, saver)
            state = {"messages": [{"role": "user", "content": text}], "direct": direct}
            async for mode, update in graph.astream(state, self._config(), stream_mode=["updates", "custom"]):
                if mode == "custom":  # the answer as it is generated
                    yield ("restart", None) if update.get("restart") else ("delta", update["answer"])
                    continue
                for node_update in update.values():
                    for message in (node_update or {}).get("messages", []):
                        if message["role"] == "tool":
                            tools.append(message["call"])
                            yield "tool", message["call"]
                        elif message["role"] == "assistant":
                            answer = message
        answer = answer or {"content": "(no answer)", "cites": []}
        yield "reply", Reply(answer["content"], answer.get("cites", []), tools)

    async def check_memory(self) -> None:
        """Open the memory file once, so a bad one fails before the first question."""
        async with open_memory(self.memory):
            pass

    async def ask(self, text: str) -> Reply:
        reply = None
        async for kind, value in self.stream(text):
            if kind == "reply":
                reply = value
        return reply

    async def history(self) -> list[dict]:
        async with open_memory(self.memory) as saver:
            snapshot = await build_chat_graph(self.context, saver).aget_state(self._config())
        return list((snapshot.values or {}).get("messages", []))

    async def transcript(self, markdown: bool = True) -> str:
        """The conversation as Markdown (what was said shown literally: see `literal`) or plain text."""
        said = literal if markdown else str
        lines = [f"# Conversation {self.conversation} about {said(self.context.title)}", ""]
        for m in await self.history():
            if m["role"] == "user":
                lines.append(f"**you:** {said(m['content'])}")
            elif m["role"] == "tool":
                lines.append(f"  · {said(m['call'])}: {said(m['content'][:300])}")
            else:
                cites = f" [{', '.join(m['cites'])}]" if m.get("cites") else ""
                lines.append(f"**vadagent:** {said(m['content'] + cites)}")
        return "\n".join(lines) + "\n"
