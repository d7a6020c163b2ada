"""A chat about one video: its tools read the VideoReport, or look at a span of the video with the VLM.

Every tool returns plain text that cites timestamps and event ids, so the answer built on it can
cite them too. Times outside the video are refused here, before any frame is read or model called.
`TOOLS` is the one registry: the model's step schema, the prompt's tool list, the slash commands
and their help are all derived from it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from vadagent.agents.chat.steps import ChatStep, ChatTool, OutOfRange, cites_times_within, mentioned_times, step_model
from vadagent.prompts import render
from vadagent.tools.video import open_video
from vadagent.tools.vlm import Image, Message, Sampling, Usage, VLMClient
from vadagent.types import VideoReport

LOOK_FRAMES = 6


class LookAnswer(BaseModel):
    answer: str = Field(pattern=r'^[^\x00-\x1f"\\]{1,600}$')
    frames: list[int] = Field(default_factory=list, description="numbers of the frames that show it")


def moved(video: str) -> bool:
    """Whether a video was moved or deleted since it was explained (a stream's URL never is)."""
    return "://" not in video and not Path(video).exists()


def video_gone(report: VideoReport) -> bool:
    """Whether a report's video was moved or deleted since it was explained."""
    return moved(report.video.path)


@dataclass
class VideoContext:
    """What a conversation is grounded in."""

    report: VideoReport
    report_dir: Path | None
    client: VLMClient | None
    usage: Usage = field(default_factory=Usage)

    @property
    def folder_fps(self) -> float:
        """The frame rate a folder of frames was explained at: its report's times count in it."""
        return self.report.video.fps

    @property
    def duration_s(self) -> float:
        return self.report.video.duration_s

    @property
    def video_gone(self) -> str | None:
        """Why frames cannot be read again, where the report's video was moved or deleted since it was explained."""
        if not video_gone(self.report):
            return None
        return (f"The report's video {self.report.video.path} is not there any more (moved or deleted?): its frames "
                "cannot be looked at or tracked again; the report's events, scores and relations are still at hand.")

    # -- the chat's scope (as `batch.BatchContext`'s): what the agent graph asks of it ---------------
    @property
    def tools(self) -> dict[str, ChatTool]:
        return TOOLS

    @property
    def title(self) -> str:
        return Path(self.report.video.path).name

    @property
    def notice(self) -> str | None:
        """What the user is told as the chat opens."""
        return self.video_gone

    def kept_folders(self) -> set[Path]:
        """Folders a transcript must not be saved into over a file: the video's and the report's."""
        return {Path(self.report.video.path).resolve().parent} | ({self.report_dir.resolve()} if self.report_dir else set())

    def step_model(self, must_answer: bool) -> type[ChatStep]:
        return step_model(list(TOOLS), [e.id for e in self.report.events], must_answer=must_answer)

    def prompt(self, messages: list[dict], must_answer: bool) -> str:
        names = [f"{e.id} ({e.start_s:.1f}–{e.end_s:.1f} s, {e.label})" for e in self.report.events]
        return render("chat_agent", video_name=self.title, duration_s=self.duration_s, events=names, messages=messages,
                      must_answer=must_answer, tools=[(t.name, t.description) for t in TOOLS.values()])

    def outside(self, question: str) -> str | None:
        """The answer to a question naming a time outside the video, given without a model call."""
        outside = [t for t in mentioned_times(question) if t > self.duration_s + 1e-6]
        if not outside:
            return None
        return (f"The video is {self.duration_s:.1f} s long, so {outside[0]:g} s is outside it: there is nothing to look "
                f"at there. Ask about 0–{self.duration_s:.1f} s.")

    def valid_cites(self, cites: list[str]) -> list[str]:
        """The citations that name a real event id or a time inside the video."""
        ids = {e.id for e in self.report.events}
        return [c.strip() for c in cites if c.strip() in ids or cites_times_within(c.strip(), self.duration_s)]

    def check_span(self, t0: float, t1: float) -> tuple[float, float]:
        if t1 < t0:
            t0, t1 = t1, t0
        if t0 < 0 or t0 > self.duration_s or t1 > self.duration_s + 1e-6:
            raise OutOfRange(f"{t0:g}–{t1:g} s is outside this video, which runs from 0 to {self.duration_s:.1f} s")
        return t0, t1

    # -- tools ----------------------------------------------------------------------------------
    def timeline(self) -> str:
        r, s = self.report, self.report.scorer
        lines = [f"{Path(r.video.path).name}: {r.video.duration_s:.1f} s at {r.video.fps:g} fps; scorer {s.scorer_id}, "
                 f"threshold {s.threshold:.2f}; {len(s.candidates)} candidate moment(s):"]
        lines += [f"- {c.start_s:.1f}–{c.end_s:.1f} s, peak {c.peak_score:.2f} at {c.peak_s:.1f} s"
                  + (f", {c.region.where}" if c.region else "")
                  + (" (below the threshold)" if c.below_threshold else "")
                  + (f" (scorer: {c.region.why})" if c.region and c.region.why else "") for c in s.candidates]
        curve = self._score_curve()
        if curve:
            lines.append("score per 2 s (max): " + ", ".join(f"{t:.0f}s {v:+.1f}" for t, v in curve))
        # what the product noted of this run (how the scorer was fitted, stretches that arrived damaged, candidates
        # below the threshold): its own words, never text from the video
        lines += ["Notes:", *(f"- {note}" for note in r.notes)] if r.notes else []
        return "\n".join(lines)

    def events(self) -> str:
        if not self.report.events:
            note = "" if self.report.explained else " (this report was not explained: no VLM was reachable)"
            count = len(self.report.scorer.candidates)
            where = "; see the timeline." if count else "."
            return f"No explained events{note}. {count} candidate moment(s) were detected{where}"
        return "\n".join(f"- {e.id}: {e.start_s:.1f}–{e.end_s:.1f} s, {e.category} ({e.label}), severity {int(e.severity)}, "
                         f"{e.verdict.value}: {e.what}" for e in self.report.events)

    def event(self, event_id: str) -> str:
        found = next((e for e in self.report.events if e.id == event_id), None)
        if found is None:
            known = ", ".join(e.id for e in self.report.events) or "none"
            return f"There is no event {event_id!r}; the events are: {known}."
        e = found
        parts = [f"{e.id} ({e.start_s:.1f}–{e.end_s:.1f} s): {e.label}, category {e.category}, severity {int(e.severity)} "
                 f"({e.severity_rationale}), {e.verdict.value}, confidence {e.confidence:.2f}.",
                 f"What: {e.what}", f"Cause: {e.cause}", f"Effect: {e.effect}",
                 "Frames: " + ", ".join(f"{t:.2f} s" for t in e.evidence_frames)]
        if e.region:
            x0, y0, x1, y1 = e.region.box
            parts.append(f"Where: {e.region.part}, region ({x0},{y0})-({x1},{y1}) of the "
                         f"{self.report.video.width}×{self.report.video.height} frame at {e.region.at_s:.2f} s")
        if e.matched_rules:
            parts.append("Matched rules: " + ", ".join(e.matched_rules))
        if e.relations:
            parts.append("Relations: " + "; ".join(r.text() for r in e.relations[:6]))
        return "\n".join(parts)

    def relations(self, t0: float, t1: float) -> str:
        t0, t1 = self.check_span(t0, t1)
        found = [r for e in self.report.events for r in e.relations] + [r for c in self.report.contexts for r in c.relations]
        inside = {r.text(): r for r in found if r.end_s >= t0 and r.start_s <= t1}
        if not inside and self.video_gone:
            return self.video_gone
        if not inside:
            from vadagent.tools.relations import track_objects, track_relations

            tracked = track_objects(self.report.video.path, t0, t1, folder_fps=self.folder_fps)
            inside = {r.text(): r for r in track_relations(tracked)}
        if not inside:
            return f"No relations found between {t0:.1f} and {t1:.1f} s."
        return "\n".join(f"- {text}" for text in sorted(inside, key=lambda k: inside[k].start_s))

    def rules(self) -> str:
        rules = self.report.rules
        if rules is None or not rules.rules:
            return "This report used no rule set."
        return f"Rule set {rules.scene!r} v{rules.version}:\n" + "\n".join(
            f"- {r.id} [{r.kind.value}] {r.text}" for r in rules.rules)

    async def look(self, t0: float, t1: float, question: str) -> str:
        """A fresh VLM call on frames of [t0, t1]; the question and frame times go to the model."""
        t0, t1 = self.check_span(t0, t1)
        if self.client is None:
            return "Looking at the video needs a VLM, and none is configured (--vlm)."
        if self.video_gone:
            return self.video_gone
        times = np.linspace(t0, min(t1, self.duration_s - 1e-3), LOOK_FRAMES if t1 > t0 else 1)
        with open_video(self.report.video.path, folder_fps=self.folder_fps) as video:
            batch = video.read_at(times)
        prompt = render("chat_look", question=question, times=[float(t) for t in batch.times], t0=t0, t1=t1)
        parts = [Image(p, float(t)) for p, t in zip(batch.frames, batch.times)]
        result = await self.client.agenerate([Message.user(*parts, prompt)], LookAnswer, Sampling(max_tokens=512))
        self.usage.add(result.usage)
        cited = [f"{batch.times[i]:.2f} s" for i in result.output.frames if 0 <= i < len(batch.times)]
        return f"Looked at {t0:.1f}–{t1:.1f} s: {result.output.answer}" + (f" (frames at {', '.join(cited)})" if cited else "")

    def _score_curve(self) -> list[tuple[float, float]]:
        if self.report_dir is None or not (self.report_dir / "scores.csv").is_file():
            return []
        with (self.report_dir / "scores.csv").open(newline="") as handle:
            rows = [(float(r["time_s"]), float(r["score"])) for r in csv.DictReader(handle)]
        bins: dict[int, float] = {}
        for t, v in rows:
            key = int(t // 2)
            bins[key] = max(bins.get(key, -1e9), v)
        return [(k * 2.0, v) for k, v in sorted(bins.items())]


TOOLS: dict[str, ChatTool] = {tool.name: tool for tool in (
    ChatTool("events", "all events with their times.", (), lambda ctx, _: ctx.events()),
    ChatTool("event", 'one event in detail (give "event_id").', ("event_id",),
             lambda ctx, s: ctx.event(s.get("event_id", ""))),
    ChatTool("timeline", "the score timeline and candidate moments.", (), lambda ctx, _: ctx.timeline()),
    ChatTool("rules", "the rule set the report used.", (), lambda ctx, _: ctx.rules()),
    ChatTool("look", 'look at the video between "t0" and "t1" seconds and ask the model "question" about those frames.',
             ("span", "question"), lambda ctx, s: ctx.look(float(s["t0"]), float(s["t1"]),
                                                          s.get("question") or "What happens here?"), needs_vlm=True),
    ChatTool("relations", 'object relations (tracks, speed, proximity) between "t0" and "t1".', ("span",),
             lambda ctx, s: ctx.relations(float(s["t0"]), float(s["t1"]))),
)}
