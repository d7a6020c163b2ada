"""How evals/bench_robustness.py builds, switches and reads its scorers: the scorer as shipped (with the run's fused
median, which `--median-window` sets here for every configuration), its guards patched off, a video's frames, and
what a scored video said of its view."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import numpy as np

from vadagent.tools.scorer import Scorer, ScorerConfig, exposure, grain
from vadagent.tools.scorer import frames as frame_pass
from vadagent.tools.scorer.view import AWAY_WORDS, BLANK_WORDS, MOVED_WORDS, SOFT_WORDS, FootageView
from vadagent.tools.video import open_video

MEDIAN_WINDOW = ScorerConfig().median_window  # the run's fused median (--median-window measures another)


def configured(params: dict) -> ScorerConfig:
    """The scorer as shipped with these tiers' settings (`{"objects": {"shade": True}}`), and the run's fused median."""
    return ScorerConfig(params=copy.deepcopy(params), median_window=MEDIAN_WINDOW)


def shipped(**objects: object) -> ScorerConfig:
    """The scorer as shipped, with these settings of its objects tier (and the run's fused median)."""
    return configured({"objects": objects} if objects else {})


@contextlib.contextmanager
def as_it_comes() -> Iterator[None]:
    """Every video's picture read as it comes: no grain or rain gate, no veil lifted."""
    with mock.patch.object(grain, "gate", lambda *_: grain.Gate()), mock.patch.object(exposure, "veil", lambda *_: None):
        yield


@contextlib.contextmanager
def guards(on: bool) -> Iterator[ScorerConfig]:
    """The shipped scorer's configuration, or one with its guards off."""
    if on:
        yield shipped()
        return
    with mock.patch.object(frame_pass, "camera_motion", lambda flow: (np.zeros(2), False)), \
            mock.patch.object(exposure, "matched", lambda gain: False), \
            as_it_comes(), \
            mock.patch.object(Scorer, "time_scale", lambda self, fps: 1.0), \
            mock.patch.object(frame_pass.ChunkMaker, "_scale", lambda self, time_s: 1.0), view_unjudged():
        yield shipped(absorb_frames=10**9, lighting=False)


def view_unjudged() -> contextlib.AbstractContextManager:
    """Scorers fitted with no view of their footage: no video's view judged against it (view.py)."""
    return mock.patch.object(FootageView, "of", lambda sample: None)


def view_reported(scored) -> str:
    """When and how a scored video's view was reported lost, moved or soft ("" where it never was): "blank from 15.1 s"."""
    fps = scored.info.fps
    return ", ".join(f"{kind} from {frame / fps:.1f} s" for frame, read in scored.picture
                     for kind, words in (("blank", BLANK_WORDS), ("away", AWAY_WORDS), ("moved", MOVED_WORDS),
                                         ("soft", SOFT_WORDS))
                     if words in read)


def frames_of(path: Path) -> np.ndarray:
    """A video's frames, or a frame folder's images in name order (open_video reads both), RGB, all in memory:
    (n, height, width, 3) uint8."""
    with open_video(str(path)) as video:
        return np.concatenate([b.frames for b in video.scan(gray=False)])


def flagged_table(rows: list[dict], key: str, shipped: str, before: str, before_name: str) -> list[str]:
    """A markdown table of the share of frames flagged per condition, as shipped (`rows` whose `key` is
    `shipped`) and as before (`before`)."""
    earlier = {r["condition"]: r for r in rows if r[key] == before}
    return ["| condition | frames | flagged | " + before_name + ": flagged |", "|---|---|---|---|",
            *(f"| {r['condition']} | {r['frames']} | {r['normal_frames_flagged']:.1%} | "
              f"{earlier[r['condition']]['normal_frames_flagged']:.1%} |" for r in rows if r[key] == shipped)]
