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
from vadagent.tools.video.decoded import UNDECODABLE, DamageTracker, frame_to_array, pixel_aspect, square_size
from vadagent.tools.video.frame_folder import IMAGE_SUFFIXES
from vadagent.tools.video.joined import TimestampsRestart, continuous_copy
from vadagent.tools.video.levels import LEVELS_SAMPLE, Levels, black_and_white, is_deep_stream, sample_of
from vadagent.tools.video.packets import packet_table
from vadagent.tools.video.regular import on_regular_clock
from vadagent.tools.video.shrink import shrink
from vadagent.tools.video.source import FrameBatch, VideoSource, register_opener, runs
from vadagent.tools.video.unfinished import UNFINISHED, lacks_index
from vadagent.types import VideoInfo

log = logging.getLogger(__name__)

# what cameras, recorders and phones write; .mts a camcorder's MPEG-TS, .h264 … a DVR's raw stream, .dav Dahua's
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".mts",
                  ".m2ts", ".3gp", ".mxf", ".h264", ".264", ".h265", ".265", ".hevc", ".dav"}
# Short clips written for a model to read once (a moment's context, a video part of a request): x264's
# defaults hold ~40 frames of look-ahead (≈ 75 MB at 640×480, a swing in a long watch's memory per
# moment) and take seconds per clip; these take ~15 MB and a fifth of the time at the same CRF.
CLIP_H264_OPTIONS = {"preset": "veryfast", "tune": "zerolatency"}
MPEG_CLOCK = {"mpegts", "mpeg"}  # FFmpeg's demuxers of MPEG-TS and MPEG-PS, whose times count on a 33-bit clock
STILL_SUFFIXES = IMAGE_SUFFIXES - {".webp"}
NO_DECODER = ("its video stream's codec is unknown to FFmpeg or has no decoder here (a camera maker's own format? "
              "export it as H.264 MP4)")
