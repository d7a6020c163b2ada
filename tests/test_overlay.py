"""A camera's burned-in clock: found in the normal footage, covered before any tier reads a frame."""

import numpy as np

from vadagent.samples import sample_clip, sample_truth
from vadagent.tools.scorer.overlay import Overlay, find
from vadagent.tools.synthetic import ClipSpec, render_clip, with_clock
from vadagent.tools.video import open_video


def _stretch(path, seconds: float = 20.0, size=None):
    with open_video(path) as video:
        batches = list(video.scan(gray=True, end_s=seconds, size=size))
    return np.concatenate([b.frames for b in batches]), np.concatenate([b.times for b in batches])


def test_a_clock_is_found_where_it_ticks_and_nowhere_else(tmp_path, robbery):
    """The clock's line is covered, from its date to its seconds. The clip without the clock, and a real one where a
    man walks about, have none."""
    clocked = find(*_stretch(with_clock(sample_clip(), tmp_path / "clocked.mp4")))
    assert clocked is not None and len(clocked.boxes) == 1
    x0, y0, x1, y1 = clocked.boxes[0]
    assert x0 <= 8 and 140 <= x1 <= 160 and y0 <= 8 and 16 <= y1 <= 24  # the text's own box: about (6, 8)-(140, 19)
    covered = clocked.covered(np.full((240, 320), 7, np.uint8))
    assert (covered[y0:y1, x0:x1] == clocked.fills[0]).all() and (covered[y1:] == 7).all()
    assert Overlay.of(clocked.values()) == clocked
    assert find(*_stretch(sample_clip())) is None
    assert find(*_stretch(robbery, size=(360, 203))) is None  # his legs stepped pixels at 0.30-0.48 s in four seconds


def test_a_clock_burned_in_is_never_a_candidate_and_hides_no_event(tmp_path):
    """Each second's redrawn digits were foreground to the objects tier: a twentieth of this clip's normal frames scored
    above the threshold, a tenth with x264's defaults (evals/results/bench_overlay.md). Covered, the three events are
    found above it, in their own spans, and the clock is never what a frame is flagged for. The objects tier alone, which
    self-validation keeps on this clip, without its minute of selection; a live camera's reader covers it too."""
    from inprocess import invoke

    from vadagent.tools.scorer import Scorer
    from vadagent.tools.scorer.live import LiveScorer

    clip = with_clock(sample_clip(), tmp_path / "clocked.mp4")
    fitted = invoke("fit", f"{clip}#t=0,15", "--tiers", "objects", "--no-select", "-o", tmp_path / "scorer")
    assert fitted.returncode == 0, fitted.stderr
    said = " ".join(fitted.stderr.split())  # as the console wrapped it
    assert "a clock burned into the picture, at the top left of the picture" in said and "nothing under it is seen" in said
    scorer = Scorer.load(tmp_path / "scorer")
    assert scorer.overlay and LiveScorer(scorer).maker.overlay == scorer.overlay
    result = scorer.score(clip)
    above = [c for c in result.candidates() if c.peak_score >= result.threshold]
    for event in sample_truth()["events"]:
        start, end = event["start_frame"] / 25, event["end_frame"] / 25
        assert any(c.start_s <= end and c.end_s >= start for c in above), (event, above)
    flagged = np.flatnonzero(result.scores >= result.threshold)
    boxes = [result.evidence_box(int(frame)) for frame in flagged]
    assert all(box is None or box[1] > 24 for box in boxes)  # none at the clock, top left (uncovered: 25 frames)
    normal = ~np.asarray(sample_truth()["labels"], bool)
    assert np.mean(result.scores[normal] >= result.threshold) < 0.03  # uncovered: 0.051


def test_a_slower_camera_s_clock_is_found_too(tmp_path):
    """At 10 frames a second a tick falls anywhere in a tenth of a second: still one moment of the second."""
    render_clip(ClipSpec(seconds=20, fps=10, seed=5), tmp_path / "slow.mp4")
    found = find(*_stretch(with_clock(tmp_path / "slow.mp4", tmp_path / "clocked.mp4")))
    assert found is not None and found.boxes[0][0] <= 8
