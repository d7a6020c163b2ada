"""`vadagent record URL --seconds N -o normal.mp4`: a stretch of a live camera written as MP4, as normal footage
for `vadagent fit` (the live watch's own readers decode and reconnect: tools/video/live.py)."""

from __future__ import annotations

import dataclasses
import itertools
import signal
import threading
import time
from pathlib import Path

from rich.console import Console

from vadagent.app.cameras import write_clip
from vadagent.errors import UsageError
from vadagent.tools.video.live import LiveFrame, LiveSource


class RecordingClock:
    """Each frame's time in a recording: the stream's own timestamps, so a camera that sends fewer frames
    than it declares, or drops some, is recorded as it ran (a scorer fitted on the recording then judges
    motion per real second, as the live watch does); a reconnection's timestamps start again, and go on
    one frame interval after the last frame; a frame without a timestamp comes one interval after the last."""

    def __init__(self, fps: float) -> None:
        self.interval = 1.0 / fps
        self.last: float | None = None  # the last frame's time in the recording
        self.stamp: float | None = None  # and its own timestamp
        self.start = self.first = 0.0  # where this connection began in the recording, and its first timestamp

    def __call__(self, frame: LiveFrame) -> float:
        after = 0.0 if self.last is None else self.last + self.interval
        if frame.stamp_s is None:
            time_s = after
        else:
            if self.stamp is None or frame.stamp_s <= self.stamp:  # the first frame, or a new connection's
                self.start, self.first = after, frame.stamp_s
            time_s = self.start + frame.stamp_s - self.first
        self.last, self.stamp = time_s, frame.stamp_s
        return time_s


def record_command(source: str, output: Path, seconds: float, console: Console) -> int:
    """`vadagent record URL --seconds N -o normal.mp4`: a stretch of a camera, as normal footage to fit on."""
    if output.suffix.lower() != ".mp4":
        raise UsageError(f"{output}: the recording is written as MP4; name it .mp4")
    live = LiveSource(source, max_side=1280)
    started = time.monotonic()  # a stream that stalls still ends the recording in time
    ended = threading.Event()  # Ctrl-C or SIGTERM ends the recording early and keeps what it holds
    stream = live.frames(stop=lambda: ended.is_set() or time.monotonic() - started >= seconds + live.stall_s)
    handlers = {sig: signal.signal(sig, lambda *_: ended.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        kept = itertools.takewhile(lambda frame: frame.time_s < seconds and not ended.is_set(), stream)
        # footage to fit on: an interlaced camera's frames with both fields, as the scorer reads them (`scored`)
        kept = (dataclasses.replace(frame, rgb=frame.scored, woven=None) for frame in kept)
        first = next(kept, None)  # the stream is open: its frame rate is known from here on
        clock = RecordingClock(live.fps)
        written = 0 if first is None else write_clip(output, itertools.chain([first], kept), live.fps, fragmented=True,
                                                     clock=clock)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    if written < 2:
        output.unlink(missing_ok=True)
        raise UsageError(f"{live.shown}: fewer than 2 frames arrived" + (" before the recording was stopped" if ended.is_set()
                                                                      else f" in {seconds:g} s"))
    console.print(f"recorded {written} frames ({clock.last + clock.interval:.1f} s)"
                  + (", stopped early" if ended.is_set() else "") + f" → {output}", highlight=False)
    return 0
