import numpy as np

from vadagent.tools.scorer import call_budget, pick_candidates


def bumps(n=600, peaks=((100, 5.0), (130, 4.0), (400, 3.0), (550, 2.5))):
    x = np.zeros(n)
    for at, height in peaks:
        x += height * np.exp(-0.5 * ((np.arange(n) - at) / 5.0) ** 2)
    return x


def test_budget_per_minute_and_min_gap():
    scores = bumps()  # 600 frames at 10 fps = 1 minute
    assert call_budget(600, 10, 3) == 3
    picked = pick_candidates(scores, 10, calls_per_minute=3, min_gap_s=2, threshold=1.0)
    assert [round(c.peak_s, 1) for c in picked] == [10.0, 13.0, 40.0]  # the 4th is over budget
    picked = pick_candidates(scores, 10, calls_per_minute=3, min_gap_s=5, threshold=1.0)
    assert [round(c.peak_s, 1) for c in picked] == [10.0, 40.0, 55.0]  # 13.0 is within 5 s of 10.0


def test_threshold_and_segments():
    scores = bumps()
    picked = pick_candidates(scores, 10, calls_per_minute=60, min_gap_s=1, threshold=2.8)
    assert [round(c.peak_s, 1) for c in picked] == [10.0, 13.0, 40.0]
    for c in picked:
        assert c.start_s <= c.peak_s <= c.end_s
        assert scores[c.start_frame : c.end_frame + 1].min() >= 2.8
    assert pick_candidates(np.zeros(100), 10, threshold=1.0) == []  # nothing stands out: no candidate
    below = pick_candidates(bumps() * 0.1, 10, calls_per_minute=60, min_gap_s=1, threshold=2.8, min_calls=1)
    assert len(below) == 1 and below[0].below_threshold and round(below[0].peak_s) == 10  # the highest peak


def test_frame_fraction_cap():
    scores = bumps()
    picked = pick_candidates(scores, 10, calls_per_minute=60, min_gap_s=0, max_fraction=0.05)
    assert sum(c.end_frame - c.start_frame + 1 for c in picked) <= 30
    assert picked and any(c.start_frame <= 100 <= c.end_frame for c in picked)
