"""Self-validation: the tier set and weights chosen on synthetic anomalies pasted into held-out normal footage
(selection.py), the busy site it must get right, a video's opening standing in for normal footage, and the
footage it keeps and thins."""

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from per_run import once_per_run
from sklearn.metrics import roc_auc_score

from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec
from vadagent.tools.scorer.tiers import Geometry, tier_class
from vadagent.tools.synthetic import ClipSpec, ClipTruth, render_clip


@pytest.fixture(scope="module")
def busy_scene(tmp_path_factory):
    """A busy normal crowd hurrying both ways in the background; in the test clip, one person
    walks slowly close to the camera, where nobody goes. Motion cues rank the crowd higher."""
    def make(folder: Path) -> None:
        render_clip(ClipSpec(seconds=30, seed=11, crowd=2.5), folder / "normal.mp4")
        spec = ClipSpec(seconds=16, seed=12, crowd=2.5, anomalies=[("intruder", 6.0)])
        render_clip(spec, folder / "test.mp4").save(folder / "truth.json")

    folder = once_per_run(tmp_path_factory, "busy", make)
    truth = ClipTruth.load(folder / "truth.json")
    return folder / "normal.mp4", folder / "test.mp4", np.asarray(truth.labels), truth.masks(320, 240)


def test_busy_background_regression(tmp_path, busy_scene):
    """The shipped default on 30 s of normal footage: self-validation chooses the weights (logged,
    saved), and the slow intruder in front of the crowd ranks above it, said to be of a size not seen there."""
    from vadagent.agents.explain.context import object_relations
    from vadagent.evals.detection import box_coverage
    from vadagent.tools.scorer.tiers.objects import SIZE_GROUP, read_note

    normal, test, labels, masks = busy_scene
    default = Scorer.fit([SourceSpec(str(normal))])
    selection = default.fit_info["selection"]
    # a crowd going both ways, standing in front: no leaves, for either tier
    assert not any(tier.sway_place.zone.any() for tier in default.tiers.values())
    assert "no test labels" in selection["labels"] and selection["held_out_frames"] > 600  # every frame once
    assert {tuple(t["tiers"]) for t in selection["tried"]} == {("motion",), ("objects",), ("motion", "objects")}
    assert list(default.tiers) == selection["chosen"]["tiers"] and default.config.weights == selection["chosen"]["weights"]
    assert all(0.0 <= t["auc"] <= 1.0 and t["per_kind"] for t in selection["tried"])
    saved = json.loads((default.save(tmp_path / "s") / "scorer.json").read_text())
    assert saved["fit"]["selection"]["chosen"] == selection["chosen"]
    result = default.score(test)
    assert roc_auc_score(labels, result.scores) >= 0.9
    motion_alone = Scorer.fit([SourceSpec(str(normal))], ScorerConfig(tiers=["motion"])).score(test)
    assert roc_auc_score(labels, motion_alone.scores) < 0.75  # it ranks the crowd higher
    peak = int(np.argmax(np.where(labels == 1, result.scores, -np.inf)))
    assert read_note(result.evidence.note[peak]).multiple >= 1.0  # the object tier says what was unusual
    # and says it of the intruder's frames (0.88 measured), seldom of the crowd's (0.02): beyond its normal 99th percentile
    noted = np.array([read_note(note) is not None for note in result.evidence.note])
    assert noted[labels == 1].mean() >= 0.7 and noted[labels == 0].mean() <= 0.1
    # a candidate says it where it peaks; the VLM is told it over the frames it holds, of the foreground's object
    candidate = max(result.candidates(), key=lambda c: c.peak_score)
    assert candidate.region.why == result.evidence.note[round(candidate.region.at_s * 25)]
    flagged = result.scores >= result.threshold  # the frames the scorer flagged, which alone are spoken of
    said = object_relations(result.evidence, 25.0, candidate.start_s, candidate.end_s, (320, 240), flagged=flagged)
    assert any("bottom" in r.subject and read_note(r.object).group == SIZE_GROUP and r.end_s - r.start_s >= 0.5
               for r in said)
    # before the intruder, notes of the crowd (2 relations' worth, measured) on frames not flagged are not said
    assert object_relations(result.evidence, 25.0, 0.0, 5.5, (320, 240), flagged=flagged) == []
    x0, y0, x1, y1 = result.evidence.box[peak]
    assert y1 > 0.6 * 240  # the object named is in the foreground, where the intruder walks
    # the evidence box is on the intruder (his head and shoulders: his body is near the pavement's shade)
    assert np.mean(box_coverage(masks, result.evidence.box)[labels == 1] > 0) >= 0.8
    # and self-validation said as much beforehand, label-free: its box lands on what it pasted
    located = selection["chosen"]["evidence"]
    assert located["frames"] > 1000 and located["touches"] >= 0.8 and 0 < located["covers"] <= located["touches"]
    assert 0.5 <= located["fills"] <= 1.0  # where it touches, the box is mostly what was pasted, not the crowd


