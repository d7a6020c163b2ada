"""The objects tier: what it finds, follows and judges of each object, and the words it says of it."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec
from vadagent.tools.scorer.tiers import Geometry
from vadagent.tools.synthetic import ClipSpec, render_clip


def test_an_objects_unusual_look_is_named_in_words():
    """The appearance group's evidence names the look that sets an object apart, measured on its crop: a wheel's
    rim or a cart's frame runs across where walkers' outlines run up and down; an object wider for its height; one
    that fills little of its box. Where no single look is beyond the normal objects' range, it says no more."""
    from vadagent.tools.scorer.tiers.object_reader import FILL, HIST, SIZE, _appearance
    from vadagent.tools.scorer.tiers.objects import _looks, _unlike_in_words

    def row(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
        h, w = crop.shape
        raw = np.zeros(HIST.stop, np.float32)
        raw[SIZE] = np.log(w), np.log(h)
        raw[FILL] = mask.mean()
        raw[HIST] = _appearance([crop], [mask])[0]
        return raw

    rng = np.random.default_rng(0)
    walkers = []
    for _ in range(200):  # tall, filled, outlined up and down: vertical stripes of a random width, a little noise
        h, w = int(rng.integers(30, 50)), int(rng.integers(10, 18))
        stripes = (np.arange(w)[None, :] // int(rng.integers(2, 5)) % 2 * 120 + 60).repeat(h, 0).astype(np.float32)
        walkers.append(row(stripes + rng.normal(0, 3, (h, w)), np.ones((h, w), bool)))
    ranges = np.percentile(_looks(np.stack(walkers)), [1, 99], axis=0).T
    bars = (np.arange(40)[:, None] // 3 % 2 * 120 + 60).repeat(14, 1).astype(np.float32)  # a walker's size, across
    assert "of its edges running across, more than 99 % of the normal objects" in \
        _unlike_in_words(_looks(row(bars, np.ones(bars.shape, bool))[None])[0], ranges)
    wide = (np.arange(40)[None, :] // 3 % 2 * 120 + 60).repeat(14, 0).astype(np.float32)
    assert _unlike_in_words(_looks(row(wide, np.ones(wide.shape, bool))[None])[0], ranges).startswith(
        "an object 2.9× as wide as it is tall, wider for its height than 99 % of the normal objects (at most")
    ring = np.zeros((40, 14), bool)
    ring[[0, -1]], ring[:, [0, -1]] = True, True  # an outline with nothing inside
    said = _unlike_in_words(_looks(row(np.where(ring, 180.0, 60.0).astype(np.float32), ring)[None])[0], ranges)
    assert said.startswith("an object filling ") and "more spread out than 99 % of the normal objects" in said
    assert _unlike_in_words(_looks(np.stack(walkers[:1]))[0], ranges) == \
        "an object whose shape and appearance are unlike the normal objects"


def test_objects_are_followed_and_scorers_saved_before_tracking_load_without_it(tmp_path, fitted):
    from vadagent.tools.scorer.tiers.objects import ObjectTier

    tier = ObjectTier(Geometry(180, 120))
    tier.set_background(np.zeros((4, 120, 180), np.uint8))
    reader = tier.reader()
    # x, foot y (fractions), log w, log h, fill, vx, vy, speed (px/frame)
    first = np.float32([[0.5, 0.5, np.log(8), np.log(20), 0.6, 2.0, 0.0, 2.0],
                        [0.1, 0.9, np.log(8), np.log(20), 0.6, 0.0, 0.0, 0.0]])
    reader._follow(first.copy(), 180, 120)
    moved = np.float32([[0.5 + 2 / 180, 0.5, np.log(10), np.log(20), 0.6, 4.0, 0.0, 4.0],  # where A lands
                        [0.9, 0.1, np.log(8), np.log(20), 0.6, 1.0, 0.0, 1.0]])  # far from both: a new track
    followed = reader._follow(moved.copy(), 180, 120)
    past = tier.params.track  # the track's past weighs this much, this frame the rest
    assert followed[0, 7] == pytest.approx(past * 2 + (1 - past) * 4) and followed[0, 5] == pytest.approx(followed[0, 7])
    assert followed[0, 2] == pytest.approx(past * np.log(8) + (1 - past) * np.log(10))
    np.testing.assert_allclose(followed[1], moved[1])
    at_half_rate = tier.reader()  # motion in fitted frame intervals: twice as far per frame, half the memory
    at_half_rate._follow(first.copy(), 180, 120, time_scale=0.5)
    further = moved[:1].copy()
    further[0, 0] = 0.5 + 4 / 180
    assert at_half_rate._follow(further, 180, 120, time_scale=0.5)[0, 7] == pytest.approx(past**2 * 2 + (1 - past**2) * 4)

    assert fitted.tiers["objects"].params.track == ObjectTier.Params().track
    folder = fitted.save(tmp_path / "s")
    meta = json.loads((folder / "scorer.json").read_text())
    meta["tiers"]["objects"]["params"]["track"] = 0.5  # as saved when the default was 0.5: kept on load
    (folder / "scorer.json").write_text(json.dumps(meta))
    assert Scorer.load(folder).tiers["objects"].params.track == 0.5
    del meta["tiers"]["objects"]["params"]["track"]  # as saved before objects were followed
    del meta["tiers"]["objects"]["params"]["cut_by_motion"]  # and before cut objects were judged apart
    del meta["tiers"]["objects"]["params"]["cut_height"]  # and before their motion was judged for a height
    del meta["tiers"]["objects"]["params"]["isotropic"]  # and before places, sizes and velocities were vectors
    del meta["tiers"]["objects"]["params"]["lighting"]  # and before frames were matched to it in gain
    (folder / "scorer.json").write_text(json.dumps(meta))
    restored = Scorer.load(folder).tiers["objects"].params
    assert restored.track == 0.0 and restored.cut_by_motion is False and restored.cut_height is False
    assert restored.isotropic is False and restored.lighting is False


def test_an_object_cut_by_the_frames_edge_is_judged_by_motion_unless_already_larger_than_seen_there(fitted):
    from vadagent.tools.scorer.frames import FrameChunk
    from vadagent.tools.scorer.tiers.object_reader import SIZE, ObjectSet

    tier = fitted.tiers["objects"]
    height, width = tier.size
    gray = tier.background.astype(np.uint8)[None].copy()
    gray[0, 40:60, 0:12] = 255  # half in view at the left edge
    gray[0, 40:60, 80:92] = 255  # the same shape in the middle
    chunk = FrameChunk(np.arange(1), gray, np.zeros_like(gray), np.zeros((1, height, width, 2), np.float32),
                       np.zeros(1, bool))
    found = tier.reader().feed(chunk)
    assert found.cut[np.argsort(found.box[:, 0])].tolist() == [True, False]

    def scored(width_factor: float, rule: bool = True) -> np.ndarray:
        """Scores of a normal object made `width_factor` as wide, seen whole and cut by the edge."""
        changed = tier.train[:1].copy()
        changed[0, SIZE.start] += np.log(width_factor)
        part = ObjectSet(np.arange(2), np.arange(2), np.repeat(changed, 2, axis=0), np.zeros((2, 4), np.float32),
                         np.array([False, True]))
        tier.params.cut_by_motion = rule
        try:
            return tier.score(part).scores
        finally:
            tier.params.cut_by_motion = True

    whole, cut = scored(1 / 5)  # a sliver: what a person entering from the side shows of themself
    assert whole > 1.0  # beyond the normal objects' 99th percentile, for its size and shape
    assert cut < 0.3  # its motion is a normal object's
    assert scored(1 / 5, rule=False)[1] == pytest.approx(whole, rel=1e-6)
    whole, cut = scored(5.0)  # wider than anything seen there even though part of it is out of view
    assert cut > 1.0 and cut == pytest.approx(whole, rel=0.2)


def test_a_cut_objects_motion_is_judged_for_a_height_it_may_have_there_not_the_sliver_in_view(fitted):
    from vadagent.tools.scorer.tiers.object_reader import HEIGHT, ObjectSet

    tier = fitted.tiers["objects"]
    sliver = tier.train[np.argmax(tier.train[:, HEIGHT])][None].copy()  # the tallest normal object
    sliver[0, HEIGHT] -= np.log(4.0)  # a quarter of it in view: shorter than any normal object

    def scored(cut: bool, rule: bool) -> float:
        part = ObjectSet(np.arange(1), np.arange(1), sliver, np.zeros((1, 4), np.float32), np.array([cut]))
        tier.params.cut_height = rule
        try:
            return float(tier.score(part).scores[0])
        finally:
            tier.params.cut_height = True

    assert scored(cut=True, rule=False) > 1.0  # its motion, for the sliver's height, is unlike any normal object's
    assert scored(cut=True, rule=True) < 0.3  # for the height of the tallest normal object near there it is theirs
    assert scored(cut=False, rule=True) > 1.0  # in full view, that short an object is judged as it is


def test_a_place_and_a_velocity_are_each_judged_on_one_scale_for_both_axes(fitted):
    """The footpath's walkers cross sideways along a narrow band. Judged axis by axis, by each one's
    own spread, a walker a few pixels above the band or turned a little up the frame read as unusual."""
    from vadagent.tools.scorer.tiers.object_reader import PLACE, SPEED, VX, VY, ObjectSet

    tier = fitted.tiers["objects"]
    assert tier.params.isotropic
    height, width = tier.size
    walker = tier.train[np.argsort(tier.train[:, SPEED])[len(tier.train) // 2]]

    def turned(degrees: float) -> np.ndarray:
        c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
        row = walker.copy()
        row[VX], row[VY] = c * walker[VX] - s * walker[VY], s * walker[VX] + c * walker[VY]
        return row

    def moved(dx: float, dy: float) -> np.ndarray:
        row = walker.copy()
        row[PLACE] += (dx / width, dy / height)
        return row

    # the footpath's walkers head within about ±6° of sideways (the 99th percentile of their flow's slant)
    rows = np.stack([turned(5), moved(0, 6), turned(90), moved(6, 0)])
    part = ObjectSet(np.arange(4), np.arange(4), rows, np.zeros((4, 4), np.float32), np.zeros(4, bool))
    scores = tier.score(part).scores
    assert scores[0] < 1.0 and scores[1] < 1.0  # within the normal objects' 99th percentile
    assert scores[2] > 1.0  # walking straight up the frame is still unlike anyone there
    size_space = [tier._spaces(r[None])[0][0] for r in (walker, rows[1], rows[3])]
    up, sideways = (np.linalg.norm(z - size_space[0]) for z in size_space[1:])
    assert up == pytest.approx(sideways, rel=1e-4)  # six pixels count the same either way


def test_the_appearance_model_compares_with_a_bounded_sample_of_the_normal_objects(tmp_path, synthetic_normal,
                                                                                  synthetic_anomalous):
    """Its look-ups cost time in proportion to the objects it compares with, so it keeps a random
    sample of them however much footage a site has; the sample survives saving, and scorers saved
    before it compare with every object."""
    from vadagent.tools.scorer.tiers.objects import APPEARANCE_GROUP, SIZE_GROUP

    scorer = Scorer.fit([SourceSpec(str(synthetic_normal))],
                        ScorerConfig(select=False, tiers=["objects"], params={"objects": {"appearance_objects": 60}}))
    tier = scorer.tiers["objects"]
    assert len(tier.train) > 200 and tier.models[APPEARANCE_GROUP].n == 60
    assert tier.models[SIZE_GROUP].n == len(tier.train)  # the cheap spaces keep every object
    path, _ = synthetic_anomalous
    loaded = Scorer.load(scorer.save(tmp_path / "s"))
    np.testing.assert_array_equal(loaded.tiers["objects"].appearance_rows, tier.appearance_rows)
    np.testing.assert_allclose(loaded.score(path).scores, scorer.score(path).scores, atol=1e-6)
    arrays, values = tier.state()
    with pytest.raises(ValueError, match="do not index"):  # a tampered artefact is refused, not read past
        tier.restore({**arrays, "appearance_rows": np.array([len(tier.train)])}, values)
    del arrays["appearance_rows"]  # as saved before the sample
    tier.restore(arrays, values)
    assert tier.models[APPEARANCE_GROUP].n == len(tier.train)


def test_objects_cut_by_the_frames_edge_score_the_same_without_their_appearance_looked_up(fitted,
                                                                                        synthetic_anomalous):
    from vadagent.tools.scorer.frames import chunks
    from vadagent.tools.scorer.tiers.objects import APPEARANCE_GROUP, _nearest
    from vadagent.tools.video import open_video

    tier = fitted.tiers["objects"]
    reader = tier.reader()
    with open_video(str(synthetic_anomalous[0])) as video:
        part = max((reader.feed(c) for c in chunks(video, fitted.width, fitted.height)), key=lambda p: p.cut.sum())
    assert part.cut.any() and not part.cut.all()
    skipped = tier._distances(part.raw, part.cut)
    every, a = skipped.copy(), APPEARANCE_GROUP
    every[:, a] = _nearest(tier.models[a], tier._spaces(part.raw)[a], tier.params.k)[0].mean(1)
    assert (skipped[part.cut, a] == 0).all() and (every[part.cut, a] > 0).all()
    np.testing.assert_array_equal(tier._judged(skipped / tier.scale, part.raw, part.cut),
                                  tier._judged(every / tier.scale, part.raw, part.cut))


def test_someone_standing_about_where_nobody_goes_stays_anomalous_while_there(tmp_path, fitted):
    """A loiterer stands for 30 s off the path. When what stood in front of the background for 10 s
    became part of it (the objects tier's absorb_frames was 250), the last 20 s of the stand scored
    as normal: AUC 0.49 here, against 0.79 now that it takes a minute."""
    truth = render_clip(ClipSpec(seconds=45, seed=4, loiter_s=30, anomalies=[("loiter", 5.0)]), tmp_path / "l.mp4")
    labels = np.asarray(truth.labels)
    assert labels.mean() > 0.6
    result = fitted.score(tmp_path / "l.mp4")
    assert roc_auc_score(labels, result.scores[: len(labels)]) > 0.75
    (event,) = truth.events
    last = slice(event["end_frame"] - 60, event["end_frame"] - 10)  # its last seconds point at it, not at a walker
    box = result.evidence.box[last]
    x, y = (box[:, 0] + box[:, 2]) / 2, box[:, 3]
    assert np.median(np.abs(x - 160)) < 12 and np.median(np.abs(y - 0.3 * 240)) < 20


def test_after_a_shake_the_strip_the_camera_moved_into_holds_no_object(fitted):
    """A frame of a shaken camera is registered on the background; the strip its shift brings into view
    was never seen and has no known motion (frames.py zeroes the flow there), so it shows the
    background and yields no object: repeating the frame's edge into it made a frame-high object, and
    an entering walker's sliver there read as standing still (evals/results/bench_robustness.md)."""
    from vadagent.tools.scorer.frames import FrameChunk

    tier = fitted.tiers["objects"]
    height, width = tier.size
    background = tier.background.astype(np.uint8)
    frame = np.roll(background, 3, axis=1)  # the camera turned: the scene 3 px to the right
    frame[:, :3] = 255  # and what came into view at the left edge is new
    frame[40:60, 80:92] = 255  # someone in the middle
    frame[100:120, 3:6] = 255  # and a sliver of someone entering, within the shift of the edge once registered
    chunk = FrameChunk(np.arange(1), frame[None], np.zeros((1, height, width), np.uint8),
                       np.zeros((1, height, width, 2), np.float32), np.ones(1, bool))
    reader = tier.reader()
    found = reader.feed(chunk)
    assert len(found.box) == 1 and not found.cut[0]  # the one in the middle, nothing along the edges
    x0, y0, x1, y1 = found.box[0] / tier.step
    assert abs(x0 - 80) <= 4 and abs(y0 - 40) <= 2
    assert np.array_equal(reader.background[:, -3:], tier.background[:, -3:])  # it learnt no made-up pixels


def test_footage_whose_objects_crowd_into_one_stretch_is_fitted_with_folds_of_as_many_objects(robbery):
    """The door camera's last 7.6 s of robbery.mp4: someone passes in one stretch of it, so folds of equal length left
    the other folds 4 objects for 146 to be judged against (fewer than k = 5: infinitely far), and the fit failed as
    "no variation at all". Folds of as many objects each judge every object against the rest."""
    from vadagent.tools.scorer.tiers.base import fold_of
    from vadagent.tools.scorer.tiers.objects import _folds_by_objects, _judged_against_too_few

    crowded = [np.array([0, 0, 1, 2, 2, 2, 3, 40, 41, 99])]  # frames of a 100-frame clip's objects
    assert _judged_against_too_few(fold_of(1, [100])[0][crowded[0]], k=5)
    folds = _folds_by_objects(crowded)
    assert folds.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 3, 3]  # whole frames, in time order, about as many objects each
    assert not _judged_against_too_few(folds, k=5)
    assert _folds_by_objects([np.array([5, 6]), np.array([0, 1])]).tolist() == [0, 1, 2, 3]  # clips in turn

    scorer = Scorer.fit([SourceSpec.parse(f"{robbery}#t=22.75,30.33")], ScorerConfig(select=False))
    assert "objects" in scorer.tiers and "left_out" not in scorer.fit_info
    assert np.isfinite(scorer.tiers["objects"].scale).all() and scorer.calibration["std"] > 0.1
