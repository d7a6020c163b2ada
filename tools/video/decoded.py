"""What a decoder gives, as the product reads it: a frame as an array (gray straight from the luma plane where it
can be; a thermal camera's deep gray by its levels), and whether the pictures hold damage. Files (pyav_file.py) and
live cameras (live.py) read their frames alike through it."""

from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np

from vadagent.tools.video.levels import DEEP_GRAY, Levels, to_8_bits

# A packet the decoder rejects: damaged, or, after a joined file's parameter sets were lost, one that asks for
# what FFmpeg's decoder does not do ("not yet implemented"); either is skipped and counted, not fatal.
UNDECODABLE = (av.error.InvalidDataError, av.error.PatchWelcomeError)
SUSPECT_PACKETS = 2  # packets after a damaged one that may hold its missing pieces (see `DamageTracker`)
_GRAY_PLANAR = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"}
# Deep gray (DEEP_GRAY): FFmpeg's own cut to 8 bits keeps the top byte, a blank picture (levels.py); such frames are
# read at their depth and mapped by the video's levels.
_AS_IS = {"gray16le", "gray16be", "grayf32le", "grayf32be"}  # what PyAV gives as an array; the others via gray16le


# A stated pixel shape past these is a broken header's, not a camera's (the widest in use: 2:1, anamorphic 1.33× lenses)
PLAUSIBLE_ASPECT = (Fraction(1, 4), Fraction(4))
# Nearer square than this is square: an encoder's rounding to an exact 16:9 (robbery.mp4's 852×480 states 640:639), a
# pixel in 50 at most, not worth resampling every frame for; an analog channel's nearest is 12:11 (9 %)
SQUARE_WITHIN = 0.02


def pixel_aspect(stream: av.video.stream.VideoStream) -> Fraction:
    """How wide one stored pixel is shown, for its height (the sample aspect ratio): 1 for square pixels, nearly square
    ones and where the stream states none. A recorder stores its analog channels' 4:3 pictures at fixed sizes (D1
    704×576 and CIF 352×288: pixels 12:11; half-D1 704×288: 6:11), a camcorder HDV's 16:9 at 1440×1080 (4:3)."""
    for stated in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        if stated and PLAUSIBLE_ASPECT[0] <= stated <= PLAUSIBLE_ASPECT[1]:
            return Fraction(1) if abs(stated - 1) < SQUARE_WITHIN else Fraction(stated)
    return Fraction(1)


def square_size(width: int, height: int, aspect: Fraction) -> tuple[int, int]:
    """The size a picture of `width`×`height` pixels of `aspect` is shown at, in square pixels: stretched along its
    pixels' long side, as browsers show it (Chromium's natural size), so that nothing stored is lost and a report's
    pictures, its boxes and the web UI's player agree."""
    if aspect > 1:
        return round(width * aspect), height
    if aspect < 1:
        return width, round(height / aspect)
    return width, height


def is_deep(frame: av.VideoFrame) -> bool:
    return frame.format.name in DEEP_GRAY


def deep_gray(frame: av.VideoFrame) -> np.ndarray:
    """A deep gray frame at its depth: 16-bit counts (9 to 14 bits scaled up to 16 by FFmpeg) or floating point."""
    return (frame if frame.format.name in _AS_IS else frame.reformat(format="gray16le")).to_ndarray()


def frame_to_array(frame: av.VideoFrame, gray: bool, quarter_turns: int = 0,
                   size: tuple[int, int] | None = None, levels: Levels | None = None, *,
                   by_field: bool = False) -> np.ndarray:
    """Gray straight from the luma plane when the pixel format allows (no colour conversion);
    scaled to `size` (width, height as stored) where the frame is another size; turned upright when
    the file's display matrix says the camera was rotated. A deep gray frame is mapped to 8 bits by `levels`
    (without them, returned at its depth: for measuring them). `by_field`: an interlaced frame by its first field
    (`one_field`), for a picture people and the model look at."""
    if by_field and frame.interlaced_frame:
        array = one_field(_as_array(frame, gray, levels), size or (frame.width, frame.height))
    else:
        if size and (frame.width, frame.height) != size:
            frame = frame.reformat(width=size[0], height=size[1], interpolation="AREA")
        array = _as_array(frame, gray, levels)
    return np.ascontiguousarray(np.rot90(array, quarter_turns)) if quarter_turns else array


def one_field(woven: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An interlaced frame's first field (its even lines) scaled to `size`: an analog camera's two fields are taken
    a field's time apart (20 ms), and woven into one frame they comb every moving edge, a picture of two moments.
    One field is one moment, at half the lines; the first of each frame, so that the pictures stay a frame's time
    apart. Pictures only: the scorer reads both fields, whose combing along a moving edge is motion it measures
    (read by one field, two of three synthetic interlaced sites scored lower, one higher; `evals/bench_interlaced.py`).
    A motion-adaptive weave (the lines between filled in only where they comb) scored as one field did (ad hoc)."""
    return cv2.resize(woven[::2], size, interpolation=cv2.INTER_LINEAR)


def _as_array(frame: av.VideoFrame, gray: bool, levels: Levels | None) -> np.ndarray:
    name = frame.format.name  # (every frame decoded passes here)
    if name in DEEP_GRAY:
        array = deep_gray(frame)
        if levels is not None:
            array = to_8_bits(array, levels)
            array = array if gray else cv2.cvtColor(array, cv2.COLOR_GRAY2RGB)
        return array
    if gray and name in _GRAY_PLANAR:
        plane = frame.planes[0]
        return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: frame.height, : frame.width]
    return frame.to_ndarray(format="gray" if gray else "rgb24")


class DamageTracker:
    """Whether the pictures a decoder gives hold damage: from a packet that arrived with pieces missing, one that
    did not decode or a picture the decoder concealed damage in, to the next keyframe whose packet arrived whole.
    The MPEG-TS demuxer finds pieces missing as the next packet begins, so its flag may land a packet or two before
    the damaged one (a keyframe's own lost pieces flagged on the frames before it, in `tests/test_video.py`): a
    keyframe within `SUSPECT_PACKETS` after a flagged packet does not end the damage. It ends when that keyframe's
    picture comes out (by its timestamp), as a decoder with threads gives pictures a few packets late."""

    def __init__(self) -> None:
        self.damaged = False
        self._since = SUSPECT_PACKETS + 1  # packets since the last damaged one
        self._clean_keyframes: set[int] = set()  # timestamps of keyframes that arrived whole, until they come out

    def packet(self, packet: av.Packet) -> None:
        """Before `packet` is decoded."""
        if packet.is_corrupt:
            self.damaged, self._since = True, 0
            return
        self._since += 1
        if packet.is_keyframe and self._since > SUSPECT_PACKETS:
            if packet.pts is None:
                self.damaged = False
            else:
                self._clean_keyframes.add(packet.pts)

    def undecodable(self) -> None:
        self.damaged, self._since = True, 0

    def frame(self, frame: av.VideoFrame) -> bool:
        """Whether this picture, as it comes out of the decoder, holds damage."""
        if frame.is_corrupt:
            self.damaged = True
        elif frame.pts in self._clean_keyframes:
            self._clean_keyframes.discard(frame.pts)
            self.damaged = False
        return self.damaged