def test_a_video_opening_standing_in_for_normal_footage_is_self_validated_as_normal_footage_is(busy_scene, monkeypatch):
    """The stand-ins of a video without normal footage (its first quarter, and its last, which scores the first)
    choose their tiers as normal footage does, from AUTO_SELECT_S of footage (lowered to a 30 s clip's quarter
    here); `select=False` keeps every tier at equal weights. Never self-validated before release 48:
    evals/bench_footageless.py measured the choice higher on rendered clips of 120 s."""
    from vadagent.app.detecting import opening_note
    from vadagent.tools.scorer import scorer as scorer_module
    from vadagent.tools.scorer import selection

    normal, _, _, _ = busy_scene
    monkeypatch.setattr(scorer_module, "AUTO_SELECT_S", 7.0)
    monkeypatch.setattr(selection, "WINDOWS_PER_KIND", 4)  # whether it runs is tested, not what it finds
    config = ScorerConfig(flow="coarse")
    stages = set()
    stand_in = Scorer.fit_on_opening(str(normal), config, progress=lambda stage, done, total: stages.add(stage))
    assert stand_in.fit_info["sources"][0]["end_s"] == 7.5 and stand_in.fit_info["stand_in"]
    # both fits show their progress, each stage on a bar of its own
    assert {"self-validation", "self-validation (the video's last quarter)"} <= stages
    for scorer in (stand_in, stand_in.for_opening):
        chosen = scorer.fit_info["selection"]["chosen"]
        assert list(scorer.tiers) == chosen["tiers"] and scorer.config.weights == chosen["weights"]
        assert scorer.view is None  # a video is its own camera: an edited one's cut is no camera turned (view.py)
    kept = Scorer.fit_on_opening(str(normal), replace(config, select=False))
    assert "selection" not in kept.fit_info and list(kept.tiers) == ["motion", "objects"]
    # the report says what chose them
    assert f"its tiers and weights ({stand_in.description}) chosen by self-validation" in opening_note(stand_in)
    assert "self-validation" not in opening_note(kept) and "first 7.5 s of this video" in opening_note(kept)
    monkeypatch.setattr(scorer_module, "AUTO_SELECT_S", 15.0)  # as shipped: a quarter of 30 s is too little
    assert "selection" not in Scorer.fit_on_opening(str(normal), config).fit_info


def test_a_video_without_normal_footage_stands_in_for_it_with_a_quarter_of_itself_however_long(robbery):
    """A 101 s camera clip: its first quarter (25 s) is fitted on and scores the rest, its last quarter scores the
    first. Capped at 15 s (releases 1 to 46), a long video's scorer learnt too little of its site
    (evals/bench_footageless.py)."""
    from vadagent.tools.scorer.footage import closing_of, opening_of
    from vadagent.tools.video import open_video

    with open_video(str(robbery)) as video:
        duration = video.info.duration_s
    opening, closing = opening_of(str(robbery)), closing_of(str(robbery))
    assert opening.start_s == 0.0 and opening.end_s == pytest.approx(duration / 4, abs=0.01) and opening.end_s > 25
    assert closing.start_s == pytest.approx(duration * 3 / 4, abs=0.01) and closing.end_s is None


def test_self_validation_holds_out_every_fold_in_turn_and_is_on_from_15_s(synthetic_normal, tmp_path):
    from vadagent.tools.scorer.selection import folds_of, window_sources
    from vadagent.tools.video import open_video

    with open_video(synthetic_normal) as video:
        info = video.info  # 20 s at 25 frames/s
    one = SourceSpec(str(synthetic_normal))
    segments, folds = folds_of([one], [info])  # one clip: its quarters
    assert folds == [0, 1, 2, 3] and [(s.start_s, s.end_s) for s in segments] == [(0, 5), (5, 10), (10, 15), (15, 20)]
    clips = [SourceSpec(str(synthetic_normal), a, a + 4) for a in range(0, 20, 4)]  # five clips: whole ones
    assert folds_of(clips, [info] * 5) == (clips, [0, 1, 2, 3, 0])
    assert folds_of([SourceSpec(str(synthetic_normal), 0, 5)], [info])[1] == []  # 125 frames: nothing to spare
    many = window_sources([i % 4 for i in range(83)])  # a ShanghaiTech camera's 83 clips: 16 keep frames
    assert len(many) == 16 and {i % 4 for i in many} == {0, 1, 2, 3} and {0, 80, 82} <= many
    assert window_sources([0, 1, 2, 3, 0]) == {0, 1, 2, 3, 4}
    short = Scorer.fit([SourceSpec(str(synthetic_normal), 0, 10)], ScorerConfig(flow="coarse"))  # < 15 s: none
    assert "selection" not in short.fit_info and short.scorer_id == "motion+objects"


