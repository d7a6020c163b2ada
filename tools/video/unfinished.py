"""Whether an MP4 was left unfinished: its frames written, its index never.

A camera or recorder writing MP4 (not fragmented) puts the frames in one `mdat` box as they come and the index of
them, the `moov` box, at the end, when the recording stops. A file copied while it is still being written, or left by
a recorder that lost power, holds the frames and no index, and FFmpeg reads nothing of it ("moov atom not found",
said as "Invalid data found when processing input"). Told from its top-level boxes, so that the error can say so.
"""

from __future__ import annotations

import struct
from pathlib import Path

HEADER = struct.Struct(">I4s")  # a box: its size (0: to the end of the file; 1: a 64-bit size follows) and type


def lacks_index(path: Path) -> bool:
    """An MP4 (whatever its name: told by its `ftyp` box) whose top-level boxes hold frames (`mdat`) and no index."""
    types: set[bytes] = set()
    try:
        with path.open("rb") as file:
            end, offset = path.stat().st_size, 0
            while offset + HEADER.size <= end and len(types) < 64:  # a file of other bytes ends this within a few
                file.seek(offset)
                size, kind = HEADER.unpack(file.read(HEADER.size))
                types.add(kind)
                if size == 1:
                    wide = file.read(8)
                    size = struct.unpack(">Q", wide)[0] if len(wide) == 8 else 0
                if size < HEADER.size:  # 0: to the end of the file (a recording's mdat while it is written)
                    break
                offset += size
    except OSError:
        return False
    return b"ftyp" in types and b"mdat" in types and b"moov" not in types and b"moof" not in types


UNFINISHED = ("an MP4 whose recording was not finished: its frames are there, its index (written when a recording stops) "
              "is not; copied while still being written, or the recorder lost power? Copy it again once finished, or "
              "rebuild its index (untrunc, with a whole recording of the same camera)")
