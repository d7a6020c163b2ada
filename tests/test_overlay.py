"""A camera's burned-in clock: found in the normal footage, covered before any tier reads a frame."""

import av
import cv2
import numpy as np
import pytest

from vadagent.samples import sample_clip, sample_truth
from vadagent.tools.scorer.overlay import Overlay, find
from vadagent.tools.video import open_video


def _clocked(target, *, fps: float = 25.0):
    """The sample clip with a camera's date and time drawn in at its top left, and a caption at its bottom right."""
    with av.open(str(sample_clip())) as source, av.open(str(target), "w") as out:
        stream = out.add_stream("libx264", rate=round(fps))
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i, frame in enumerate(source.decode(video=0)):
            image = frame.to_ndarray(format="rgb24")
            t = 10 * 3600 + 59 * 60 + 40 + int(i / fps)
            text = f"2026-12-07 {t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}"
            cv2.putText(image, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
            cv2.putText(image, "CAM 01", (250, 232), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode(None))
    return target


def _stretch(path, seconds: float = 20.0, size=None):
    with open_video(path) as video:
        batches = list(video.scan(gray=True, end_s=seconds, size=size))
    return np.concatenate([b.frames for b in batches]), np.concatenate([b.times for b in batches])


def test_a_clock_is_found_where_it_ticks_and_nowhere_else(tmp_path, robbery):
    """The clock's line is covered, from its date to its seconds; a caption that never changes is left (nothing reads
    it as motion). The clip without the clock, and a real one where a man walks about, have none."""
    clocked = find(*_stretch(_clocked(tmp_path / "clocked.mp4")))
    assert clocked is not None and len(clocked.boxes) == 1
    x0, y0, x1, y1 = clocked.boxes[0]
    assert x0 <= 8 and 140 <= x1 <= 160 and y0 <= 6 and 16 <= y1 <= 24  # the text's own box: about (6, 6)-(142, 18)
    covered = clocked.covered(np.full((240, 320), 7, np.uint8))
    assert (covered[y0:y1, x0:x1] == clocked.fills[0]).all() and (covered[y1:] == 7).all()
    assert Overlay.of(clocked.values()) == clocked
    assert find(*_stretch(sample_clip())) is None
    assert find(*_stretch(robbery, size=(360, 203))) is None  # his legs stepped pixels at 0.30-0.48 s in four seconds


def test_a_clock_burned_in_no_longer_hides_the_sample_s_events(tmp_path):
    """Each second's redrawn digits were small objects moving fast to the objects tier: the normal objects' motion
    for their size grew sevenfold, and of the sample's three events only the fast object stayed above the threshold.
    Covered, every event is found above it, in its own span, and the clock itself is never a candidate."""
    from vadagent.tools.scorer import Scorer, SourceSpec

    clip = _clocked(tmp_path / "clocked.mp4")
    scorer = Scorer.fit([SourceSpec(str(clip), 0.0, 15.0)])
    assert scorer.fit_info["overlay"] and Scorer.load(_saved(scorer, tmp_path / "s")).fit_info["overlay"]
    result = scorer.score(clip)
    above = [c for c in result.candidates() if c.peak_score >= result.threshold]
    for event in sample_truth()["events"]:
        start, end = event["start_frame"] / 25, event["end_frame"] / 25
        assert any(c.start_s <= end and c.end_s >= start for c in above), (event, above)
    assert all(c.region is None or c.region.box[1] > 30 for c in above)  # not at the clock, top left


def _saved(scorer, folder):
    scorer.save(folder)
    return folder


@pytest.mark.parametrize("fps", [10.0])
def test_a_slower_camera_s_clock_is_found_too(tmp_path, fps):
    """At 10 frames a second a tick's phase wanders by a tenth of a second: still one moment of the second."""
    with open_video(_clocked(tmp_path / "slow.mp4", fps=fps)) as video:
        assert video.info.fps == pytest.approx(fps)
        batches = list(video.scan(gray=True, end_s=20.0))
    found = find(np.concatenate([b.frames for b in batches]), np.concatenate([b.times for b in batches]))
    assert found is not None and found.boxes[0][0] <= 8