class PyAVFile(VideoSource):
    def __init__(self, path: str, levels: Levels | None = None) -> None:
        """`levels`: the (black, white) a deep gray video (a thermal camera's 16 bits) is read into 8 bits by (a
        site's, levels.py; by default, the video's own)."""
        self.path = path
        self._file = path  # what is read: the file, or its copy where its timestamps start again (`joined`)
        self._joined_after: int | None = None  # where they first start again
        self.skipped = 0
        self._turns = 0
        self._deep = False  # gray deeper than 8 bits (a thermal camera's): read by `levels`
        self._sizes_seen: set[tuple[int, int]] = set()
        self._damaged: set[int] = set()  # frames from damaged data, predicted from such, or not decoded (`damaged`)
        self._damage = DamageTracker()  # whether the decoder's pictures hold damage now
        self._by_decoding_time: bool | None = None  # how a seek finds a keyframe here (`_keyframe_time`)
        self._seekable = True  # until a seek by time is refused (a raw H.264/H.265 stream, as recorders export them)
        self._by_bytes = False  # sought by byte offsets: an MPEG clock wrapped early on (`_probe`)
        self._byte_keys: tuple[np.ndarray, np.ndarray] | None = None  # such a stream's keyframes: (frame, byte offset)
        file = Path(path)
        if not file.exists():
            raise VideoError(path, "no such file")
        if file.stat().st_size == 0:
            raise VideoError(path, "file is empty")
        if file.suffix.lower() in STILL_SUFFIXES:  # FFmpeg reads one as a video of a frame, or fails (an animated WebP plays)
            raise VideoError(path, "a still image, not a video; a video's frames are given as a folder of its images "
                                   "(frames/000.jpg, frames/001.jpg, …)")
        self._container = self._open()
        try:
            try:
                self.info = self._probe()
            except TimestampsRestart as restart:
                self._container.close()
                self._joined_after = restart.frames
                self._file = str(continuous_copy(path, restart.frames))
                self._container = self._open()
                self.info = self._probe()
            self._check_first_frame()
            self._check_last_frame()
            self._deep = is_deep_stream(self._stream)
            if self._deep:
                self.levels = levels or self._own_levels()
        except BaseException:
            self._container.close()
            raise

    def level_sample(self) -> np.ndarray | None:
        if not self._deep:
            return None
        kept, self.levels = self.levels, None  # read at their depth meanwhile
        try:
            # the frames a folder of its frames would be sampled at, so that both forms of a site's footage read alike
            picks = np.unique(np.linspace(0, self.info.frame_count - 1, min(LEVELS_SAMPLE, self.info.frame_count)).round())
            try:
                return sample_of(list(self.read(picks.astype(int), gray=True).frames))
            except VideoError:  # a damaged frame among them: the opening's
                return sample_of(list(next(self.scan(chunk=LEVELS_SAMPLE)).frames))
            finally:
                self._rewind()
        finally:
            self.levels = kept

    def _own_levels(self) -> Levels:
        black, white = black_and_white(self.level_sample())
        log.info("%s: gray deeper than 8 bits read as 8 from its levels %.6g (black) to %.6g (white)", self.path, black,
                 white)
        return black, white

    def _open(self) -> av.container.InputContainer:
        try:
            container = av.open(self._file, mode="r")
        except av.error.FFmpegError as exc:
            raise VideoError(self.path, UNFINISHED if lacks_index(Path(self._file)) else
                             f"not a readable video (truncated, corrupt or unsupported): {_reason(exc)}") from None
        if not container.streams.video:
            other = ", ".join(sorted({st.type for st in container.streams})) or "no streams at all"
            container.close()
            raise VideoError(self.path, f"has no video stream ({other}; cut short, or not a video file?)")
        stream = container.streams.video[0]
        if stream.codec_context is None:  # FFmpeg found a video stream but no decoder for it
            container.close()
            raise VideoError(self.path, NO_DECODER)
        stream.thread_type = "AUTO"
        return container

    @property
    def _stream(self) -> av.video.stream.VideoStream:
        return self._container.streams.video[0]

    def _probe(self) -> VideoInfo:
        stream = self._stream
        table = packet_table(self._file)
        if isinstance(table, TimestampsRestart):
            if self._file == self.path:
                raise table
            raise VideoError(self.path, f"its timestamps start again after {table.frames} frames even in a copy "
                                        f"meant to join its parts ({self._file})")
        self._pts, self._keyframes = (table.pts, table.keyframes) if table else (None, None)
        # MPEG's 33-bit clock wraps every 26.5 hours; where a recording's crossed it within its first minute (about
        # one in 1,600; later, FFmpeg counts on past the wrap), FFmpeg counts the times before it as negative, and its
        # seeks by time then land nowhere or past the frame: sought by the keyframes' byte offsets instead, or where
        # the demuxer gives none (MPEG-PS), decoded from the start
        wrapped = self._pts is not None and self._pts[0] < 0 and self._container.format.name in MPEG_CLOCK
        self._by_bytes = wrapped and bool(len(self._keyframes[2])) and bool((self._keyframes[2] >= 0).all())
        if wrapped and not self._by_bytes:
            self._seekable = False
        # each frame's time from the first, once: every batch read indexes it
        self._times = None if self._pts is None else (self._pts - self._pts[0]) * float(stream.time_base)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if self._pts is None:  # no timestamps (a raw stream): FFmpeg's demuxer assumes 25 a second, its bitstream may say
            told = stream.codec_context.framerate
            if told:
                rate = told
            else:
                log.warning("%s: its frames carry no times and its stream states no frame rate; read at %s frames/s",
                            self.path, rate)
        if not rate:
            raise VideoError(self.path, "has no frame rate")
        self._rate = Fraction(rate)
        # read before counting and the first frame's look, which open a stream that cannot seek back again (a raw one):
        # the stream object before is then its closed container's, whose fields read garbage or raise
        declared, size, codec = stream.frames, (stream.width, stream.height), stream.codec_context.name
        aspect = pixel_aspect(stream)
        count = len(self._pts) if self._pts is not None else declared or self._count_packets()
        if declared and table:
            declared -= table.hidden  # an MP4's count holds the frames its edit list hides
        if declared and count < declared - 1:  # one frame of slack: some muxers count an extra one
            raise VideoError(self.path, f"truncated: its header declares {declared} frames, the file holds {count}")
        if not size[0] or not size[1]:
            raise VideoError(self.path, "has no frame size (corrupt header)")
        first = self._first_frame()
        self._turns = self._quarter_turns(first)
        self._size = size
        self._sizes_seen.add(self._size)
        # non-square pixels (a recorder's analog channels, a camcorder's HDV) read as a player shows them
        self._shown = square_size(*size, aspect)
        said = []
        if self._shown != size:
            said.append(f"stored {size[0]}×{size[1]} in pixels {aspect.numerator}:{aspect.denominator} (wide to tall); "
                        f"read at {self._shown[0]}×{self._shown[1]}, as a player shows it")
        if first is not None and first.interlaced_frame:
            said.append("interlaced: its pictures shown by each frame's first field, the lines between filled in (woven, "
                        "its two fields comb every moving edge); the scorer reads both")
        self.picture = "; ".join(said) or None
        width, height = (self._shown[1], self._shown[0]) if self._turns % 2 else self._shown
        return VideoInfo(path=self.path, kind="file", fps=float(self._rate), frame_count=count, width=width,
                         height=height, codec=codec)

    def _first_frame(self) -> av.VideoFrame | None:
        try:
            return next(self._decode(), None)
        finally:
            self._rewind()

    def _quarter_turns(self, frame: av.VideoFrame | None) -> int:
        """Counter-clockwise quarter turns that show the frames upright (phones and some cameras
        store a rotation tag instead of rotating the pixels; relations need "up" to mean up)."""
        rotation = int(round(getattr(frame, "rotation", 0) or 0))
        if rotation % 90:
            log.warning("%s: rotation tag of %d° is not a multiple of 90°; frames are used as stored", self.path, rotation)
            return 0
        return (rotation // 90) % 4

    def _count_packets(self) -> int:
        """Containers such as MKV/WebM store no frame count: count packets (no decoding). A raw stream's (no timestamps)
        keyframes are kept on the way, numbered by the packets sent before each (a closed group), to seek to by byte."""
        count, keys = 0, []
        for packet in self._container.demux(self._stream):
            if packet.size:
                if packet.is_keyframe and packet.pos is not None and packet.pos >= 0:
                    keys.append((count, packet.pos))
                count += 1
        if self._pts is None and len(keys) > 1:
            self._byte_keys = tuple(np.asarray(column, np.int64) for column in zip(*keys))
        self._rewind()
        return count

    def _rewind(self) -> None:
        """Back to the first frame: a seek, or where the container refuses one (a raw elementary stream: no
        timestamps, no index), the file opened again."""
        if self._seekable:
            try:
                self._container.seek(0, unsupported_byte_offset=self._by_bytes)
                return
            except av.error.FFmpegError:
                self._seekable = False
        self._container.close()
        self._container = self._open()

    def _check_first_frame(self) -> None:
        for _batch in self.scan(chunk=1):
            self._rewind()
            self.skipped = 0
            return
        raise VideoError(self.path, "no decodable frames (truncated or corrupt)")

    def _check_last_frame(self) -> None:
        """A file cut short keeps its header (faststart MP4) but loses its last frames; one that declares no count (a
        fragmented MP4, MKV, MPEG-TS cut by a power loss) is read up to the cut. (Not where it would all be decoded.)"""
        if not self._can_seek:
            return
        last = self.info.frame_count - 1
        try:
            self.read([last])
        except VideoError:
            if self._joined_after is not None:  # a part whose first keyframe, and its parameter sets, merged into the last
                raise VideoError(self.path, f"its timestamps start again after {self._joined_after} frames (files joined, "
                                            "or the recorder restarted), and the frames after that cannot be decoded (the "
                                            "next recording's header lost where the files meet?): split it there") from None
            if not self._stream.frames:
                log.warning("%s: its last frame cannot be read (the recording cut short?): read up to it", self.path)
                return
            raise VideoError(
                self.path, f"truncated or corrupt: the last of its {self.info.frame_count} declared frames cannot be read"
            ) from None
        finally:
            self._rewind()

    def _index_of(self, frame: av.VideoFrame, fallback: int) -> int:
        """Frames are numbered in presentation order (the packet table), so a variable-frame-rate
        recording has no holes; times stay the timestamps (`_batch`)."""
        if frame.pts is None or frame.time_base is None:
            return fallback
        if self._pts is not None:
            return min(int(np.searchsorted(self._pts, frame.pts)), len(self._pts) - 1)
        start = self._stream.start_time or 0
        return int(round(float((frame.pts - start) * frame.time_base * self._rate)))

    def _array(self, frame: av.VideoFrame, gray: bool, size: tuple[int, int] | None = None) -> np.ndarray:
        """A frame as an array of the video's size (`size`, upright, where given): a stream may change its frame size
        part-way (a camera switched to another profile, recordings joined), and its frames are scaled to the size
        it began with, so that every frame of a video is the same size; non-square pixels are made square, and an
        interlaced frame read in colour is shown by its first field."""
        if (frame.width, frame.height) not in self._sizes_seen:
            self._sizes_seen.add((frame.width, frame.height))
            log.warning("%s: frames change size to %d×%d part-way; they are scaled to the video's %d×%d",
                        self.path, frame.width, frame.height, *self._shown)
        picture = not gray  # a colour frame is a picture for people and the model; gray ones are measured
        if size and (frame.width, frame.height) == self._size:  # to the size asked for in one resize
            return shrink(frame_to_array(frame, gray, self._turns, levels=self.levels, by_field=picture), size)
        array = frame_to_array(frame, gray, self._turns, self._shown, self.levels, by_field=picture)
        return shrink(array, size) if size else array

    def _decode(self) -> Iterator[av.VideoFrame]:
        """Decode from the current position; undecodable packets are skipped and counted, damaged ones noted."""
        self._damage = DamageTracker()  # a seek lands on a keyframe
        for packet in self._container.demux(self._stream):
            self._damage.packet(packet)
            try:
                frames = packet.decode()
            except UNDECODABLE:
                self.skipped += 1
                self._damage.undecodable()  # what predicts from the skipped picture is damaged too
                log.debug("%s: skipped an undecodable packet (%d so far)", self.path, self.skipped)
                continue
            for frame in frames:
                self._damage.frame(frame)
                yield frame

    def damaged(self) -> list[tuple[int, int]]:
        """Each stretch with the clean frame after it, whose motion is measured against a damaged one."""
        return runs(min(i, self.info.frame_count - 1) for index in self._damaged for i in (index, index + 1))

    def scan(
        self, *, gray: bool = True, chunk: int = 64, start_s: float = 0.0, end_s: float | None = None,
        size: tuple[int, int] | None = None,
    ) -> Iterator[FrameBatch]:
        wanted = self.info.frames_in(start_s, end_s)
        first, last = wanted.start, None if end_s is None else wanted.stop
        indices: list[int] = []
        frames: list[np.ndarray] = []
        counter = first
        for index, frame in self._decode_from(first):
            expected, counter = counter, index + 1
            if index < first:
                continue
            if last is not None and index >= last:
                break
            indices.append(index)
            if self._damage.damaged:
                self._damaged.add(index)
            if self._pts is not None and index > max(expected, first):  # frames the decoder gave nothing for
                self._damaged.update(range(max(expected, first), index))
            frames.append(self._array(frame, gray, size))
            if len(frames) == chunk:
                yield self._batch(indices, frames)
                indices, frames = [], []
        if frames:
            yield self._batch(indices, frames)
        if self._pts is not None and last is None and counter < len(self._pts) and indices:  # none for the last ones
            self._damaged.update(range(max(counter, first), len(self._pts)))
        if self.skipped:
            log.warning("%s: skipped %d undecodable packets", self.path, self.skipped)
        if self._damaged and first == 0 and last is None:  # said once per whole scan, not for each window read again
            spans = self.damaged()
            log.warning("%s: %d frames in %d stretch(es) damaged (pieces of their packets lost, or of those they predict "
                        "from): their glitches may score as motion, and the scores of those that did not decode are "
                        "their neighbours'", self.path, sum(stop - start for start, stop in spans), len(spans))

    def frame_times(self) -> np.ndarray | None:
        """Each frame's timestamp, in seconds from the first; None where its packets carry none (a raw stream)."""
        return self._times

    def _batch(self, indices: list[int], frames: list[np.ndarray]) -> FrameBatch:
        idx = np.asarray(indices, dtype=np.int64)
        if self._pts is not None:
            times = self._times[idx]
        else:
            times = idx / self.info.fps
        return FrameBatch(indices=idx, times=times, frames=np.stack(frames))

    def _decode_from(self, index: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """Frames decoded on from one at or before `index`, each with its number (`_index_of`; a stream without
        timestamps is numbered as it decodes). `_seek` aims at the frame's keyframe, but a
        container without a seek index (MPEG-TS and -PS, FLV: what cameras, recorders and RTMP servers
        write) may still land on a packet that does not begin a group of pictures (a keyframe damaged,
        timestamps off), from which nothing decodes until the next keyframe, seconds later or never; so
        where the first frame decoded is past `index`, the seek steps back (1 s, 2 s, 4 s…, the start at
        worst). A stream that cannot seek is decoded from its start."""
        back = 0
        while True:
            start = index - back
            landed = self._seek(start) if start > 0 else None
            if landed is None:
                start = 0
                self._rewind()
            frames = self._numbered(self._decode(), start if landed is None else landed)
            first = next(frames, None)
            if self._byte_keys is not None and landed is not None and (first is None or not first[1].key_frame):
                self._byte_keys = None  # a keyframe that opens no closed group: numbered from the start from now on
                continue
            if start <= 0 or (first is not None and first[0] <= index):
                if first is not None:
                    yield first
                    yield from frames
                return
            back = max(2 * back, round(self.info.fps))

    def _numbered(self, frames: Iterator[av.VideoFrame], start: int) -> Iterator[tuple[int, av.VideoFrame]]:
        counter = start
        for frame in frames:
            index = self._index_of(frame, counter)
            counter = index + 1
            yield index, frame

    def _seek(self, index: int) -> int | None:
        """Near the frame `index`: the number of the frame decoding goes on from where the stream does not say
        (`index` where its frames carry their times); None where it cannot seek there (decoded from its start)."""
        if self._pts is None and self._byte_keys is not None:  # a raw stream: to the last keyframe at or before it
            numbers, offsets = self._byte_keys
            key = int(np.searchsorted(numbers, index, side="right")) - 1
            if key <= 0:
                return None
            try:
                self._container.seek(int(offsets[key]), backward=True, any_frame=False, unsupported_byte_offset=True)
            except av.error.FFmpegError:
                self._byte_keys = None
                return None
            return int(numbers[key])
        if not self._seekable:
            return None
        try:
            self._seek_to(index)
        except av.error.FFmpegError:  # a raw elementary stream: no timestamps, no index
            self._seekable = False
            return None
        return index

    @property
    def _can_seek(self) -> bool:
        return self._seekable or self._byte_keys is not None

    def _seek_to(self, index: int) -> None:
        stream = self._stream
        if self._pts is not None:
            shown, decoded, offsets = self._keyframes
            keyframe = int(np.searchsorted(shown, self._pts[index], side="right")) - 1
            if self._by_bytes:
                self._container.seek(int(offsets[keyframe]) if keyframe >= 0 else 0, backward=True, any_frame=False,
                                     unsupported_byte_offset=True)
            elif not len(shown):  # no packet says it is a keyframe: the frame's own time
                self._container.seek(int(self._pts[index]), stream=stream, backward=True, any_frame=False)
            elif keyframe < 0:
                self._container.seek(0)
            else:  # the last keyframe shown at or before the frame
                self._container.seek(int(self._keyframe_time(int(shown[keyframe]), int(decoded[keyframe]))),
                                     stream=stream, backward=True, any_frame=False)
            return
        target = int((stream.start_time or 0) + Fraction(index) / self._rate / stream.time_base)
        self._container.seek(target, stream=stream, backward=True, any_frame=False)

    def _keyframe_time(self, shown: int, decoded: int) -> int:
        """The time to seek to for a keyframe: a container with a seek index finds the keyframe by the time
        it is shown; one without (MPEG-TS) lands on the first packet decoded at or after the time asked
        for, which is the keyframe only when asked for its decoding time. Which one, found at the first
        seek of a file: where its keyframe's own time lands."""
        if self._by_decoding_time is None:
            self._container.seek(shown, stream=self._stream, backward=True, any_frame=False)
            landed = next((p for p in self._container.demux(self._stream) if p.size), None)
            self._by_decoding_time = landed is None or not landed.is_keyframe or landed.pts != shown
        return decoded if self._by_decoding_time else shown

    def read(self, indices: list[int] | np.ndarray, *, gray: bool = False) -> FrameBatch:
        """A frame that does not decode (from damaged data, or before the first keyframe of a recording begun between
        two) is shown by the next that does, as its scores are its neighbours' (a report's notes name such stretches);
        one with none after it (a file cut short) is an error."""
        wanted = self._check_indices(indices)
        got: dict[int, np.ndarray] = {}
        stood_in: dict[int, int] = {}
        pos = 0
        while pos < len(wanted):
            # One seek per target; decode forward and pick up any later targets on the way.
            for index, frame in self._decode_from(int(wanted[pos])):
                if wanted[pos] > index:
                    continue
                array = self._array(frame, gray).copy()
                while pos < len(wanted) and wanted[pos] <= index:
                    got[int(wanted[pos])] = array
                    if wanted[pos] < index:
                        stood_in[int(wanted[pos])] = index
                    pos += 1
                if pos >= len(wanted):
                    break
                if wanted[pos] - index > 2 * self.info.fps and self._can_seek:
                    break  # far ahead: seeking is cheaper than decoding there
            else:
                pos = len(wanted)
        if stood_in:
            log.info("%s: frame(s) %s did not decode: shown by the next that did (%s)", self.path, sorted(stood_in)[:8],
                     ", ".join(f"{a}→{b}" for a, b in sorted(stood_in.items())[:8]))
        missing = [int(i) for i in wanted if int(i) not in got]
        if missing:
            raise VideoError(self.path, f"could not decode frames {missing[:8]}{'…' if len(missing) > 8 else ''}")
        return self._batch(sorted(got), [got[i] for i in sorted(got)])

    def close(self) -> None:
        self._container.close()


def _reason(exc: av.error.FFmpegError) -> str:
    return getattr(exc, "strerror", None) or str(exc).split(":")[0]


def open_file(path: str, levels: Levels | None = None) -> VideoSource:
    """A video file, on a regular clock where its frames come at uneven times (regular.py)."""
    video = PyAVFile(path, levels)
    return on_regular_clock(video, video.frame_times())


register_opener("file", lambda s: Path(s).is_file(), open_file)
