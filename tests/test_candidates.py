import numpy as np
import pytest

from vadagent.tools.scorer import CandidatePolicy, Scorer, ScorerConfig, SourceSpec, call_budget, pick_candidates
from vadagent.tools.synthetic import ClipSpec, render_clip


def bumps(n=600, peaks=((100, 5.0), (130, 4.0), (400, 3.0), (550, 2.5))):
    x = np.zeros(n)
    for at, height in peaks:
        x += height * np.exp(-0.5 * ((np.arange(n) - at) / 5.0) ** 2)
    return x


def policy(**kwargs) -> CandidatePolicy:
    return CandidatePolicy(**({"min_calls": 0} | kwargs))


def test_budget_per_minute_and_min_gap():
    scores = bumps()  # 600 frames at 10 fps = 1 minute
    assert call_budget(600, 10, 3) == 3
    picked = pick_candidates(scores, 10, policy(calls_per_minute=3, min_gap_s=2), threshold=1.0)
    assert [round(c.peak_s, 1) for c in picked] == [10.0, 13.0, 40.0]  # the 4th is over budget
    picked = pick_candidates(scores, 10, policy(calls_per_minute=3, min_gap_s=5), threshold=1.0)
    assert [round(c.peak_s, 1) for c in picked] == [10.0, 40.0, 55.0]  # 13.0 is within 5 s of 10.0


def test_threshold_and_segments():
    scores = bumps()
    picked = pick_candidates(scores, 10, policy(calls_per_minute=60, min_gap_s=1), threshold=2.8)
    assert [round(c.peak_s, 1) for c in picked] == [10.0, 13.0, 40.0]
    for c in picked:
        assert c.start_s <= c.peak_s <= c.end_s
        assert scores[c.start_frame : c.end_frame + 1].min() >= 2.8
    assert pick_candidates(np.zeros(100), 10, threshold=1.0) == []  # nothing stands out: no candidate
    below = pick_candidates(bumps() * 0.1, 10, CandidatePolicy(calls_per_minute=60, min_gap_s=1, window_s=60),
                            threshold=2.8)
    assert len(below) == 1 and below[0].below_threshold and round(below[0].peak_s) == 10  # the highest peak


def test_coverage_floor_per_window_within_the_budget():
    """Two minutes, every peak below the threshold: each 30 s window still gets its own candidate;
    with a budget already spent above threshold in one window, a floor pick displaces its weakest."""
    scores = bumps(1200, ((100, 1.0), (450, 0.8), (700, 1.2), (1100, 0.6)))
    picked = pick_candidates(scores, 10, CandidatePolicy(window_s=30), threshold=5.0)
    assert [round(c.peak_s) for c in picked] == [10, 45, 70, 110] and all(c.below_threshold for c in picked)
    assert pick_candidates(scores, 10, CandidatePolicy(min_calls=0), threshold=5.0) == []
    crowded = bumps(1200, ((50, 9.0), (100, 8.0), (150, 7.0), (230, 6.0), (700, 0.5)))
    picked = pick_candidates(crowded, 10, CandidatePolicy(calls_per_minute=1.5, window_s=60), threshold=5.0)
    assert len(picked) == call_budget(1200, 10, 1.5) == 3
    assert [round(c.peak_s) for c in picked] == [5, 10, 70]
    assert [c.below_threshold for c in picked] == [False, False, True]


def test_fill_spends_the_unused_budget_on_the_highest_peaks_below_the_threshold():
    """One minute, one peak above the threshold, five below: the floor alone adds one window's
    best; filling takes the highest remaining local peaks, min_gap apart, up to the budget."""
    scores = bumps(600, ((50, 9.0), (150, 2.0), (160, 1.9), (300, 1.5), (420, 1.0), (520, 0.5)))
    scores += 0.2  # a flat stretch sits at the median, which no pick may sink to
    rule = CandidatePolicy(calls_per_minute=4, min_gap_s=2)
    floor_only = pick_candidates(scores, 10, rule, threshold=5.0)
    filled = pick_candidates(scores, 10, rule, threshold=5.0, fill=True)
    assert len(floor_only) < len(filled) == call_budget(600, 10, 4) == 4
    assert [round(c.peak_s) for c in filled] == [5, 15, 30, 42]  # 16 s is within 2 s of 15 s
    assert [c.below_threshold for c in filled] == [False, True, True, True]
    assert CandidatePolicy().fills(True) and not CandidatePolicy().fills(False)
    assert CandidatePolicy(fill_budget="always").fills(False) and not CandidatePolicy(fill_budget="never").fills(True)
    with pytest.raises(ValueError, match="fill_budget"):
        CandidatePolicy(fill_budget="sometimes")


