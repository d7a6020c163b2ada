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
