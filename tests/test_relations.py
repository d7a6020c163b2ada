from vadagent.samples import sample_clip, sample_truth
from vadagent.tools.relations import track_objects, track_relations


def test_tracks_find_the_wrong_way_walker_and_proximity():
    wrong_way = next(e for e in sample_truth()["events"] if e["kind"] == "wrong_way")
    start = wrong_way["start_frame"] / 25.0
    tracks, fps, scale = track_objects(sample_clip(), start, start + 5.0)
    assert fps == 25.0 and 0 < scale <= 1.0 and len(tracks) >= 3
    texts = [r.text() for r in track_relations(tracks, fps, scale)]
    assert any("moves leftwards" in t and "against the flow of the others" in t for t in texts)
    assert all(start - 0.1 <= r.start_s <= r.end_s <= start + 5.1 for r in track_relations(tracks, fps, scale))


def test_no_motion_no_relations():
    tracks, fps, scale = track_objects(sample_clip(), 0.0, 0.2)
    assert track_relations([], fps, scale) == [] and isinstance(tracks, list)


def test_scorer_evidence_of_one_object_is_one_relation_with_ranges():
    """Frame-by-frame flow evidence of one object moving one way becomes one relation with a time
    span and speed ranges, not a line per frame; another direction stays apart."""
    import numpy as np

    from vadagent.agents.explain.context import motion_relations
    from vadagent.tools.scorer.tiers import Evidence

    n = 100
    frames = np.arange(n)
    box = np.tile([96, 96, 120, 120], (n, 1))
    box[:, 0::2] += frames[:, None] // 4  # drifting right, one cell over a few frames
    speed = np.full(n, 50.0) + frames % 7
    direction = np.zeros(n)
    ratio = np.where(frames % 3 == 0, 2.5, 0.5)  # evidence every third frame: runs with gaps
    ratio[70:] = 0.5
    ratio[80:90], direction[80:90] = 3.0, 180.0  # then something moves leftwards
    relations = motion_relations(Evidence(frames, box, speed, direction, ratio), 25.0, 0.0, n / 25.0)
    assert len(relations) == 2
    right, left = relations
    assert "rightwards" in right.predicate and "–" in right.predicate and right.end_s - right.start_s > 2.0
    assert "leftwards" in left.predicate
