"""Normal footage as a scorer reads it: videos and time ranges (`PATH#t=START,END`), a video's own opening
and closing where it has no normal footage, footage beyond an hour thinned to stretches spread over all of it,
and every tier's reading of it in one pass."""

from __future__ import annotations

import logging
import math
import re
from contextlib import closing
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vadagent.errors import UsageError
from vadagent.tools.scorer import grain as grains
from vadagent.tools.scorer.frames import Turn, chunks, chunks_in_turn, time_scale
from vadagent.tools.scorer.overlay import LOOK_S, TICKS, Overlay, find
from vadagent.tools.scorer.tiers import Geometry, Tier
from vadagent.tools.video import open_video
from vadagent.tools.video.finding import is_frame_folder, videos_under
from vadagent.types import VideoInfo

if TYPE_CHECKING:
    from vadagent.tools.scorer.scorer import Progress, ScorerConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceSpec:
    """A video plus an optional time range, written `PATH#t=START,END` (W3C media fragments)."""

    path: str
    start_s: float = 0.0
    end_s: float | None = None

    @classmethod
    def parse(cls, text: str) -> SourceSpec:
        if "#t=" not in text:
            return cls(text)
        match = re.fullmatch(r"(?P<path>.+?)#t=(?P<start>\d*\.?\d*)(?:,(?P<end>\d*\.?\d+))?", text)
        if match is None or match["start"] == ".":
            raise UsageError(f"{text}: bad time range '{text.rpartition('#t=')[2]}'; "
                             "write PATH#t=START,END or PATH#t=START in seconds, e.g. clip.mp4#t=0,20")
        start = float(match["start"] or 0.0)
        end = float(match["end"]) if match["end"] else None
        if end is not None and end <= start:
            raise UsageError(f"{text}: the time range ends ({end:g} s) before it starts ({start:g} s)")
        return cls(match["path"], start, end)

    @classmethod
    def each(cls, texts: list[str]) -> list[SourceSpec]:
        """Normal footage as given: videos, folders of frames and time ranges of them, and folders that hold
        them, each standing for its videos in order (a site's normal clips kept in one place; Ped2's
        `training/frames`, a folder of sixteen frame folders)."""
        specs = []
        for spec in map(cls.parse, texts):
            folder = Path(spec.path)
            if not folder.is_dir() or is_frame_folder(folder):
                specs.append(spec)
                continue
            found = videos_under(folder)
            if not found.videos:
                raise UsageError(f"{folder}: no videos or frame images in it"
                                 + (f" ({found.left_below} in its subfolders: name them)" if found.left_below else ""))
            if spec != cls(spec.path):
                raise UsageError(f"{spec}: a time range is of one video, and {folder} is a folder of "
                                 f"{len(found.videos)}; give the range to one of them")
            specs += [cls(str(video)) for video in found.videos]
        return specs

    def __str__(self) -> str:
        if not self.start_s and self.end_s is None:
            return self.path
        return f"{self.path}#t={self.start_s:g}" + (f",{self.end_s:g}" if self.end_s is not None else "")

    def end_in(self, duration_s: float) -> float:
        """Where this range ends in a video of `duration_s` seconds (its end when it has one)."""
        return self.end_s if self.end_s is not None else duration_s

    def within(self, duration_s: float) -> SourceSpec:
        """This range checked against the video's length: one past the end is cut there, with a warning."""
        if self.start_s >= duration_s:
            raise UsageError(f"{self}: starts after the video ends ({duration_s:.2f} s)")
        if self.end_s is not None and self.end_s > duration_s + 0.05:
            log.warning("%s: the range runs past the end of the video; using %g–%.2f s", self, self.start_s, duration_s)
            return replace(self, end_s=None)
        return self


# Gray frames kept from the normal footage to make synthetic anomalies from: enough for every
# window many times over, bounded for sites with hours of normal footage (≈ 170 MB at 360 × 240;
# it held every held-out frame, gigabytes for a ShanghaiTech camera), and with many clips: at most
# 16 segments keep frames (selection.window_sources).
KEEP_FRAMES = 2000  # shared by the segments, each keeping its opening
KEEP_AT_LEAST = 120
STRETCH_S = 60.0  # normal footage beyond ScorerConfig.max_footage_s is fitted on stretches this long


