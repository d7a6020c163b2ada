"""The one interface every video source implements, and `open_video`, which picks one.

Callers only see `VideoSource`: a file, a folder of frames or (later) a live stream is chosen
by `open_video` from the openers registered here, so adding RTSP means adding an opener.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vadagent.errors import VideoError
from vadagent.types import VideoInfo


@dataclass(frozen=True)
class FrameBatch:
    """Consecutive decoded frames: `frames` is (n, h, w) uint8 gray or (n, h, w, 3) uint8 RGB."""

    indices: np.ndarray  # int64, frame index in the source
    times: np.ndarray  # float64, seconds from the start
    frames: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)


def runs(indices: Iterable[int]) -> list[tuple[int, int]]:
    """Frame numbers as ranges [start, stop) of consecutive ones, in order."""
    spans: list[tuple[int, int]] = []
    for index in sorted(set(indices)):
        if spans and index == spans[-1][1]:
            spans[-1] = (spans[-1][0], index + 1)
        else:
            spans.append((index, index + 1))
    return spans


class VideoSource(abc.ABC):
    """An opened video. Use as a context manager; `skipped` counts undecodable frames seen."""

    info: VideoInfo
    skipped: int = 0
    levels: tuple[float, float] | None = None  # a deep picture's (black, white) read as 8 bits' (levels.py); None: 8 bits
    clock: str | None = None  # how its frames were put on a regular clock, in words (regular.py); None: as they came
    # how its picture was read where not as stored, in words: non-square pixels made square, an interlaced frame by
    # its first field (decoded.py); None: as stored
    picture: str | None = None

    def level_sample(self) -> np.ndarray | None:
        """Levels of pictures spread over a video deeper than 8 bits (levels.py), for a site's one map; None for 8 bits."""
        return None

    def damaged(self) -> list[tuple[int, int]]:
        """Frame ranges [start, stop), in order, decoded from data that arrived damaged (pieces lost, as in a
        recording over a lossy network), or not decoded at all, and the frames after them up to the next
        keyframe, which predict from them: their glitches may score as motion. Those seen by scans so far;
        none where the format cannot tell."""
        return []

    @abc.abstractmethod
    def scan(
        self, *, gray: bool = True, chunk: int = 64, start_s: float = 0.0, end_s: float | None = None,
        size: tuple[int, int] | None = None,
    ) -> Iterator[FrameBatch]:
        """Decode frames in order, `chunk` at a time, holding at most one chunk in memory; with `size`
        (width, height), each frame area-shrunk to it as it is decoded (`shrink`), so that a chunk of 4K
        frames is never stacked whole (half a gigabyte, allocated anew per chunk)."""

    @abc.abstractmethod
    def read(self, indices: list[int] | np.ndarray, *, gray: bool = False) -> FrameBatch:
        """Random access: the frames at `indices` (any order; returned sorted and unique)."""

    def read_at(self, times_s: list[float] | np.ndarray, *, gray: bool = False) -> FrameBatch:
        """Random access by timestamp: the frame shown at each time."""
        return self.read([self.info.frame_at(float(t)) for t in times_s], gray=gray)

    def close(self) -> None:  # noqa: B027 - optional for sources without resources
        pass

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_indices(self, indices: list[int] | np.ndarray) -> np.ndarray:
        wanted = np.unique(np.asarray(indices, dtype=np.int64))
        if wanted.size and (wanted[0] < 0 or wanted[-1] >= self.info.frame_count):
            raise VideoError(
                self.info.path, f"frame index out of range 0–{self.info.frame_count - 1}: {wanted[[0, -1]].tolist()}"
            )
        return wanted


Opener = Callable[..., VideoSource]
_OPENERS: list[tuple[str, Callable[[str], bool], Opener]] = []


def register_opener(name: str, accepts: Callable[[str], bool], opener: Opener) -> None:
    if any(n == name for n, _, _ in _OPENERS):
        raise ValueError(f"video opener {name!r} is already registered")
    _OPENERS.append((name, accepts, opener))


def open_video(source: str | Path, *, folder_fps: float | None = None, levels: tuple[float, float] | None = None,
               **options: object) -> VideoSource:
    """Open a video file or a folder of frames. Raises `VideoError` naming the source and problem.

    `folder_fps` is the frame rate to assume when the source turns out to be a folder of frames
    (files carry their own), so callers need not check which kind they were given; `levels`, the
    (black, white) its pictures are mapped to 8 bits by where they are deeper (a thermal camera's; levels.py)."""
    text = str(source)
    if folder_fps is not None and Path(text).is_dir():
        options.setdefault("fps", folder_fps)
    if levels is not None:
        options.setdefault("levels", levels)
    for _name, accepts, opener in _OPENERS:
        if accepts(text):
            return opener(text, **options)
    path = Path(text)
    if not path.exists() and "#t=" in text and Path(text.rpartition("#t=")[0]).exists():
        raise VideoError(text, "a time range (#t=START,END) says which normal footage to learn from (fit, --normal); "
                               "videos to read or score are given whole")
    if not path.exists():
        raise VideoError(text, "no such file or folder")
    raise VideoError(text, "not a video file or a folder of frames")
