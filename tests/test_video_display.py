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
        assert original.picture is None  # it states 640:639 (an encoder's rounding to 16:9): square
        shot = original.read(range(50)).frames
        small = next(original.scan(gray=True, size=(360, 203))).frames[:50]
    recording = tmp_path / "channel.ts"  # a browser plays no MPEG-TS: the player gets a copy
    write_video(recording, [cv2.resize(f, stored, interpolation=cv2.INTER_AREA) for f in shot], 27.0, pixels=pixels)
    with open_video(recording) as video:
        assert (video.info.width, video.info.height) == (852, 480)
        assert video.picture.startswith(f"stored {stored[0]}×{stored[1]} in pixels {pixels.numerator}:{pixels.denominator}")
        # the same pictures, half their rows or columns lost on the way (1.9 and 2.2 gray levels, ad hoc)
        assert np.abs(video.read([10, 40]).frames.astype(float) - shot[[10, 40]]).mean() < 4.0
        assert np.abs(next(video.scan(gray=True, size=(360, 203))).frames.astype(float) - small).mean() < 3.0
        said = video.picture
    told = json.loads(invoke("info", recording, "--json").stdout)
    assert (told["width"], told["height"], told["picture"]) == (852, 480, said)
    with open_video(playable_copy(recording, tmp_path)) as played:  # square pixels, at most 640 wide
        assert (played.info.width, played.info.height, played.picture) == (640, 360, None)
    live = next(LiveSource(str(recording)).frames())  # a camera's stream: at most `max_side`, one resize
    assert live.rgb.shape == (361, 640, 3)
    assert np.abs(live.rgb.astype(float) - cv2.resize(shot[0], (640, 361), interpolation=cv2.INTER_AREA)).mean() < 4.0


def test_an_interlaced_recordings_pictures_are_its_first_fields_and_the_scorer_reads_both(tmp_path, robbery):
    """An analog camera's two fields a frame (robbery.mp4's frames woven in pairs and coded interlaced, top field
    first): its pictures (what the model, a report and the player's copy show) are each frame's first field, one
    moment, where woven they comb every moving edge (until release 69: on the moving parts, 20.9 gray levels from the
    first field's picture, against 10.3 now; ad hoc). Its gray frames, which the scorer reads, keep both fields: their
    combing along a moving edge is the motion it measures (`evals/bench_interlaced.py`). `info` says so."""
    from vadagent.tools.synthetic import woven
    from vadagent.tools.video.live import LiveSource
    from vadagent.tools.video.preview import playable_copy

    with open_video(robbery) as original:
        shot = original.read(range(600, 700)).frames
    recording = tmp_path / "analog.mp4"
    write_video(recording, woven(shot), 13.5, interlaced=True)
    moving = np.abs(shot[0::2].astype(float) - shot[1::2]).max(-1) > 25  # where the two fields' moments differ

    def off(pictures):  # mean distance from the first field's moment where things move
        return np.abs(pictures.astype(float) - shot[0::2]).mean(-1)[moving].mean()

    def combing(frames):  # odd lines against the even ones around them, where things move
        lines = frames.astype(float) if frames.ndim == 3 else frames.mean(-1)
        between = np.abs(lines[:, 1:-1:2] - (lines[:, 0:-2:2] + lines[:, 2::2]) / 2)
        return between[moving[:, 1:-1:2]].mean()

    with open_video(recording) as video:
        assert "interlaced" in video.picture
        pictures, gray = video.read(range(50)).frames, video.read(range(50), gray=True).frames
    assert off(pictures) < 14.0 and combing(gray) > 2 * combing(pictures)
    # the same camera watched live (until release 70 its pictures were woven there: 21.1 from the first field, ad hoc);
    # the live scorer reads both fields, as a file's, and a recording of it to fit on keeps them
    live = [frame for _, frame in zip(range(50), LiveSource(str(recording), max_side=1280).frames())]
    live_pictures, scored = np.stack([f.rgb for f in live]), np.stack([f.scored for f in live])
    assert off(live_pictures) < 14.0 and combing(scored) > 2 * combing(live_pictures)
    assert invoke("record", recording, "--seconds", 4, "-o", tmp_path / "normal.mp4").returncode == 0
    with open_video(tmp_path / "normal.mp4") as recorded:
        assert combing(recorded.read(range(50)).frames) > 2 * combing(live_pictures)
    assert "interlaced" in json.loads(invoke("info", recording, "--json").stdout)["picture"]
    copy = playable_copy(recording, tmp_path, max_side=852)  # a browser would show it woven: a copy of its pictures
    assert copy != recording
    with open_video(copy) as played:
        assert played.picture is None and off(played.read(range(50)).frames) < 14.0
