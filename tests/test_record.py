"""`vadagent record`: a camera's normal footage recorded from its live stream, kept whole when stopped early or
killed, at the camera's own rate and timestamps."""

import signal
import subprocess
import time
from pathlib import Path

import numpy as np
from inprocess import invoke
from servers import within
from watching import VADAGENT

from vadagent.evals.servers import LiveStreamServer
from vadagent.tools.synthetic import ClipSpec, render_clip, write_video
from vadagent.tools.video import open_video


def _recording_stopped(tmp_path, after_s: float, stop) -> tuple[subprocess.Popen, str, Path]:
    """`record --seconds 60` of a live stream, stopped by `stop(process)` `after_s` into the recording:
    the process, what it said, and the recording."""
    render_clip(ClipSpec(seconds=8, seed=61), tmp_path / "camera.mp4")
    camera, recording = LiveStreamServer(tmp_path / "camera.mp4"), tmp_path / "normal.mp4"
    try:
        process = subprocess.Popen([VADAGENT, "record", camera.url, "--seconds", "60", "-o", str(recording)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert within(60, lambda: camera.connections >= 1 and recording.is_file()), "the recording never started"
        time.sleep(after_s)
        stop(process)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        camera.close()
    return process, " ".join((stdout + stderr).split()), recording


def test_ctrl_c_ends_a_recording_early_and_keeps_it(tmp_path):
    """`record --seconds 60` stopped after a few seconds: the frames so far are a playable MP4 (before,
    Ctrl-C ended the command with no word of what was kept)."""
    process, said, recording = _recording_stopped(tmp_path, 3, lambda p: p.send_signal(signal.SIGINT))
    assert process.returncode == 0, said
    assert "stopped early" in said and "Traceback" not in said
    with open_video(str(recording)) as video:
        assert 2 <= video.info.frame_count < 30 * video.info.fps  # seconds, not the minute asked for


def test_a_recording_whose_process_is_killed_keeps_what_it_wrote(tmp_path):
    """`record` killed outright (power cut, out of memory) after a few seconds: the file is fragmented MP4,
    readable up to its last fragment (a keyframe every 2 s), where a plain MP4, whose index comes last, was
    unreadable whole."""
    _, _, recording = _recording_stopped(tmp_path, 6, lambda p: p.kill())
    with open_video(str(recording)) as video:
        assert 2 * video.info.fps <= video.info.frame_count < 30 * video.info.fps
        assert len(video.read([video.info.frame_count - 1]).indices) == 1


def test_a_recording_keeps_the_cameras_own_rate_and_timestamps(tmp_path):
    """A camera at 30 frames/s was recorded as 25 (the rate was read before the stream had opened), and one
    that sends frames unevenly (a variable rate, drops) at a steady rate, so a scorer fitted on the recording
    judged motion per a wrong frame interval. The recording keeps the stream's own timestamps."""
    from vadagent.tools.synthetic import textured_square

    numbers = [n for n in range(150) if n < 50 or n % 4 == 0]  # every frame for 5/3 s, then one in four
    write_video(tmp_path / "camera.mp4", textured_square(10 + 0.5 * n for n in numbers), 30.0, numbers)
    recorded = invoke("record", tmp_path / "camera.mp4", "--seconds", "60", "-o", tmp_path / "normal.mp4")
    assert recorded.returncode == 0, recorded.stderr
    with open_video(str(tmp_path / "camera.mp4")) as camera, open_video(str(tmp_path / "normal.mp4")) as recording:
        # both read on the camera's own clock, each frame until the next (video/regular.py)
        assert recording.info.frame_count == camera.info.frame_count == numbers[-1] + 1
        times = [np.unique(np.concatenate([b.times for b in video.scan()])) for video in (camera, recording)]
        assert len(times[1]) == len(numbers) and np.allclose(times[1], times[0], atol=1e-3)
        steps = np.diff(times[1])
        assert np.allclose(steps[:10], 1 / 30, atol=1e-3) and np.allclose(steps[-10:], 4 / 30, atol=1e-3)
    assert "recorded 75 frames (5.0 s)" in " ".join(recorded.stderr.split())
