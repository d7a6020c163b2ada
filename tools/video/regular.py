"""A recording whose frames come at uneven times, read on a regular clock.

Everything after the video layer counts time as frame number over frame rate: a candidate's seconds, the
report's, the player's seek, `PATH#t=START,END`, the frames a model is shown. A phone records at a variable
rate (fewer frames in low light) and a recorder under load drops frames, so there frame n is not shown at
n / rate: in a clip that halves its rate for 7 s, a moment at 17.6 s was said to be at 15.6 s. Such a file is
read as FFmpeg's constant-rate output would be (`-vsync cfr`): frame i is the one on screen at i / rate, at the
rate most of its frames come at; a frame is shown again where the recording has none, and one of two frames
within one interval is passed over. A frame shown again keeps its own timestamp (`FrameBatch.times`), so the
frame pass knows it for a repeat and motion is not read as stopping and then jumping (frames.ChunkMaker).
A recording whose frame numbers tell its times to within `DRIFT_S` is read as it is, frame for frame; one whose
frames come at a steady rate other than its stream states (an export that holds its last frame for seconds, which
FFmpeg's average rate counts in) is read frame for frame at its frames' own rate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

from vadagent.tools.video.source import FrameBatch, VideoSource, runs

log = logging.getLogger(__name__)

DRIFT_S = 0.1  # times are said to a tenth of a second: frame numbers that tell them within it are kept
REGULAR = (0.75, 1.25)  # intervals within these times the median one are the recording's regular rate's
PAUSE_S = 1.0  # a frame shown again for this long or longer: the recording paused (a motion-triggered recorder)


class RegularClock(VideoSource):
    """`inner`'s frames on a clock of `rate` frames a second: frame i is inner's `shown[i]` (what a dataset's labels
    of the recording's frames are put on the clock by)."""

    def __init__(self, inner: VideoSource, times: np.ndarray, shown: np.ndarray, rate: float) -> None:
        self.inner, self._times, self.shown, self.picture = inner, times, shown, inner.picture
        self.info = inner.info.model_copy(update={"fps": rate, "frame_count": len(shown)})
        distinct = len(np.unique(shown))
        self.repeated, self.passed_over = len(shown) - distinct, len(times) - distinct
        gaps = np.diff(times)
        if not self.repeated and not self.passed_over:  # steady, at another rate than its stream states
            self.clock = (f"its frames come {rate:.4g} a second by their timestamps, where its stream states "
                          f"{inner.info.fps:.4g}: read at {rate:.4g}")
        else:
            self.clock = (f"a variable frame rate (frames {1000 * gaps.min():.0f} to {1000 * gaps.max():.0f} ms apart, "
                          f"{len(times) / max(float(times[-1]), 1e-9):.3g} a second on average): read on a regular "
                          f"clock of {rate:.4g} frames a second, {self.repeated} frame(s) shown again and "
                          f"{self.passed_over} passed over, so that its times are the recording's")
        log.info("%s: %s", inner.info.path, self.clock)

    @property
    def skipped(self) -> int:  # type: ignore[override]
        return self.inner.skipped

    @property
    def levels(self) -> tuple[float, float] | None:  # type: ignore[override]
        return self.inner.levels  # the frames are inner's, read by its map

    @levels.setter
    def levels(self, levels: tuple[float, float] | None) -> None:
        self.inner.levels = levels

    def level_sample(self) -> np.ndarray | None:
        return self.inner.level_sample()

    def damaged(self) -> list[tuple[int, int]]:
        hurt = np.zeros(len(self._times), bool)
        for start, stop in self.inner.damaged():
            hurt[start:stop] = True
        return runs(np.flatnonzero(hurt[self.shown]).tolist())

    def _slots_of(self, frame: int, within: range) -> range:
        """The frames of this clock that show the recording's `frame`, within `within`."""
        first = int(np.searchsorted(self.shown, frame, side="left"))
        last = int(np.searchsorted(self.shown, frame, side="right"))
        return range(max(first, within.start), min(last, within.stop))

    def scan(self, *, gray: bool = True, chunk: int = 64, start_s: float = 0.0, end_s: float | None = None,
             size: tuple[int, int] | None = None) -> Iterator[FrameBatch]:
        wanted = self.info.frames_in(start_s, end_s)
        if not len(wanted):
            return
        first, last = int(self.shown[wanted.start]), int(self.shown[wanted.stop - 1])
        fps = self.inner.info.fps  # inner's times are its frame numbers over its own rate (VideoInfo.frames_in)
        indices: list[int] = []
        frames: list[np.ndarray] = []
        stamps: list[float] = []
        for batch in self.inner.scan(gray=gray, chunk=chunk, start_s=first / fps, end_s=(last + 1) / fps, size=size):
            for frame_number, frame in zip(batch.indices.tolist(), batch.frames):
                for index in self._slots_of(frame_number, wanted):
                    indices.append(index)
                    frames.append(frame)
                    stamps.append(float(self._times[frame_number]))
                    if len(indices) == chunk:
                        yield FrameBatch(np.asarray(indices, np.int64), np.asarray(stamps), np.stack(frames))
                        indices, frames, stamps = [], [], []
        if indices:
            yield FrameBatch(np.asarray(indices, np.int64), np.asarray(stamps), np.stack(frames))

    def read(self, indices: list[int] | np.ndarray, *, gray: bool = False) -> FrameBatch:
        wanted = self._check_indices(indices)
        numbers = self.shown[wanted]
        got = self.inner.read(np.unique(numbers), gray=gray)
        at = np.searchsorted(got.indices, numbers)
        return FrameBatch(wanted, self._times[numbers], got.frames[at])

    def close(self) -> None:
        self.inner.close()


def on_regular_clock(video: VideoSource, times: np.ndarray | None) -> VideoSource:
    """`video` itself where its frame numbers tell its frames' `times` (seconds from the first) to within DRIFT_S,
    or where it has none; otherwise the same frames on a regular clock."""
    if times is None or len(times) < 3:
        return video
    drift = np.abs(times - np.arange(len(times)) / video.info.fps)
    if drift.max() <= DRIFT_S:
        return video
    gaps = np.diff(times)
    median = float(np.median(gaps))
    regular = gaps[(gaps > REGULAR[0] * median) & (gaps < REGULAR[1] * median)]
    rate = float(f"{1.0 / float(regular.mean()):.6g}")  # 25, not 24.999999999999996 (ms an hour at most)
    slots = np.round(times * rate).astype(np.int64)  # the frame each of the recording's frames is shown from
    shown = np.searchsorted(slots, np.arange(int(slots[-1]) + 1), side="right") - 1
    return RegularClock(video, times, shown, rate)


def shown_frames(count: int, repeats: list[int]) -> np.ndarray:
    """For each of `count` frames, itself, or where it is one shown again (`repeats`), the last before it that is not."""
    shown = np.arange(count)
    repeated = np.zeros(count, bool)
    repeated[[r for r in repeats if r < count]] = True
    shown[repeated] = 0
    return np.maximum.accumulate(shown)


def pauses_of(repeats: list[int], fps: float) -> list[tuple[int, int]]:
    """The stretches [start, stop) of frames shown again for PAUSE_S or longer: where the recording has no frames."""
    return [(start, stop) for start, stop in runs(repeats) if stop - start >= PAUSE_S * fps]