def test_frame_fraction_cap():
    scores = bumps()
    picked = pick_candidates(scores, 10, policy(calls_per_minute=60, min_gap_s=0), max_fraction=0.05)
    assert sum(c.end_frame - c.start_frame + 1 for c in picked) <= 30
    assert picked and any(c.start_frame <= 100 <= c.end_frame for c in picked)


@pytest.fixture(scope="module")
def scorer(synthetic_normal) -> Scorer:  # candidates, not the flow, are tested here: the fast preset
    return Scorer.fit([SourceSpec(str(synthetic_normal))], ScorerConfig(flow="coarse", select=False))


def test_an_anomaly_below_a_high_threshold_still_gets_a_marked_candidate(scorer, synthetic_anomalous):
    """A threshold fitted on a busy opening can sit above the whole clip: the floor still puts a
    candidate on the clip's anomaly, and says it is below the threshold."""
    path, truth = synthetic_anomalous
    result = scorer.score(path)
    smoothed = result.smoothed(3)
    high = float(smoothed.max()) + 1.0
    assert pick_candidates(smoothed, result.info.fps, policy(), threshold=high) == []
    picked = pick_candidates(smoothed, result.info.fps, CandidatePolicy(), threshold=high)
    assert picked and all(c.below_threshold for c in picked)
    labels = np.asarray(truth.labels)
    assert any(labels[c.start_frame : c.end_frame + 1].any() for c in picked)


def test_a_black_or_fading_opening_is_not_a_candidate(tmp_path, scorer):
    path = tmp_path / "fade.mp4"
    render_clip(ClipSpec(seconds=10, seed=3, fade_in_s=(1.0, 1.5)), path)
    result = scorer.score(path)
    fade_end = int(2.5 * result.info.fps)
    assert fade_end <= result.settled_from <= fade_end + 10
    smoothed = result.smoothed(3)
    assert smoothed[:fade_end].max() > result.threshold  # the fade itself scores high...
    picked = pick_candidates(smoothed, result.info.fps, threshold=result.threshold, ignore_before=result.settled_from)
    assert all(c.start_frame >= result.settled_from for c in picked)  # ...but is never a candidate


def test_a_scorer_knows_whether_it_was_fitted_on_the_video_it_scores(scorer, synthetic_normal, synthetic_anomalous):
    assert scorer.fitted_on(synthetic_normal) and scorer.fitted_on(f"{synthetic_normal.parent}/./{synthetic_normal.name}")
    assert not scorer.fitted_on(synthetic_anomalous[0])


def test_an_anomaly_inside_the_opening_is_scored_by_a_scorer_fitted_elsewhere(tmp_path):
    """No normal footage and a fast object in the first quarter, the footage the scorer learns as
    normal: fitted on the opening alone it is invisible; the opening scored by a scorer fitted on
    the closing stretch shows it, and the picker covers it."""
    clip = tmp_path / "early.mp4"
    truth = render_clip(ClipSpec(seconds=16, seed=4, anomalies=[("fast", 1.0)]), clip)
    labels = np.asarray(truth.labels, bool)
    config = ScorerConfig(flow="coarse")  # the splice is tested here, not the flow: the fast preset
    plain = Scorer.fit([SourceSpec(str(clip), 0.0, 4.0)], config)
    crossed = Scorer.fit_on_opening(str(clip), config)
    assert crossed.for_opening is not None and crossed.fit_info["opening_scored_by"]["start_s"] == 12.0
    before, after = plain.score(clip), crossed.score(clip)
    assert after.scores[labels].max() > before.scores[labels].max() + 2.0  # z-units of each's normal footage
    assert np.array_equal(after.scores[~labels][-100:], before.scores[~labels][-100:])  # the rest is untouched
    picked = pick_candidates(after.smoothed(3.0), after.info.fps, CandidatePolicy(), threshold=after.threshold,
                             ignore_before=after.settled_from, fill=True)
    assert any(labels[c.start_frame : c.end_frame + 1].any() for c in picked)
