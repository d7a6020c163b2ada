"""A chat about a batch of videos: the output folder of `vadagent report` (or any folder of report folders).

"Which videos had a fight?", "what was the most severe event?", then "what happened in cam2's?" and a look at it.
The batch's own lists answer the first (its index.json and events.jsonl, written as the batch runs); a video's
report answers the rest, through the one-video chat's tools (`tools.VideoContext`), each video's loaded when first
asked about. A video is named by its report folder, unique within a batch; an event by that name and its id
("cam2_0101/e1"). What a model said in a report (an event's label, what happened) reaches the prompt as data, as in
the one-video chat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from vadagent.agents.chat.session import load_report
from vadagent.agents.chat.steps import ChatStep, ChatTool, OutOfRange, cites_times_within, step_model
from vadagent.agents.chat.tools import TOOLS as VIDEO_TOOLS
from vadagent.agents.chat.tools import VideoContext, moved
from vadagent.errors import UsageError
from vadagent.prompts import render
from vadagent.tools.index import FINISHED, IndexEvent, IndexRow, read_batch_events, read_batch_rows, report_folder
from vadagent.tools.vlm import Usage, VLMClient
from vadagent.types import Verdict

LISTED = 40  # videos or events a list gives the model at once; the rest are counted (a small model's context)


@dataclass(frozen=True)
class BatchVideo:
    name: str  # its report folder's name, or its file's name where it has no report
    row: IndexRow
    report_dir: Path | None  # where its report.json is, where it has one


def is_batch(folder: Path) -> bool:
    """Whether a folder is a batch's output, or holds report folders (not being one itself)."""
    return folder.is_dir() and not (folder / "report.json").is_file() and (
        (folder / "index.json").is_file() or any(folder.glob("*/report.json")))


@dataclass
class BatchContext:
    """What a conversation about a batch is grounded in; the chat's scope as `VideoContext` is for one video."""

    folder: Path
    client: VLMClient | None
    usage: Usage = field(default_factory=Usage)

    def __post_init__(self) -> None:
        rows = read_batch_rows(self.folder)
        if rows is None:  # a folder of reports that no batch indexed (several `explain` outputs gathered)
            self.videos, self.listed_events = self._gathered()
        else:
            self.videos, self.listed_events = [self._indexed(r) for r in rows], read_batch_events(self.folder)
        if not self.videos:
            raise UsageError(f"{self.folder}: the batch lists no videos yet")
        self._by_name = {v.name: v for v in self.videos}
        self._contexts: dict[str, VideoContext] = {}

    def _indexed(self, row: IndexRow) -> BatchVideo:
        if row.status in FINISHED and row.report:
            folder = report_folder(self.folder, row.report)
            return BatchVideo(folder.name, row, folder)
        return BatchVideo(Path(row.source).name, row, None)

    def _gathered(self) -> tuple[list[BatchVideo], list[IndexEvent]]:
        videos, events = [], []
        for file in sorted(self.folder.glob("*/report.json")):
            report, _ = load_report(file)
            severities = [int(e.severity) for e in report.events]
            row = IndexRow(report.video.path, "explained" if report.explained else "detected", str(file),
                           len(report.scorer.candidates), len(report.events),
                           sum(e.verdict == Verdict.CONFIRMED for e in report.events), max(severities, default=None),
                           max((c.peak_score for c in report.scorer.candidates), default=None), None)
            videos.append(BatchVideo(file.parent.name, row, file.parent))
            events += [IndexEvent(report.video.path, str(file), e.id, e.start_s, e.end_s, e.category, e.label,
                                  int(e.severity), str(e.verdict), e.confidence, e.what) for e in report.events]
        # as the index orders them: those the model judged normal last, then by severity, confidence, video, time
        events.sort(key=lambda e: (e.verdict == str(Verdict.REJECTED), -e.severity, -e.confidence, e.source, e.start_s))
        return videos, events

    # -- the chat's scope ------------------------------------------------------------------------
    @property
    def tools(self) -> dict[str, ChatTool]:
        return BATCH_TOOLS

    @property
    def title(self) -> str:
        return f"the batch in {self.folder}"

    @property
    def reported(self) -> list[str]:
        """The names of the videos with a report: the ones a tool can be pointed at."""
        return [v.name for v in self.videos if v.report_dir is not None]

    @property
    def notice(self) -> str | None:
        """Videos the chat cannot answer about in full: without a report yet, or moved since they were explained."""
        said = []
        if without := len(self.videos) - len(self.reported):
            said.append(f"{without} of its {len(self.videos)} videos have no report (failed, or not finished: /videos "
                        "lists them)")
        if gone := sum(moved(v.row.source) for v in self.videos if v.report_dir):
            said.append(f"{gone} explained video(s) are not where they were explained (moved or deleted?): their "
                        "reports are at hand, their frames are not")
        return "; ".join(said) + "." if said else None

    def kept_folders(self) -> set[Path]:
        """The batch's folder, its report folders and its videos' folders: no transcript is saved over their files."""
        return ({self.folder.resolve()} | {v.report_dir.resolve() for v in self.videos if v.report_dir}
                | {Path(v.row.source).resolve().parent for v in self.videos if "://" not in v.row.source})

    def step_model(self, must_answer: bool) -> type[ChatStep]:
        return step_model(list(BATCH_TOOLS), [self.event_name(e) for e in self.listed_events], videos=self.reported,
                          must_answer=must_answer)

    def prompt(self, messages: list[dict], must_answer: bool) -> str:
        return render("chat_batch_agent", folder=self.folder.name, videos=self.video_lines(),
                      count=len(self.videos), events=len(self.listed_events), messages=messages, must_answer=must_answer,
                      tools=[(t.name, t.description) for t in BATCH_TOOLS.values()])

    def outside(self, question: str) -> str | None:
        """The answer to a question naming one video and a time outside it, given without a model call (a question
        naming none or several is the model's; the tools refuse spans outside the video they look at)."""
        named = [n for n in self.reported if re.search(rf"(?<![\w/.-]){re.escape(n)}(?![\w-])", question)]
        if len(named) != 1:
            return None
        refused = self.video(named[0]).outside(question)
        return f"{named[0]}: {refused}" if refused else None

    def valid_cites(self, cites: list[str]) -> list[str]:
        """The citations that name an event of the batch ("cam2_0101/e1"), a video with a report, or one and times
        inside it ("cam2_0101 12.5 s")."""
        events = {self.event_name(e) for e in self.listed_events}
        kept = []
        for cite in (c.strip() for c in cites):
            name = next((n for n in sorted(self.reported, key=len, reverse=True) if cite.startswith(n)), None)
            rest = cite[len(name):].strip(" ,:@") if name else ""
            if cite in events or (name and (not rest or cites_times_within(re.sub(r"^at\s+", "", rest),
                                                                           self.video(name).duration_s))):
                kept.append(cite)
        return kept

    # -- tools ------------------------------------------------------------------------------------
    def video(self, name: str) -> VideoContext:
        """A video's report as the one-video chat reads it, loaded when first asked about."""
        if not name:
            raise OutOfRange(f"this tool looks at one video: give \"video\", one of {', '.join(self.reported[:LISTED])}")
        if name not in self._contexts:
            found = self._by_name.get(name)
            if found is None or found.report_dir is None:
                known = ", ".join(self.reported[:LISTED]) or "none"
                why = f" ({found.row.status})" if found else ""
                raise OutOfRange(f"no report of a video {name!r} in this batch{why}; the videos with one: {known}")
            report, folder = load_report(found.report_dir)
            self._contexts[name] = VideoContext(report, folder, self.client, usage=self.usage)
        return self._contexts[name]

    def video_lines(self) -> list[str]:
        """A line per video, those with the most severe events first, then by peak score; counted beyond `LISTED`."""
        ranked = sorted(self.videos, key=lambda v: (v.report_dir is None, -(v.row.max_severity or -1),
                                                    -(v.row.peak_score or 0.0), v.name))
        lines = [f"- {v.name}: {_status(v)}" for v in ranked[:LISTED]]
        return lines + ([f"({len(ranked) - LISTED} more videos; index.html lists all)"] if len(ranked) > LISTED else [])

    def videos_text(self) -> str:
        return f"{len(self.videos)} videos in {self.folder.name}:\n" + "\n".join(self.video_lines())

    def events_text(self) -> str:
        """The batch's events, the most severe first, as its index lists them."""
        if not self.listed_events:
            return (f"No explained events in the batch's {len(self.videos)} videos. Ask about one video (its candidate "
                    "moments, in 'video') or see /videos.")
        lines = [f"- {self.event_name(e)}: {e.start_s:.1f}–{e.end_s:.1f} s, {e.category} ({e.label}), severity "
                 f"{e.severity}, {e.verdict}: {e.what}" for e in self.listed_events[:LISTED]]
        more = len(self.listed_events) - LISTED
        return "\n".join(lines + ([f"({more} more, less severe; ask about one video for all of its)"] if more > 0 else []))

    def one_video(self, name: str) -> str:
        """A video's events and score timeline."""
        video = self.video(name)
        return f"{name}:\n{video.events()}\n{video.timeline()}"

    def event(self, qualified: str) -> str:
        name, _, event_id = qualified.rpartition("/")
        if not name:
            raise OutOfRange(f"{qualified!r} names no video: a batch's events are named VIDEO/ID, as /events lists them")
        return f"{name}: {self.video(name).event(event_id)}"

    def event_name(self, event: IndexEvent) -> str:
        return f"{Path(event.report).parent.name}/{event.id}"