def thinned(sources: list[SourceSpec], infos: list[VideoInfo], max_s: float) -> tuple[list[SourceSpec], list[VideoInfo]]:
    """Normal footage of more than `max_s` seconds in all, thinned to `max_s` of it: equal stretches
    of at most STRETCH_S (or the sources' median length) centred at even steps along all of the
    footage (a fit's memory grows by about 11 KB per frame, evals/results/bench_fit_scale.md, and a
    day's recording is better represented by stretches from every hour than by its first hour). A stretch stays inside its
    source; one longer than its source is the whole source. Each source comes with its probed
    video; so does each stretch."""
    spans = [(spec, info, spec.start_s, spec.end_in(info.duration_s)) for spec, info in zip(sources, infos, strict=True)]
    lengths = np.array([end - start for *_, start, end in spans])
    total = float(lengths.sum())
    if total <= max_s:
        return sources, infos
    count = math.ceil(max_s / min(STRETCH_S, float(np.median(lengths))))  # short clips: whole ones, more of them
    length = max_s / count
    offsets = np.concatenate([[0.0], np.cumsum(lengths)])
    chosen: dict[int, list[tuple[float, float]]] = {}
    for centre in (np.arange(count) + 0.5) * total / count:  # centres at least `length` apart, as total > max_s
        i = int(np.searchsorted(offsets, centre, side="right") - 1)
        _, _, start, end = spans[i]
        first = min(max(start + centre - offsets[i] - length / 2, start), max(end - length, start))
        stretches = chosen.setdefault(i, [])
        if stretches and first < stretches[-1][1]:  # pushed together at a short source's end: one stretch
            stretches[-1] = (stretches[-1][0], min(max(first + length, stretches[-1][1]), end))
        else:
            stretches.append((first, min(first + length, end)))
    out = [(spans[i][0], spans[i][1], a, b) for i in sorted(chosen) for a, b in chosen[i]]
    log.warning("%.1f min of normal footage: fitting on %d stretches of %.0f s spread over all of it (%.1f min in all; "
                "scorer.max_footage_s)", total / 60, len(out), length, sum(b - a for *_, a, b in out) / 60)
    return ([SourceSpec(spec.path, round(float(a), 3), round(float(b), 3)) for spec, _, a, b in out],
            [info for _, info, *_ in out])


# Without normal footage a video stands in for its own: its first quarter is fitted on, and scores the rest; its
# last quarter is fitted on, and scores the first. A quarter however long the video: capped at 15 s (releases 1 to
# 46), a 2-minute video's scorer learnt too little of its site, and rendered clips of 120 s with an event read a
# pooled AUC of 0.65 against 0.86 (evals/bench_footageless.py; the same clips up to a minute long either way).
def opening_of(video: str, folder_fps: float = 25.0, span: tuple[float, float | None] = (0.0, None)) -> SourceSpec:
    """A video's first quarter (of its `span`, in seconds; None: to its end): its stand-in normal footage when there is
    none."""
    start, end = _span(video, folder_fps, span)
    return SourceSpec(video, start, round(start + (end - start) / 4, 2))


def closing_of(video: str, folder_fps: float = 25.0, span: tuple[float, float | None] = (0.0, None)) -> SourceSpec:
    """A video's last quarter (of its `span`): the stand-in normal footage for its opening."""
    start, end = _span(video, folder_fps, span)
    return SourceSpec(video, round(end - (end - start) / 4, 2), span[1])


def _span(video: str, folder_fps: float, span: tuple[float, float | None]) -> tuple[float, float]:
    return span[0], probe(video, folder_fps).duration_s if span[1] is None else span[1]


@dataclass
class Extracted:
    """Each tier's parts for a list of footage segments, read in one pass per segment."""

    parts: dict[str, list[list[Any]]]  # tier → segment → parts
    lengths: list[int]
    frames: list[np.ndarray | None]  # gray frames of the segments kept for self-validation
    grain: list[grains.Grain]  # the segments' grain, as measured at each chunk