def test_a_pasted_patch_is_one_rectangle_of_another_moment_held_for_the_window():
    from vadagent.tools.scorer.selection import _pasted_region

    rng = np.random.default_rng(3)
    body = rng.integers(0, 256, (10, 120, 180), dtype=np.uint8)  # noise: every pixel differs frame to frame
    pool = rng.integers(0, 256, (30, 120, 180), dtype=np.uint8)
    out, region = _pasted_region(body, pool, np.random.default_rng(7))
    changed = (out != body).any(0)
    rows, cols = np.flatnonzero(changed.any(1)), np.flatnonzero(changed.any(0))
    assert region == [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]  # where it went, for the evidence's check
    box = out[:, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    assert changed.sum() == box[0].size  # one filled rectangle, nothing outside it touched
    assert 120 / 6 - 1 <= len(rows) <= 120 / 3
    assert (box == box[0]).all()  # held still for the whole window
    h, w = box.shape[1:]
    found = False  # a piece of one of the pool's frames: where each frame matches best, exactly?
    for frame in pool:
        _, _, (x, y), _ = cv2.minMaxLoc(cv2.matchTemplate(frame, box[0], cv2.TM_SQDIFF))
        found |= np.array_equal(frame[y : y + h, x : x + w], box[0])
    assert found


def test_every_synthetic_kind_is_drawn_from_short_held_out_clips(synthetic_normal):
    from vadagent.tools.scorer.selection import KINDS, synthetic_windows
    from vadagent.tools.video import open_video

    with open_video(str(synthetic_normal)) as video:
        gray = np.concatenate([b.frames for b in video.scan(gray=True)])
    short = [gray[:37], gray[40:70], gray[80:88]]  # what 30 s of footage in three clips holds out
    windows = synthetic_windows(short, None)
    assert {w.kind for w in windows} == set(KINDS)  # the sped-up kind too, in shorter windows
    for w in windows:
        assert len(w.frames) == len(w.labels) == len(w.regions) and w.labels.sum() >= 6 and w.labels[:8].sum() == 0
        if w.kind == "reversed":  # turns back where the lead ends: no jump for a tier to see
            assert np.array_equal(w.frames[8], w.frames[6])


def test_each_synthetic_window_says_where_its_anomaly_was_pasted():
    from vadagent.tools.scorer.selection import synthetic_windows

    # every frame one flat shade of its own: a piece of another frame shows exactly where it went
    flat = np.repeat((np.arange(60) * 4).astype(np.uint8), 120 * 160).reshape(60, 120, 160)
    windows = synthetic_windows([flat[:40], flat[40:]], None)
    traced = 0
    for w in windows:
        pasted = w.regions[:, 2] > w.regions[:, 0]  # nothing in the lead, nor where the whole frame changes
        assert not pasted[:8].any() and pasted[8:].any() == (w.kind not in ("speed_up", "reversed"))
        if w.kind.endswith("_object"):  # anomalous while in view: a drifting object may leave the picture
            assert (w.labels[8:] > 0).tolist() == pasted[8:].tolist()
        for frame, region in zip(w.frames[pasted], w.regions[pasted]):
            ys, xs = np.nonzero(frame != np.bincount(frame.ravel()).argmax())
            if len(ys):  # (a piece of a frame of the same shade leaves no trace)
                assert region.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
                traced += 1
    assert traced > 0.8 * sum(int(w.labels.sum()) for w in windows if w.kind not in ("speed_up", "reversed"))


def test_the_kinds_a_chosen_scorer_sees_least_well_are_named_worst_first():
    from vadagent.tools.scorer.selection import KIND_MEANING, KINDS, WEAK, weakest

    assert set(KIND_MEANING) == set(KINDS)  # every kind has words for the user
    chosen = {"tiers": ["motion"], "weights": {"motion": 1.0}, "auc": 0.8,
              "per_kind": {"still_object": 0.74, "reversed": 0.60, "speed_up": 0.99, "patch": WEAK}}
    assert weakest(chosen) == [("reversed", 0.60), ("still_object", 0.74)]
    assert weakest({"tiers": ["motion"], "weights": {"motion": 1.0}, "auc": 0.9}) == []  # saved before per-kind AUCs


def test_a_tier_left_out_on_too_little_footage_is_named_as_unsteady():
    from vadagent.tools.scorer.selection import STEADY_S, left_out_unsteadily

    log = {"chosen": {"tiers": ["objects"], "weights": {"objects": 1.0}, "auc": 0.94}}
    assert left_out_unsteadily(log, ["motion", "objects"], 15.0) == ["motion"]
    assert left_out_unsteadily(log, ["motion", "objects"], STEADY_S) == []  # enough footage for a steady choice
    kept = {"chosen": {"tiers": ["motion", "objects"], "weights": {"motion": 1.0, "objects": 2.0}, "auc": 0.93}}
    assert left_out_unsteadily(kept, ["motion", "objects"], 15.0) == []
    assert left_out_unsteadily(None, ["motion", "objects"], 15.0) == []  # no selection made


def test_a_synthetic_kind_the_footage_was_too_short_for_is_named_as_not_judged(synthetic_normal):
    from vadagent.tools.scorer.selection import KINDS, synthetic_windows, unjudged
    from vadagent.tools.video import open_video

    with open_video(str(synthetic_normal)) as video:
        gray = np.concatenate([b.frames for b in video.scan(gray=True)])
    made = synthetic_windows([gray[:30]], None)  # what 15 s at 10 frames/s holds out: too short to speed up 4×
    log = {"synthetic_windows": {kind: sum(w.kind == kind for w in made) for kind in KINDS}}
    assert unjudged(log) == ["speed_up"]
    assert unjudged({"synthetic_windows": dict.fromkeys(KINDS, 24)}) == [] and unjudged(None) == []


def test_frames_kept_for_self_validation_are_bounded(synthetic_normal, monkeypatch):
    from vadagent.tools.scorer import footage
    from vadagent.tools.scorer.footage import read_parts

    monkeypatch.setattr(footage, "KEEP_FRAMES", 100)
    monkeypatch.setattr(footage, "KEEP_AT_LEAST", 30)
    segments = [SourceSpec(str(synthetic_normal), 0, 4), SourceSpec(str(synthetic_normal), 4, 8),
                SourceSpec(str(synthetic_normal), 8)]
    tier = tier_class("motion")(Geometry(180, 120))
    read = read_parts({"motion": tier}, segments, ScorerConfig(tiers=["motion"]), Geometry(180, 120), 25.0,
                      keep_frames={1, 2})
    assert read.frames[0] is None and [len(f) for f in read.frames[1:]] == [50, 50]  # 100 shared by two
    assert read.lengths[1] == 100  # every frame is still read and scored


def test_more_normal_footage_than_the_cap_is_fitted_on_stretches_spread_over_all_of_it(synthetic_normal, monkeypatch):
    """A day of recordings would not fit in memory (about 11 KB per frame): beyond
    `max_footage_s` the fit reads evenly spread stretches of every source, and says so."""
    from vadagent.tools.scorer import footage
    from vadagent.tools.scorer.footage import thinned
    from vadagent.tools.video import open_video

    with open_video(synthetic_normal) as video:
        info = video.info  # 20 s
    sources = [SourceSpec(str(synthetic_normal)), SourceSpec(str(synthetic_normal), 4.0, 16.0)]  # 32 s in all
    assert thinned(sources, [info, info], 40.0) == (sources, [info, info])  # under the cap: as given
    assert thinned(sources[:1], [info], 15.0)[0] == [SourceSpec(str(synthetic_normal), 2.5, 17.5)]  # 15 s of 20
    clips = [SourceSpec(str(synthetic_normal), a, a + 2) for a in range(0, 20, 2)]  # many short clips: whole ones
    assert thinned(clips, [info] * 10, 8.0)[0] == [clips[1], clips[3], clips[6], clips[8]]
    monkeypatch.setattr(footage, "STRETCH_S", 2.0)
    stretches, infos = thinned(sources, [info, info], 12.0)
    spans = [(s.start_s, s.end_s) for s in stretches]
    assert len(infos) == len(stretches) == 6 and sum(b - a for a, b in spans) == pytest.approx(12.0, abs=0.01)
    assert spans[0][0] < 32 / 6 and spans[-1] == pytest.approx((12.33, 14.33), abs=0.01)  # over all of it, in order
    assert all(0 <= a < b <= 20 for a, b in spans[:4]) and all(4 <= a < b <= 16 for a, b in spans[4:])
    scorer = Scorer.fit(sources, ScorerConfig(tiers=["motion"], max_footage_s=12.0))
    assert scorer.fit_info["thinned_from_s"] == pytest.approx(32.0)
    assert scorer.fit_info["frames"] == pytest.approx(12 * 25, abs=50)