def _status(video: BatchVideo) -> str:
    row = video.row
    if video.report_dir is None:
        return row.status + (f": {row.error.splitlines()[0][:200]}" if row.error else "")
    said = f"{Path(row.source).name}, {row.status}, {row.events or 0} event(s)"
    said += f", highest severity {row.max_severity}" if row.max_severity is not None else ""
    said += f", {row.candidates} candidate moment(s)" if not row.events and row.candidates is not None else ""
    return said + (" (its video is not there any more)" if moved(row.source) else "")


def _on(tool: ChatTool):
    """A one-video tool, pointed at the video a step names."""
    return lambda ctx, step: tool.call(ctx.video(step.get("video", "")), step)


BATCH_TOOLS: dict[str, ChatTool] = {tool.name: tool for tool in (
    ChatTool("videos", "the batch's videos: each one's status, events and highest severity.", (),
             lambda ctx, _: ctx.videos_text()),
    ChatTool("events", "the events of every video, the most severe first.", (), lambda ctx, _: ctx.events_text()),
    ChatTool("video", 'one video\'s events, candidate moments and score timeline (give "video").', ("video",),
             lambda ctx, s: ctx.one_video(s.get("video", ""))),
    ChatTool("event", 'one event in detail (give "event_id", VIDEO/ID).', ("event_id",),
             lambda ctx, s: ctx.event(s.get("event_id", ""))),
    ChatTool("look", 'look at "video" between "t0" and "t1" seconds and ask the model "question" about those frames.',
             ("video", "span", "question"), _on(VIDEO_TOOLS["look"]), needs_vlm=True),
    ChatTool("relations", 'object relations (tracks, speed, proximity) in "video" between "t0" and "t1".',
             ("video", "span"), _on(VIDEO_TOOLS["relations"])),
    ChatTool("rules", 'the rule set "video"\'s report used.', ("video",), _on(VIDEO_TOOLS["rules"])),
)}
