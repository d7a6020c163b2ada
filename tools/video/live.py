"""Live sources: frames as a camera sends them, and the last seconds of them kept for context.

A source is a stream URL (rtsp, rtmp, http(s), udp, tcp), a webcam device (/dev/video0) or a file;
a file is played at its own frame rate with `realtime` (demos and tests) and ends the stream
unless `loop`. A stream that stalls or drops is reopened with back-off (`LiveSource.frames`
yields on across the gap and records it); one camera's failure never raises into the others.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit

import av
import cv2
import numpy as np

from vadagent.errors import VideoError
from vadagent.tools.video.decoded import UNDECODABLE, DamageTracker, deep_gray, frame_to_array, is_deep, pixel_aspect, square_size
from vadagent.tools.video.levels import black_and_white, sample_of
from vadagent.tools.video.pyav_file import NO_DECODER
from vadagent.tools.video.shrink import fit_side, shrink

log = logging.getLogger(__name__)
RTSP_PREFIXES = ("rtsp://", "rtsps://")
SECRET_PARAMETER = re.compile(r"pass|pwd|token|key|secret|auth|sig", re.IGNORECASE)
STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")


def redacted(address: str) -> str:
    """An address fit to show (logs, events, alerts, the UI's folder): the password of `user:password@`
    and the values of query parameters named like secrets (token, key, auth…) become ***, as cameras
    are often reached with credentials in the URL. Files and devices are shown as they are."""
    if "://" not in address:
        return address
    parts = urlsplit(address)
    userinfo, at, host = parts.netloc.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        host = f"{user}{':***' if colon else ''}@{host}"
    query = "&".join(f"{name}=***" if equals and SECRET_PARAMETER.search(name) else f"{name}{equals}{value}"
                     for name, equals, value in (item.partition("=") for item in parts.query.split("&")))
    return parts._replace(netloc=host, query=query if parts.query else "").geturl()


def host_of(address: str) -> str:
    """A stream's host and port without its credentials, for a camera's default name."""
    return urlsplit(address).netloc.rpartition("@")[2]


@dataclass(frozen=True)
class LiveFrame:
    index: int  # frames since the camera was first opened, across reconnections
    time_s: float  # seconds since the camera was first opened (wall clock for streams)
    wall: float  # time.time() when the frame arrived
    rgb: np.ndarray  # (h, w, 3) uint8: the picture (an interlaced frame's first field, as files' pictures are)
    stamp_s: float | None = None  # its own timestamp in the stream (since this connection opened), if it has one
    damaged: bool = False  # decoded after data that arrived damaged, before the next keyframe: glitches may show
    woven: np.ndarray | None = None  # an interlaced frame's two fields as they came, where `rgb` is its first's

    @property
    def scored(self) -> np.ndarray:
        """The frame as the scorer reads it: an interlaced one with both fields, as files' frames are scored
        (`decoded.one_field`); a recording of the camera, which is footage to fit on, keeps them too."""
        return self.rgb if self.woven is None else self.woven


@dataclass
class Gap:
    """A stretch without frames: the source stalled or dropped, and was reopened."""

    start_wall: float
    end_wall: float | None = None
    reason: str = ""


@dataclass
class LiveSource:
    source: str
    realtime: bool = False  # a file: pace it at its frame rate
    loop: bool = False  # a file: start again at its end
    stall_s: float = 10.0  # no frame for this long: reopen
    max_backoff_s: float = 30.0
    max_side: int = 640  # frames are kept at most this large (memory of the context buffer)
    options: dict[str, str] = field(default_factory=dict)  # FFmpeg input options, over the defaults (`_open`)
    gaps: list[Gap] = field(default_factory=list)
    fps: float = 25.0  # known once opened
    # where the camera's count and clock start: a camera read again after its process ended goes on
    # from where it was (app/camera_processes.py); the clock is set when it is first read
    first_index: int = 0
    opened_at: float | None = None
    size: tuple[int, int] | None = None  # (width, height) of its first frame, kept: see `_same_size`
    # a thermal camera's deep gray (a UVC camera's Y16) read into 8 bits by these (black, white): its scorer's site's,
    # else its first frame's, kept (levels.py)
    levels: tuple[float, float] | None = None
    skipped: int = 0  # packets that did not decode (see `_decoded`)
    corrupt: int = 0  # packets that arrived with pieces missing, decoded with the damage hidden
    _damage: DamageTracker = field(default_factory=DamageTracker, init=False, repr=False)  # in the pictures now
    _warned_size: tuple[int, int] | None = field(default=None, init=False, repr=False)
    _aspect: Fraction = field(default=Fraction(1), init=False, repr=False)  # its pixels' shape (`pixel_aspect`)

    @property
    def shown(self) -> str:
        """The source as logs, events and alerts show it (`redacted`)."""
        return redacted(self.source)

    @property
    def is_file(self) -> bool:
        return not self.source.startswith(STREAM_PREFIXES) and not self.source.startswith("/dev/")

    def _open(self) -> av.container.InputContainer:
        if self.is_file and not Path(self.source).is_file():
            raise VideoError(self.source, "no such file")
        options = {} if self.is_file else {"rw_timeout": str(int(self.stall_s * 1e6)), "timeout": str(int(self.stall_s * 1e6))}
        if self.source.startswith(RTSP_PREFIXES):
            # FFmpeg's RTSP takes its packets over UDP unless told otherwise, where one lost packet damages
            # every frame until the next keyframe; interleaved in the TCP connection they all arrive (as
            # NVRs and other video analytics read cameras). A camera's `options` may set it back to udp.
            options["rtsp_transport"] = "tcp"
        options |= self.options
        container = av.open(self.source, options=options, timeout=None if self.is_file else self.stall_s)
        if not container.streams.video:
            container.close()
            raise VideoError(self.shown, "has no video stream")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            container.close()
            raise VideoError(self.shown, NO_DECODER)
        self.fps = float(stream.average_rate or stream.guessed_rate or self.fps)
        self._aspect = pixel_aspect(stream)
        return container

    def frames(self, stop: Callable[[], bool] = lambda: False) -> Iterator[LiveFrame]:
        """Frames until the source ends (a file without `loop`) or `stop()` says so."""
        if self.opened_at is None:
            self.opened_at = time.time()
        index, started, backoff = self.first_index, self.opened_at, 1.0
        while not stop():
            try:
                container = self._open()
            except (av.error.FFmpegError, OSError, VideoError) as error:
                if self.is_file and isinstance(error, VideoError):
                    raise
                self._gap(f"cannot open: {error}")
                time.sleep(min(backoff, self.max_backoff_s))
                backoff *= 2
                continue
            self._close_gap()
            backoff, paced_from, first_pts, last_pts = 1.0, time.monotonic(), None, None
            try:
                for frame in self._decoded(container):
                    if stop():
                        return
                    if self.realtime and self.is_file and frame.time is not None:
                        if first_pts is None or frame.time < last_pts:  # the first frame, or a joined file's next part
                            paced_from, first_pts = time.monotonic(), frame.time
                        last_pts = frame.time
                        delay = paced_from + (frame.time - first_pts) - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                    now = time.time()
                    woven = self._same_size(self._picture(frame)) if frame.interlaced_frame else None
                    yield LiveFrame(index, index / self.fps if self.is_file else now - started, now,
                                    self._same_size(self._picture(frame, by_field=True)),
                                    None if frame.time is None else float(frame.time), self._damage.damaged, woven)
                    index += 1
            except (av.error.FFmpegError, OSError) as error:
                self._gap(f"stream broke: {error}")
            finally:
                container.close()
            if self.is_file and not self.loop:
                return
            if not self.is_file:
                self._gap("the stream ended")

    def _picture(self, frame: av.VideoFrame, *, by_field: bool = False) -> np.ndarray:
        """A frame in RGB, at most `max_side` large and its pixels square (a recorder's analog channel's are not); a
        deep gray one by the camera's levels, its first such frame's where none were given; `by_field`: an interlaced
        one by its first field (`decoded.one_field`)."""
        if self.levels is None and is_deep(frame):
            self.levels = black_and_white(sample_of([deep_gray(frame)]))
            log.info("%s: gray deeper than 8 bits read as 8 from its first frame's levels %.6g (black) to %.6g (white)",
                     self.shown, *self.levels)
        shown = square_size(frame.width, frame.height, self._aspect)
        if shown == (frame.width, frame.height):
            return fit_side(frame_to_array(frame, False, levels=self.levels, by_field=by_field), self.max_side)
        scale = min(1.0, self.max_side / max(shown))  # to its size as shown and kept, in one resize
        return frame_to_array(frame, False, size=(round(shown[0] * scale), round(shown[1] * scale)), levels=self.levels,
                              by_field=by_field)

    def _decoded(self, container: av.container.InputContainer) -> Iterator[av.VideoFrame]:
        """The stream's frames; a packet that does not decode (lost or damaged on the way, as over RTSP
        on UDP) is skipped and counted, as files skip theirs: only a broken connection reopens the stream. From a
        packet that arrived with pieces missing, or was skipped, the frames are marked damaged up to the next
        keyframe (`LiveFrame.damaged`)."""
        self._damage = DamageTracker()  # a stream (re)opened starts at a keyframe
        for packet in container.demux(container.streams.video[0]):
            self._damage.packet(packet)
            if packet.is_corrupt:
                self.corrupt += 1
                if self.corrupt in (1, 10) or self.corrupt % 100 == 0:
                    log.warning("%s: a packet arrived with pieces missing (%d so far); until the next keyframe its "
                                "glitches may score as motion", self.shown, self.corrupt)
            try:
                frames = packet.decode()
            except UNDECODABLE:
                self.skipped += 1
                self._damage.undecodable()
                if self.skipped in (1, 10) or self.skipped % 100 == 0:
                    log.warning("%s: skipped an undecodable packet (%d so far)", self.shown, self.skipped)
                continue
            for frame in frames:
                self._damage.frame(frame)
                yield frame

    def _same_size(self, rgb: np.ndarray) -> np.ndarray:
        """Every frame at the size the camera began with: a stream may come back from a reconnection,
        or go on, at another size (a camera switched to another profile), and the scorer, the ring and
        the clips cut from it read one size."""
        height, width = rgb.shape[:2]
        if self.size is None:
            self.size = (width, height)
        elif (width, height) != self.size:
            if (width, height) != self._warned_size:
                self._warned_size = (width, height)
                log.warning("%s: frames change size to %d×%d; they are scaled to the camera's %d×%d", self.shown,
                            width, height, *self.size)
            return shrink(rgb, self.size)
        return rgb

    def _gap(self, reason: str) -> None:
        if not self.gaps or self.gaps[-1].end_wall is not None:
            reason = reason.replace(self.source, self.shown)  # FFmpeg's errors name the URL they failed on
            self.gaps.append(Gap(time.time(), reason=reason))
            log.warning("%s: %s; reopening with back-off", self.shown, reason)

    def _close_gap(self) -> None:
        if self.gaps and self.gaps[-1].end_wall is None:
            self.gaps[-1].end_wall = time.time()
            log.warning("%s: back after %.1f s", self.shown, self.gaps[-1].end_wall - self.gaps[-1].start_wall)


@dataclass(frozen=True)
class StoredFrame:
    """A frame kept as a JPEG; `rgb` decodes it when (and each time) it is needed."""

    index: int
    time_s: float
    wall: float
    jpeg: bytes
    damaged: bool = False  # as its `LiveFrame`

    @property
    def rgb(self) -> np.ndarray:
        return cv2.cvtColor(cv2.imdecode(np.frombuffer(self.jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


class FrameRing:
    """The last `seconds` of a camera's frames, for the context before and after a candidate.
    Memory is bounded: at most `seconds × fps` frames, each kept as a JPEG (≈ 40 kB at 640×480
    instead of 920 kB raw), decoded one at a time when a moment's clip is written.

    A span can be held (`hold`): frames of it that leave the ring are kept aside until it is released,
    so a moment that waits for the VLM longer than the ring lasts can still be cut. At most `max_holds`
    spans are held; beyond, the oldest is let go (a bound on memory should a holder never release)."""

    def __init__(self, seconds: float, fps: float, quality: int = 90, max_holds: int = 64) -> None:
        self.frames: deque[StoredFrame] = deque(maxlen=max(2, int(seconds * fps)))
        self.quality = quality
        self.max_holds = max_holds
        self.holds: dict[Hashable, tuple[float, float]] = {}  # key → (t0, t1) camera times, in the order held
        self.held: dict[int, StoredFrame] = {}  # frames out of the ring that a hold covers, by index (time order)
        self._lock = threading.Lock()  # the reader adds; the watch holds, releases and cuts from other threads

    def add(self, frame: LiveFrame) -> None:
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            return
        with self._lock:
            if len(self.frames) == self.frames.maxlen and self._covered(leaving := self.frames[0]):
                self.held[leaving.index] = leaving
            self.frames.append(StoredFrame(frame.index, frame.time_s, frame.wall, jpeg.tobytes(), frame.damaged))

    def hold(self, key: Hashable, t0: float, t1: float) -> None:
        """Keep the frames between t0 and t1 (camera times) until `release(key)`."""
        with self._lock:
            self.holds[key] = (t0, t1)
            if len(self.holds) > self.max_holds:
                oldest = next(iter(self.holds))
                log.warning("more than %d moments hold frames: the oldest (at %.1f s) is let go", self.max_holds,
                            self.holds[oldest][0])
                del self.holds[oldest]
                self._prune()

    def release(self, key: Hashable) -> None:
        with self._lock:
            if self.holds.pop(key, None) is not None:
                self._prune()

    def between(self, t0: float, t1: float) -> list[StoredFrame]:
        with self._lock:  # a copy: the reader appends meanwhile
            return [f for f in itertools.chain(self.held.values(), self.frames) if t0 <= f.time_s <= t1]

    def is_held(self, index: int) -> bool:
        return index in self.held

    @property
    def kept_from_s(self) -> float:
        """Camera time of the oldest frame kept, held or in the ring (-inf: none yet)."""
        with self._lock:
            oldest = next(iter(self.held.values()), self.frames[0] if self.frames else None)
            return float("-inf") if oldest is None else oldest.time_s

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(len(f.jpeg) for f in itertools.chain(self.held.values(), self.frames))

    def _covered(self, frame: StoredFrame) -> bool:
        return any(t0 <= frame.time_s <= t1 for t0, t1 in self.holds.values())

    def _prune(self) -> None:
        self.held = {index: f for index, f in self.held.items() if self._covered(f)}
