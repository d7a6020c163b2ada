"""A folder of frame images (the UCSD / ShanghaiTech / Avenue layout) as a video source.

Images are decoded with OpenCV on a small thread pool: `cv2.imread` releases the GIL, so two
cores read about twice as fast as one.

A thermal camera's export keeps its sensor's counts in 16-bit (or floating-point) TIFFs or PNGs: such a folder is
read into 8 bits by one map for the whole folder (its own levels, or a scorer's site's: levels.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from vadagent.errors import VideoError
from vadagent.tools.video.levels import LEVELS_SAMPLE, Levels, black_and_white, sample_of, to_8_bits
from vadagent.tools.video.shrink import shrink
from vadagent.tools.video.source import FrameBatch, VideoSource, register_opener
from vadagent.types import VideoInfo

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
DEFAULT_FOLDER_FPS = 25.0


def natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def is_frame_name(name: str) -> bool:
    """An image's name, not hidden: an archive made on a Mac holds a `._001.tif` of metadata beside each `001.tif`."""
    return not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES


def frame_files(folder: Path) -> list[Path]:
    """A folder's frame images in their natural order (2.jpg before 10.jpg)."""
    return sorted((p for p in folder.iterdir() if is_frame_name(p.name) and p.is_file()), key=natural_key)


def read_gray(file: Path) -> np.ndarray | None:
    """A frame image in gray at its own depth (8 or 16 bits, or floating point); None where it cannot be decoded."""
    return cv2.imread(str(file), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_GRAYSCALE)


def _first_image(files: list[Path]) -> np.ndarray | None:
    """The first of a folder's first 16 frames that decodes (one damaged frame does not make a folder unreadable)."""
    return next((image for image in map(read_gray, files[:16]) if image is not None), None)


def _level_sample(files: list[Path]) -> np.ndarray:
    """The levels of frames spread over a folder."""
    picks = np.unique(np.linspace(0, len(files) - 1, min(LEVELS_SAMPLE, len(files))).round().astype(int))
    return sample_of([image for image in map(read_gray, (files[i] for i in picks)) if image is not None])


class FrameFolder(VideoSource):
    def __init__(self, path: str, fps: float | None = None, workers: int = 2,
                 levels: Levels | None = None) -> None:
        """`levels`: the (black, white) its frames are mapped to 8 bits by, where they are deeper (a site's; by
        default, the folder's own)."""
        self.path = path
        self.skipped = 0
        folder = Path(path)
        self.files = frame_files(folder)
        if not self.files:
            from vadagent.tools.video.finding import listing  # which imports this module

            videos = [p.name for p, kind in listing(folder) if kind == "video"]  # its own: no walk of a whole tree
            held = (f"; it holds {len(videos)} video(s) ({', '.join(videos[:3])}{', …' if len(videos) > 3 else ''}): "
                    "name one, or explain each with `vadagent report`") if videos else ""
            raise VideoError(path, f"folder has no frame images ({', '.join(sorted(IMAGE_SUFFIXES))}){held}")
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vadagent-imread")
        first = self._first_readable()
        height, width = first.shape[:2]
        self.levels = None if first.dtype == np.uint8 else levels or self._own_levels(first)  # in the files' units
        self.info = VideoInfo(
            path=path, kind="frames", fps=fps or DEFAULT_FOLDER_FPS, frame_count=len(self.files),
            width=width, height=height, codec=self.files[0].suffix.lower().lstrip("."),
        )

    def _first_readable(self) -> np.ndarray:
        image = _first_image(self.files)
        if image is not None:
            return image
        raise VideoError(self.path, "the first frame images cannot be decoded (corrupt or not images)")

    def level_sample(self) -> np.ndarray | None:
        return None if self.levels is None else _level_sample(self.files)

    def _own_levels(self, first: np.ndarray) -> Levels:
        sample = _level_sample(self.files)
        black, white = black_and_white(sample if len(sample) else first.astype(np.float64).ravel())
        log.info("%s: frames deeper than 8 bits read as 8 from their levels %.6g (black) to %.6g (white)",
                 self.path, black, white)
        return black, white

    def _load(self, file: Path, gray: bool, size: tuple[int, int] | None = None) -> np.ndarray | None:
        depth = cv2.IMREAD_ANYDEPTH if self.levels else 0
        image = cv2.imread(str(file), depth | (cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR))
        if image is None:
            return None
        if self.levels:
            image = to_8_bits(image, self.levels)
        image = shrink(image, (self.info.width, self.info.height))  # one of another size: scaled to the folder's
        if size is not None:
            image = shrink(image, size)
        return image if gray else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def _load_many(self, indices: np.ndarray, gray: bool, size: tuple[int, int] | None = None) -> FrameBatch | None:
        images = list(self._pool.map(lambda i: self._load(self.files[i], gray, size), indices.tolist()))
        keep = [i for i, image in enumerate(images) if image is not None]
        for i, image in enumerate(images):
            if image is None:
                self.skipped += 1
                log.warning("%s: skipped undecodable frame %s", self.path, self.files[indices[i]].name)
        if not keep:
            return None
        idx = indices[keep]
        return FrameBatch(indices=idx, times=idx / self.info.fps, frames=np.stack([images[i] for i in keep]))

    def scan(
        self, *, gray: bool = True, chunk: int = 64, start_s: float = 0.0, end_s: float | None = None,
        size: tuple[int, int] | None = None,
    ) -> Iterator[FrameBatch]:
        wanted = self.info.frames_in(start_s, end_s)
        first, last = wanted.start, wanted.stop
        for begin in range(first, last, chunk):
            batch = self._load_many(np.arange(begin, min(begin + chunk, last), dtype=np.int64), gray, size)
            if batch is not None:
                yield batch

    def read(self, indices: list[int] | np.ndarray, *, gray: bool = False) -> FrameBatch:
        wanted = self._check_indices(indices)
        batch = self._load_many(wanted, gray)
        if batch is None or len(batch) < len(wanted):
            missing = sorted(set(wanted.tolist()) - set([] if batch is None else batch.indices.tolist()))
            raise VideoError(self.path, f"could not decode frames {missing[:8]}")
        return batch

    def close(self) -> None:
        self._pool.shutdown(wait=False)


register_opener("frames", lambda s: Path(s).is_dir(), FrameFolder)