def read_parts(tiers: dict[str, Tier], segments: list[SourceSpec], config: ScorerConfig, geometry: Geometry,
               folder_fps: float, *, keep_frames: set[int] = frozenset(), progress: Progress | None = None,
               stage: str = "reading normal footage", fps: float | None = None,
               levels: tuple[float, float] | None = None, overlay: Overlay | None = None) -> Extracted:
    """Every tier's reading of each segment; footage at another rate than `fps` is put in its units, deep frame
    folders mapped to 8 bits by `levels` (the site's), the camera's clock covered (`overlay`)."""
    flow = config.flow_for(tiers)
    parts: dict[str, list[list[Any]]] = {name: [] for name in tiers}
    lengths, kept, grain = [], [], []
    keep_each = max(KEEP_FRAMES // max(len(keep_frames), 1), KEEP_AT_LEAST)

    def turn(spec: SourceSpec) -> Turn:
        return (partial(open_video, spec.path, folder_fps=folder_fps, levels=levels),
                lambda video: {"start_s": spec.start_s, "end_s": spec.end_s, "fitted_fps": fps,
                               "time_scale": time_scale(video.info.fps, fps), "overlay": overlay})

    with closing(chunks_in_turn([turn(spec) for spec in segments], geometry.width, geometry.height, flow=flow,
                                chunk=config.chunk_frames)) as videos:
        for number, (_, stream) in enumerate(videos):
            readers = {name: tier.reader() for name, tier in tiers.items()}
            for name in tiers:
                parts[name].append([])
            count, frames = 0, []
            for chunk in stream:
                grain.append(chunk.grain)  # as measured at its start and every exposure.AGAIN_FRAMES after
                for name, reader in readers.items():
                    parts[name][-1].append(reader.feed(chunk))
                count += len(chunk)
                if number in keep_frames and sum(map(len, frames)) < keep_each:
                    frames.append(chunk.gray)
            lengths.append(count)
            kept.append(np.concatenate(frames)[:keep_each] if frames else None)
            if progress:
                progress(stage, number + 1, len(segments))
    return Extracted(parts, lengths, kept, grain)


def background_sample(segments: list[SourceSpec], infos: list[VideoInfo], geometry: Geometry, folder_fps: float,
                      limit: int = 240, levels: tuple[float, float] | None = None,
                      overlay: Overlay | None = None) -> np.ndarray:
    """Gray frames spread evenly over the normal footage (each segment with its probed video), for
    background models (deep frame folders mapped to 8 bits by `levels`, the camera's clock covered)."""
    lengths = [max(int((spec.end_in(info.duration_s) - spec.start_s) * info.fps), 1)
               for spec, info in zip(segments, infos, strict=True)]
    total = sum(lengths)
    stride = max(total // limit, 1)
    sample = []
    for spec in segments:
        with open_video(spec.path, folder_fps=folder_fps, levels=levels) as video, \
                closing(chunks(video, geometry.width, geometry.height, flow=None, chunk=128, start_s=spec.start_s,
                               end_s=spec.end_s, overlay=overlay)) as stream:
            for chunk in stream:
                sample.extend(chunk.gray[(chunk.indices % stride) == 0])
    return np.stack(sample[: limit * 2])


def find_overlay(sources: list[SourceSpec], infos: list[VideoInfo], geometry: Geometry, folder_fps: float,
                 levels: tuple[float, float] | None = None) -> Overlay | None:
    """The camera's clock and captions (overlay.py), looked for in the first LOOK_S seconds of the first normal
    footage long enough to see the clock tick."""
    for spec, info in zip(sources, infos, strict=True):
        if spec.end_in(info.duration_s) - spec.start_s > TICKS + 1:
            end = min(spec.end_in(info.duration_s), spec.start_s + LOOK_S)
            with open_video(spec.path, folder_fps=folder_fps, levels=levels) as video:
                batches = list(video.scan(gray=True, start_s=spec.start_s, end_s=end,
                                          size=(geometry.width, geometry.height)))
            if not batches:
                return None
            found = find(np.concatenate([b.frames for b in batches]), np.concatenate([b.times for b in batches]))
            if found:
                log.info("%s: a clock or caption burned into the picture at %s, covered in every frame read",
                         spec.path, ", ".join(f"({x0},{y0})-({x1},{y1})" for x0, y0, x1, y1 in found.boxes))
            return found
    return None


def seconds_of(sources: list[SourceSpec], infos: list[VideoInfo]) -> float:
    """How long the footage is in all (each source with its probed video)."""
    return sum(spec.end_in(info.duration_s) - spec.start_s for spec, info in zip(sources, infos, strict=True))


def probe(path: str, folder_fps: float) -> VideoInfo:
    """A video's or frame folder's rate, length and size, read from its container."""
    with open_video(path, folder_fps=folder_fps) as video:
        return video.info
