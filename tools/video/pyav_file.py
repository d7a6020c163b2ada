"""Video files through PyAV (FFmpeg): sequential scans and random access.

Why PyAV for both paths (evals/bench_video.py, results in evals/results/bench_video.md): the
luma plane read straight from decoded frames is the fastest gray scan (faster than OpenCV's BGR
scan), and for sampling keyframes seek + decode-forward ran within noise of decord and OpenCV
on the long-GOP clips of this field, so one decoder serves both and decord stays optional.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vadagent.errors import VideoError
from vadagent.tools.video.source import FrameBatch, VideoSource, register_opener
from vadagent.types import VideoInfo

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv"}
_GRAY_PLANAR = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"}


def frame_to_array(frame: av.VideoFrame, gray: bool) -> np.ndarray:
    """Gray straight from the luma plane when the pixel format allows (no colour conversion)."""
    if gray and frame.format.name in _GRAY_PLANAR:
        plane = frame.planes[0]
        return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: frame.height, : frame.width]
    return frame.to_ndarray(format="gray" if gray else "rgb24")


class PyAVFile(VideoSource):
    def __init__(self, path: str) -> None:
        self.path = path
        self.skipped = 0
        file = Path(path)
        if not file.exists():
            raise VideoError(path, "no such file")
        if file.stat().st_size == 0:
            raise VideoError(path, "file is empty")
        self._container = self._open()
        try:
            self.info = self._probe()
            self._check_first_frame()
            self._check_last_frame()
        except BaseException:
            self._container.close()
            raise

    def _open(self) -> av.container.InputContainer:
        try:
            container = av.open(self.path, mode="r")
        except av.error.FFmpegError as exc:
            raise VideoError(self.path, f"not a readable video (truncated, corrupt or unsupported): {_reason(exc)}") from None
        if not container.streams.video:
            container.close()
            raise VideoError(self.path, "has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return container

    @property
    def _stream(self) -> av.video.stream.VideoStream:
        return self._container.streams.video[0]

    def _probe(self) -> VideoInfo:
        stream = self._stream
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate:
            raise VideoError(self.path, "has no frame rate")
        self._rate = Fraction(rate)
        count = stream.frames or self._count_packets()
        if not stream.width or not stream.height:
            raise VideoError(self.path, "has no frame size (corrupt header)")
        return VideoInfo(
            path=self.path, kind="file", fps=float(self._rate), frame_count=count,
            width=stream.width, height=stream.height, codec=stream.codec_context.name,
        )

    def _count_packets(self) -> int:
        """Containers such as MKV/WebM do not store a frame count: count packets (no decoding)."""
        count = sum(1 for p in self._container.demux(self._stream) if p.size)
        self._container.seek(0)
        return count

    def _check_first_frame(self) -> None:
        for _batch in self.scan(chunk=1):
            self._container.seek(0)
            self.skipped = 0
            return
        raise VideoError(self.path, "no decodable frames (truncated or corrupt)")

    def _check_last_frame(self) -> None:
        """A file cut short keeps its header (faststart MP4) but loses its last frames."""
        last = self.info.frame_count - 1
        try:
            self.read([last])
        except VideoError:
            raise VideoError(
                self.path, f"truncated or corrupt: the last of its {self.info.frame_count} declared frames cannot be read"
            ) from None
        finally:
            self._container.seek(0)

    def _index_of(self, frame: av.VideoFrame, fallback: int) -> int:
        if frame.pts is None or frame.time_base is None:
            return fallback
        start = self._stream.start_time or 0
        return int(round(float((frame.pts - start) * frame.time_base * self._rate)))

    def _decode(self) -> Iterator[av.VideoFrame]:
        """Decode from the current position; undecodable packets are skipped and counted."""
        for packet in self._container.demux(self._stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                self.skipped += 1
                log.debug("%s: skipped an undecodable packet (%d so far)", self.path, self.skipped)
                continue
            yield from frames

    def scan(
        self, *, gray: bool = True, chunk: int = 64, start_s: float = 0.0, end_s: float | None = None
    ) -> Iterator[FrameBatch]:
        first = self.info.frame_at(start_s) if start_s > 0 else 0
        if first > 0:
            self._seek(first)
        else:
            self._container.seek(0)
        last = None if end_s is None else int(np.ceil(end_s * self.info.fps))
        indices: list[int] = []
        frames: list[np.ndarray] = []
        counter = first
        for frame in self._decode():
            index = self._index_of(frame, counter)
            counter = index + 1
            if index < first:
                continue
            if last is not None and index >= last:
                break
            indices.append(index)
            frames.append(frame_to_array(frame, gray))
            if len(frames) == chunk:
                yield self._batch(indices, frames)
                indices, frames = [], []
        if frames:
            yield self._batch(indices, frames)
        if self.skipped:
            log.warning("%s: skipped %d undecodable packets", self.path, self.skipped)

    def _batch(self, indices: list[int], frames: list[np.ndarray]) -> FrameBatch:
        idx = np.asarray(indices, dtype=np.int64)
        return FrameBatch(indices=idx, times=idx / self.info.fps, frames=np.stack(frames))

    def _seek(self, index: int) -> None:
        stream = self._stream
        target = int((stream.start_time or 0) + Fraction(index) / self._rate / stream.time_base)
        self._container.seek(target, stream=stream, backward=True, any_frame=False)

    def read(self, indices: list[int] | np.ndarray, *, gray: bool = False) -> FrameBatch:
        wanted = self._check_indices(indices)
        got: dict[int, np.ndarray] = {}
        pos = 0
        while pos < len(wanted):
            # One seek per target; decode forward and pick up any later targets on the way.
            self._seek(int(wanted[pos]))
            for frame in self._decode():
                index = self._index_of(frame, -1)
                while pos < len(wanted) and wanted[pos] < index:
                    pos += 1  # that frame could not be decoded: give up on it
                if pos >= len(wanted):
                    break
                if index == wanted[pos]:
                    got[index] = frame_to_array(frame, gray).copy()
                    pos += 1
                    if pos < len(wanted) and wanted[pos] - index > 2 * self.info.fps:
                        break  # far ahead: seeking is cheaper than decoding there
            else:
                pos = len(wanted)
        missing = [int(i) for i in wanted if int(i) not in got]
        if missing:
            raise VideoError(self.path, f"could not decode frames {missing[:8]}{'…' if len(missing) > 8 else ''}")
        return self._batch(sorted(got), [got[i] for i in sorted(got)])

    def close(self) -> None:
        self._container.close()


def _reason(exc: av.error.FFmpegError) -> str:
    return getattr(exc, "strerror", None) or str(exc).split(":")[0]


register_opener("file", lambda s: Path(s).is_file(), PyAVFile)
