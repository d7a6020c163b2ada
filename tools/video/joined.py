"""Recordings joined end to end read as one: `cat a.ts b.ts > day.ts`, a recorder restarted part-way.

Each part's timestamps start again where it begins, so neither a frame's time nor a seek by time says
which part a frame is in (until release 41 such files were refused: "split it there"). Such a file is read
through a copy holding the same packets (neither decoded nor encoded again) in the same container, each
part's timestamps moved on to begin one frame interval after the part before ends: the parts play end to
end, as the file's bytes lie. The copy is written once per version of the file (its path, size and
modification time) into the user's cache folder, `$VADAGENT_CACHE` or `$XDG_CACHE_HOME/vadagent`
(`~/.cache/vadagent`); copies nothing has read for a week are removed when another is written.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path

import av

from vadagent.errors import VideoError

log = logging.getLogger(__name__)

RESTART_S = 1.0  # timestamps that go back further than this in decoding order start again (files joined)
KEEP_S = 7 * 24 * 3600  # a copy nothing has read for this long is removed when another is written
SAY_BEFORE_BYTES = 100_000_000  # a file larger than this is said to be copied before the copy begins
# Containers whose files are joined this way keep their own format (no bitstream conversion: an H.264
# part with other encoder settings carries its own parameter sets in band); any other goes to Matroska.
SAME_FORMAT = {"mpegts": ".ts", "flv": ".flv"}


class TimestampsRestart(Exception):
    """A file's timestamps start again after `frames` frames (in decoding order)."""

    def __init__(self, frames: int) -> None:
        super().__init__(frames)
        self.frames = frames


def restarted(decoded: int, latest: int | None, tolerance: int) -> bool:
    """Whether a packet decoded at `decoded` begins a new part, after packets up to `latest`."""
    return latest is not None and decoded < latest - tolerance


def cache_folder() -> Path:
    root = os.environ.get("VADAGENT_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vadagent"
    return Path(root) / "continuous"


def continuous_copy(path: str, after: int) -> Path:
    """The copy of `path` with continuous timestamps (written on first use); `after` is the frames before
    its first restart, for the message."""
    source = Path(path).resolve()
    stat = source.stat()
    key = hashlib.sha256(f"{source}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    with av.open(str(source)) as probe:
        container = probe.format.name
    suffix = SAME_FORMAT.get(container, ".mkv")
    folder = cache_folder()
    copy = folder / f"{source.stem}-{key}{suffix}"
    if copy.is_file():
        if time.time() - copy.stat().st_mtime > KEEP_S / 7:  # read again: kept another week (touched daily at most,
            os.utime(copy)  # as the copy's frame table is cached by its modification time)
        log.info("%s: its timestamps start again part-way; read through %s", path, copy)
        return copy
    partial = copy.with_name(f"{copy.stem}.{os.getpid()}.partial{suffix}")
    if stat.st_size > SAY_BEFORE_BYTES:  # a day's recording takes a while to copy: say so before, not only after
        log.warning("%s: its timestamps start again after %d frames (files joined, or the recorder restarted): writing "
                    "a copy of its %.0f MB with continuous timestamps, once, into %s", path, after, stat.st_size / 1e6,
                    folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _prune(folder)
        parts = _write_continuous(source, partial, container if container in SAME_FORMAT else "matroska")
        partial.replace(copy)  # whole or absent: processes side by side may write the same copy at once
    except (av.error.FFmpegError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise VideoError(path, f"its timestamps start again after {after} frames (files joined, or the recorder "
                               f"restarted), and a copy with continuous ones could not be written in {folder}: "
                               f"{error}") from None
    log.warning("%s: its timestamps start again after %d frames (files joined, or the recorder restarted): its %d "
                "parts are read end to end, through a copy with continuous timestamps (%.1f MB, %s)",
                path, after, parts, copy.stat().st_size / 1e6, copy)
    return copy


def _write_continuous(source: Path, target: Path, container: str) -> int:
    """`source`'s video packets into `target`, each part's timestamps moved on past the part before; the parts."""
    with av.open(str(source)) as src, av.open(str(target), "w", format=container) as dst:
        video = src.streams.video[0]
        stream = dst.add_stream_from_template(video)
        rate = video.average_rate or video.guessed_rate or 25
        step = max(1, round(1 / (rate * video.time_base)))  # one frame interval, in the stream's time base
        tolerance = int(RESTART_S / video.time_base)
        offset, latest, parts = 0, None, 1
        shown_end = decoded_end = None  # the latest times written, shown and decoded
        for packet in src.demux(video):
            if not packet.size or (packet.pts is None and packet.dts is None):
                continue  # a demuxer's end-of-stream marker, or a packet no time places
            decoded = packet.dts if packet.dts is not None else packet.pts
            shown = packet.pts if packet.pts is not None else decoded
            if restarted(decoded, latest, tolerance):
                # the part's first frame shown one interval after the last, its decoding after the last's
                offset = max(shown_end + step - shown, decoded_end + 1 - decoded)
                latest, parts = None, parts + 1
            latest = decoded if latest is None else max(latest, decoded)
            if packet.pts is not None:
                packet.pts += offset
            if packet.dts is not None:
                packet.dts += offset
            shown_end = shown + offset if shown_end is None else max(shown_end, shown + offset)
            decoded_end = decoded + offset if decoded_end is None else max(decoded_end, decoded + offset)
            packet.stream = stream
            dst.mux(packet)
    return parts


def _prune(folder: Path) -> None:
    stale = time.time() - KEEP_S
    for old in folder.iterdir():
        try:
            if old.stat().st_mtime < stale:
                old.unlink()
                log.info("removed %s, a copy nothing has read for a week", old)
        except OSError:  # another process removed or is replacing it
            continue
