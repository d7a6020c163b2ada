"""A file's picture read as a player shows it: a rotation tag turned upright, non-square pixels made square."""

import json
from fractions import Fraction

import cv2
import numpy as np
import pytest
from inprocess import invoke

from vadagent.tools.synthetic import write_video
from vadagent.tools.video import open_video


def test_a_rotation_tag_turns_the_frames_upright(tmp_path):
    import av

    from vadagent.samples import sample_clip

    target = tmp_path / "rotated.mp4"
    with av.open(str(sample_clip())) as src, av.open(str(target), "w") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        stream.set_display_rotation(90)  # a phone held sideways: pixels stored as shot, turned on display
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    with open_video(sample_clip()) as original, open_video(target) as rotated:
        assert (rotated.info.width, rotated.info.height) == (original.info.height, original.info.width)
        upright = rotated.read([10], gray=True).frames[0]
        assert np.array_equal(upright, np.rot90(original.read([10], gray=True).frames[0]))
        assert next(rotated.scan(chunk=4)).frames.shape[1:] == (original.info.width, original.info.height)


@pytest.mark.parametrize("stored, pixels", [((852, 240), Fraction(1, 2)), ((426, 480), Fraction(2))])
def test_non_square_pixels_are_read_as_a_player_shows_them(tmp_path, robbery, stored, pixels):
    """A recorder's analog channel stored at half its height (half-D1: pixels 1:2), a camcorder's at part of its width
    (HDV's are 4:3; here 2:1): every frame read, scanned, copied for the web UI's player and watched live at the
    picture's shape as a player shows it (852×480, as the clip was shot), and `info` says how. Read as stored (until
    release 69) a person was half as tall or twice as wide to the model, and a report's boxes missed the player's
    picture, which a browser shows by the pixels' shape."""
    from vadagent.tools.video.live import LiveSource
    from vadagent.tools.video.preview import playable_copy

    with open_video(robbery) as original:
        assert original.pixels is None  # it states 640:639 (an encoder's rounding to 16:9): square
        shot = original.read(range(50)).frames
        small = next(original.scan(gray=True, size=(360, 203))).frames[:50]
    recording = tmp_path / "channel.ts"  # a browser plays no MPEG-TS: the player gets a copy
    write_video(recording, [cv2.resize(f, stored, interpolation=cv2.INTER_AREA) for f in shot], 27.0, pixels=pixels)
    with open_video(recording) as video:
        assert (video.info.width, video.info.height) == (852, 480)
        assert video.pixels.startswith(f"stored {stored[0]}×{stored[1]} in pixels {pixels.numerator}:{pixels.denominator}")
        # the same pictures, half their rows or columns lost on the way (1.9 and 2.2 gray levels, ad hoc)
        assert np.abs(video.read([10, 40]).frames.astype(float) - shot[[10, 40]]).mean() < 4.0
        assert np.abs(next(video.scan(gray=True, size=(360, 203))).frames.astype(float) - small).mean() < 3.0
        said = video.pixels
    told = json.loads(invoke("info", recording, "--json").stdout)
    assert (told["width"], told["height"], told["pixels"]) == (852, 480, said)
    with open_video(playable_copy(recording, tmp_path)) as played:  # square pixels, at most 640 wide
        assert (played.info.width, played.info.height, played.pixels) == (640, 360, None)
    live = next(LiveSource(str(recording)).frames())  # a camera's stream: at most `max_side`, one resize
    assert live.rgb.shape == (361, 640, 3)
    assert np.abs(live.rgb.astype(float) - cv2.resize(shot[0], (640, 361), interpolation=cv2.INTER_AREA)).mean() < 4.0
