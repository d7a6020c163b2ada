"""What a file's packets say without decoding them: the times of the frames it shows, its keyframes, the packets
it decodes but never shows, and whether its timestamps start again part-way (`joined`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from vadagent.tools.video.joined import RESTART_S, TimestampsRestart, continuous_copy, restarted


@dataclass(frozen=True)
class PacketTable:
    """What a file's packets say without decoding: the times of the frames it shows, the keyframes, and how many
    packets are decoded but never shown."""

    pts: np.ndarray  # each frame's presentation timestamp, sorted
    keyframes: tuple[np.ndarray, np.ndarray, np.ndarray]  # presentation and decoding times, byte offsets (-1: unknown)
    # before an MP4 edit list's start (or after its end): what `ffmpeg -ss … -c copy`, a phone's trim or a camera's
    # clip export writes to cut a recording between keyframes; decoded for the frames after them, never shown
    hidden: int


@functools.lru_cache(maxsize=64)
def _packet_table(path: str, mtime_ns: int) -> PacketTable | TimestampsRestart | None:
    """The file's `PacketTable` (demuxing only; cached per file version, as one run opens a video several times), the
    keyframes in presentation order. None when packets carry no timestamps; where they start again part-way, the
    `TimestampsRestart` (returned, not raised, so that it is cached too)."""
    with av.open(path, mode="r") as container:
        stream = container.streams.video[0]
        pts, keyframes, latest, hidden = [], [], None, 0
        restart = int(RESTART_S / stream.time_base) if stream.time_base else None
        for packet in container.demux(stream):
            if packet.size:
                if packet.pts is None:
                    return None
                decoded = packet.pts if packet.dts is None else packet.dts
                if restart is not None and restarted(decoded, latest, restart):
                    return TimestampsRestart(len(pts))  # files joined, or the recorder restarted: `joined`
                latest = decoded if latest is None else max(latest, decoded)
                if packet.is_keyframe:  # one never shown too: the frames after it decode from it
                    keyframes.append((packet.pts, decoded, -1 if packet.pos is None else packet.pos))
                if packet.is_discard:
                    hidden += 1
                else:
                    pts.append(packet.pts)
    if not pts:
        return None
    keyframes.sort()
    columns = tuple(np.asarray(column, dtype=np.int64) for column in zip(*keyframes)) if keyframes else \
        tuple(np.zeros(0, np.int64) for _ in range(3))
    return PacketTable(np.unique(np.asarray(pts, dtype=np.int64)), columns, hidden)


def packet_table(path: str) -> PacketTable | TimestampsRestart | None:
    """`_packet_table` of the file as it is now."""
    return _packet_table(path, Path(path).stat().st_mtime_ns)


def continuous(path: Path) -> Path:
    """`path`, or where its timestamps start again part-way, its copy that plays the parts end to end."""
    table = packet_table(str(path))
    return continuous_copy(str(path), table.frames) if isinstance(table, TimestampsRestart) else path
