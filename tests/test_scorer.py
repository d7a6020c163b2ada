"""The scorer: fitting on normal footage, scoring, saving and loading. The frame pass and its flow: test_frames.py;
self-validation: test_selection.py; what a camera's conditions do: test_scorer_conditions.py; the objects tier:
test_objects_tier.py."""

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vadagent.errors import ArtifactError, UsageError
from vadagent.tools.scorer import Scorer, ScorerConfig, ScoreResult, SourceSpec
from vadagent.tools.scorer.tiers import TIERS, Geometry, Tier, tier_class
from vadagent.tools.synthetic import ClipSpec, render_clip


def test_scorer_separates_the_synthetic_anomalies(fitted, synthetic_anomalous):
    path, truth = synthetic_anomalous
    result = fitted.score(path)
    assert len(result.scores) == truth.frame_count
    assert roc_auc_score(truth.labels, result.scores) > 0.8
    labels = np.asarray(truth.labels)
    normal = result.scores[labels == 0]
    for event in truth.events:  # every kind stands out from the normal frames of the same clip
        inside = result.scores[event["start_frame"] : event["end_frame"] + 1]
        assert np.percentile(inside, 90) > np.percentile(normal, 90), event["kind"]
    fast = next(e for e in truth.events if e["kind"] == "fast")
    assert result.scores[fast["start_frame"] : fast["end_frame"] + 1].max() > result.threshold
    # what the evidence says of the wrong-way walker: its heading, which no normal walker near there has (0.82 of its
    # frames measured with the default tiers fitted on 20 s); of no normal frame
    against = np.array(["which no normal object near there does" in str(note) for note in result.evidence.note])
    wrong = next(e for e in truth.events if e["kind"] == "wrong_way")
    assert against[wrong["start_frame"] : wrong["end_frame"] + 1].mean() >= 0.5 and not against[labels == 0].any()


def test_the_evidence_says_a_loiterer_stands_still_where_walkers_pass(tmp_path, fitted):
    """Someone standing about on the footpath for 8 s: unusual for its motion, which is next to none where the normal
    walkers move; the evidence says so (195 of its 201 frames measured), not which way it "moves"."""
    truth = render_clip(ClipSpec(seconds=20, seed=5, anomalies=[("loiter", 4.0)], loiter_s=8.0), tmp_path / "loiter.mp4")
    result = fitted.score(tmp_path / "loiter.mp4")
    stands = np.array(["standing almost still where the normal objects near there move" in str(note)
                       for note in result.evidence.note])
    loiter = truth.events[0]
    assert stands[loiter["start_frame"] : loiter["end_frame"] + 1].mean() >= 0.7
    assert stands[np.asarray(truth.labels) == 0].mean() <= 0.02


def test_calibration_is_causal_and_normal_footage_stays_low(tmp_path, fitted):
    other = tmp_path / "other_normal.mp4"  # unseen normal footage: the kNN tier would know its own frames
    render_clip(ClipSpec(seconds=12, seed=3), other)
    result = fitted.score(other)
    assert np.mean(result.scores > result.threshold) < 0.02
    assert abs(float(np.mean(result.scores))) < 1.0  # z-units of the normal distribution (a 12 s clip varies)


def test_evidence_points_at_the_fast_object(fitted, synthetic_anomalous):
    path, truth = synthetic_anomalous
    result = fitted.score(path)
    fast = next(e for e in truth.events if e["kind"] == "fast")
    frame = fast["start_frame"] + (fast["end_frame"] - fast["start_frame"]) // 2
    assert result.evidence.vs_normal[frame] > 1.5
    assert 0 <= result.evidence.direction_deg[frame] < 45 or result.evidence.direction_deg[frame] > 315  # rightwards


def test_save_load_round_trip_and_time_ranges(tmp_path, synthetic_normal, synthetic_anomalous):
    part = Scorer.fit([SourceSpec.parse(f"{synthetic_normal}#t=2,6")])
    assert part.fit_info["frames"] == 100 and list(part.tiers) == ["motion", "objects"]  # every default tier
    loaded = Scorer.load(part.save(tmp_path / "scorer"))  # a fit saved scores as fitted
    path, _ = synthetic_anomalous
    assert np.allclose(loaded.score(path).scores, part.score(path).scores)


def test_scores_saved_load_as_scored_and_broken_ones_are_refused(tmp_path, fitted, synthetic_anomalous):
    from dataclasses import fields

    path, _ = synthetic_anomalous
    result = fitted.score(path)
    result.damaged, result.picture = [(3, 5)], [(0, "rain"), (64, "")]
    loaded = ScoreResult.load(result.save(tmp_path / "kept"))
    assert loaded.info == result.info and loaded.damaged == [(3, 5)] and loaded.threshold == result.threshold
    assert loaded.picture == [(0, "rain"), (64, "")]
    assert np.array_equal(loaded.scores, result.scores) and loaded.tier_scores.keys() == result.tier_scores.keys()
    for f in fields(loaded.evidence):  # boxes, speeds and the words of each frame's evidence, as scored
        assert np.array_equal(getattr(loaded.evidence, f.name), getattr(result.evidence, f.name)), f.name
    assert [c.model_dump() for c in loaded.candidates()] == [c.model_dump() for c in result.candidates()]
    (tmp_path / "kept" / "result.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(ArtifactError, match="corrupt saved scores"):
        ScoreResult.load(tmp_path / "kept")
    (tmp_path / "kept" / "result.json").unlink()  # a save cut short before its JSON: no result
    with pytest.raises(ArtifactError, match="no saved scores"):
        ScoreResult.load(tmp_path / "kept")


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "scorer.json").write_text("{not json"), "corrupt scorer config"),
    (lambda d: (d / "scorer.json").write_text(json.dumps({"artifact": "vadagent-scorer", "version": 99})),
     "version 99 is not supported"),
    (lambda d: (d / "scorer.safetensors").write_bytes(b"\x00" * 10), "corrupt or incompatible"),
    (lambda d: (d / "scorer.safetensors").unlink(), "not a scorer folder"),
])
def test_broken_artefacts_fail_clearly(tmp_path, fitted, damage, message):
    folder = fitted.save(tmp_path / "scorer")
    damage(folder)
    with pytest.raises(ArtifactError, match=message):
        Scorer.load(folder)


def test_source_spec_parsing():
    assert SourceSpec.parse("a.mp4#t=0,20") == SourceSpec("a.mp4", 0.0, 20.0)
    assert SourceSpec.parse("a.mp4#t=5") == SourceSpec("a.mp4", 5.0, None)
    assert SourceSpec.parse("frames/01") == SourceSpec("frames/01")
    with pytest.raises(UsageError, match="ends"):
        SourceSpec.parse("a.mp4#t=9,3")


def test_a_folder_of_normal_clips_stands_for_each_of_them(tmp_path):
    """`fit normal/` reads the site's clips kept there, and `fit training/frames` Ped2's sixteen frame folders."""
    for name in ("10.mp4", "2.mkv", "cam/00.jpg", "cam/01.jpg", "frames/00.jpg", "frames/01.jpg", "deeper/more/x.mp4"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    specs = SourceSpec.each([str(tmp_path), f"{tmp_path / 'frames'}#t=0,2", "elsewhere.mp4#t=1"])
    assert [Path(s.path).relative_to(tmp_path).as_posix() for s in specs[:4]] == ["2.mkv", "10.mp4", "cam", "frames"]
    assert specs[4:] == [SourceSpec(str(tmp_path / "frames"), 0.0, 2.0), SourceSpec("elsewhere.mp4", 1.0)]
    with pytest.raises(UsageError, match="a time range is of one video"):
        SourceSpec.each([f"{tmp_path}#t=0,20"])
    with pytest.raises(UsageError, match=r"no videos or frame images in it \(1 in its subfolders"):
        SourceSpec.each([str(tmp_path / "deeper")])


def test_learned_tier_trains_within_budget_saves_loads_and_follows_the_device(tmp_path, synthetic_normal,
                                                                              synthetic_anomalous):
    config = ScorerConfig(tiers=["motion", "predictor"], select=False, budget_s=5,
                          params={"predictor": {"width": 48, "height": 32, "channels": 8, "epochs": 50}})
    scorer = Scorer.fit([SourceSpec.parse(f"{synthetic_normal}#t=0,8")], config)
    assert scorer.fit_info["fit_seconds"] < 5 + 30  # 50 epochs would take far longer: the budget stopped it
    model = scorer.tiers["predictor"].model
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    path, truth = synthetic_anomalous
    scores = scorer.score(path).scores
    assert len(scores) == truth.frame_count and np.isfinite(scores).all()
    loaded = Scorer.load(scorer.save(tmp_path / "learned"))
    assert np.allclose(loaded.score(path).scores, scores, atol=1e-4)
    loaded.to("meta")  # parameters follow Scorer.to (the meta device needs no accelerator)
    assert all(p.device.type == "meta" for p in loaded.tiers["predictor"].model.parameters())


@pytest.mark.gpu
def test_the_learned_tier_trains_and_scores_on_the_gpu(synthetic_normal, synthetic_anomalous):
    """For the device machine: the network and its inputs on CUDA, through self-validation too (which
    once scored its held-out folds with CPU inputs against the CUDA-trained network: a GPU run's crash)."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    config = ScorerConfig(tiers=["motion", "predictor"], select=True, budget_s=10,
                          params={"predictor": {"width": 48, "height": 32, "channels": 8, "epochs": 5}})
    scorer = Scorer.fit([SourceSpec.parse(str(synthetic_normal))], config, device="cuda")
    assert "selection" in scorer.fit_info  # the folds were scored on the GPU
    if "predictor" in scorer.tiers:  # selection may leave it out
        assert all(p.device.type == "cuda" for p in scorer.tiers["predictor"].model.parameters())
    path, truth = synthetic_anomalous
    scores = scorer.score(path, device="cuda").scores
    assert len(scores) == truth.frame_count and np.isfinite(scores).all()


def test_tiers_come_from_one_registry():
    assert {"motion", "objects", "predictor"} <= set(TIERS)
    for name, cls in TIERS.items():
        assert issubclass(cls, Tier) and cls.name == name and cls.summary
    with pytest.raises(UsageError, match="unknown scorer tier 'nope'; available: motion"):
        tier_class("nope")
    with pytest.raises(UsageError, match="unknown scorer tier"):
        ScorerConfig(tiers=["motion", "nope"])
    assert tier_class("objects")(Geometry(360, 240)).params.k == 5


def test_static_footage_and_non_finite_artefacts_are_refused(tmp_path, fitted):
    import av

    path = tmp_path / "static.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for _ in range(30):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), format="rgb24")))
        out.mux(stream.encode())
    with pytest.raises(UsageError, match="no variation"):
        Scorer.fit([SourceSpec(str(path))], ScorerConfig(tiers=["motion"]))
    folder = fitted.save(tmp_path / "nan")
    meta = json.loads((folder / "scorer.json").read_text())
    meta["calibration"]["std"] = float("nan")
    (folder / "scorer.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="non-finite"):
        Scorer.load(folder)
    meta["calibration"]["std"], meta["config"]["median_window"] = 1.0, -5
    (folder / "scorer.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="median_window must be a positive odd number"):
        Scorer.load(folder)


def test_a_tier_the_footage_cannot_fit_is_left_out_and_said(tmp_path):
    """An empty street (nothing but sensor noise once the last walker has left): the objects tier
    has nothing to model, so the scorer keeps motion alone and records why; objects alone is refused."""
    path = tmp_path / "empty.mp4"
    render_clip(ClipSpec(seconds=14, seed=5, walkers_per_second=0), path)
    scorer = Scorer.fit([SourceSpec(str(path), 8.0)], ScorerConfig())
    assert scorer.scorer_id == "motion" and "objects" in scorer.fit_info["left_out"]
    with pytest.raises(UsageError, match="no scorer tier can be fitted.*objects: only"):
        Scorer.fit([SourceSpec(str(path), 8.0)], ScorerConfig(tiers=["objects"]))


def test_time_ranges_and_frame_shapes_are_checked_against_the_video(caplog):
    import logging

    from vadagent.tools.scorer.scorer import _warn_if_reshaped
    from vadagent.types import VideoInfo

    with caplog.at_level(logging.WARNING):
        assert SourceSpec.parse("clip.mp4#t=2,99").within(10.0) == SourceSpec("clip.mp4", 2.0)
        _warn_if_reshaped(VideoInfo(path="wide.mp4", fps=25, frame_count=10, width=1280, height=720), 360, 240)
        _warn_if_reshaped(VideoInfo(path="same.mp4", fps=25, frame_count=10, width=720, height=480), 360, 240)
    assert "runs past the end of the video; using 2–10.00 s" in caplog.text
    assert "wide.mp4: 1280x720 frames, but the scorer was fitted on 360x240" in caplog.text and "same.mp4" not in caplog.text
    with pytest.raises(UsageError, match="starts after the video ends"):
        SourceSpec.parse("clip.mp4#t=12").within(10.0)
    with pytest.raises(UsageError, match="bad time range '1:00,2:00'"):
        SourceSpec.parse("clip.mp4#t=1:00,2:00")


def test_an_error_while_scoring_stops_the_decoding_threads_before_the_video_closes(fitted, synthetic_anomalous,
                                                                                    monkeypatch):
    import threading

    path, _ = synthetic_anomalous
    tier = fitted.tiers["motion"]

    def broken(part, device="cpu"):
        raise RuntimeError("tier failed")

    monkeypatch.setattr(tier, "score", broken)
    with pytest.raises(RuntimeError, match="tier failed"):
        fitted.score(path)
    assert not any(t.name == "vadagent-frames" for t in threading.enumerate())


def test_videos_scored_in_turn_score_as_one_by_one_and_a_bad_one_fails_in_its_own_turn(fitted, synthetic_anomalous,
                                                                                        synthetic_normal, tmp_path):
    import threading

    from vadagent.errors import VadagentError

    path, _ = synthetic_anomalous
    one_by_one = [fitted.score(video) for video in (path, synthetic_normal)]
    for alone, in_turn in zip([*one_by_one, one_by_one[0]], fitted.score_each([path, synthetic_normal, path]),
                              strict=True):
        assert alone.info == in_turn.info and np.array_equal(alone.scores, in_turn.scores)
        assert np.array_equal(alone.evidence.box, in_turn.evidence.box)
    (tmp_path / "text.mp4").write_text("not a video")
    results = fitted.score_each([path, tmp_path / "text.mp4", synthetic_normal])
    assert np.array_equal(next(results).scores, one_by_one[0].scores)  # the video before it is delivered whole
    with pytest.raises(VadagentError, match="text.mp4"):
        next(results)
    assert not any(t.name == "vadagent-frames" for t in threading.enumerate())


def _torch_threads(_: None) -> int:
    import torch

    return torch.get_num_threads()


@pytest.mark.slow  # ≈23 s of CPU; CI keeps the pool's processes scoring as threads do: test_batch's --processes 2
def test_videos_scored_side_by_side_in_processes_score_as_here_and_a_bad_one_fails_in_its_turn(
        fitted, synthetic_anomalous, synthetic_normal, tmp_path, monkeypatch):
    from vadagent.devices import usable_cores
    from vadagent.errors import VadagentError
    from vadagent.tools.scorer.side_by_side import SideBySide

    path, _ = synthetic_anomalous
    (tmp_path / "text.mp4").write_text("not a video")
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # what torch would take in each process (conftest sets 1)
    here = [fitted.score(video) for video in (path, synthetic_normal)]
    with SideBySide(2) as pool:
        there = list(pool.score([(fitted, path), (fitted, synthetic_normal)]))
        for alone, aside in zip(here, there, strict=True):
            assert alone.info == aside.info and np.array_equal(alone.scores, aside.scores)
            assert np.array_equal(alone.evidence.box, aside.evidence.box)
            assert list(alone.evidence.note) == list(aside.evidence.note)
        results = pool.score([(fitted, synthetic_normal), (fitted, tmp_path / "text.mp4"), (fitted, path)])
        assert np.array_equal(next(results).scores, here[1].scores)  # the video before it is delivered whole
        with pytest.raises(VadagentError, match="text.mp4"):
            next(results)
        results.close()
        # the pool goes on after a video's error
        assert np.array_equal(next(pool.score([(fitted, path)])).scores, here[0].scores)
        # each process holds torch (the learned tier) to its share of the cores, as it holds the flow
        assert pool.run(_torch_threads, None).result() == max(1, usable_cores() // 2)
        # a process killed (out of memory, say) is said so, not a traceback from the pool
        for worker in list(pool._pool._processes.values()):  # the pool's own, not other children of this process
            worker.kill()
            worker.join()
        with pytest.raises(VadagentError, match="ended abruptly"):
            list(pool.score([(fitted, path)]))


def test_speed_is_expected_row_by_row_as_perspective_makes_nearer_walkers_faster(tmp_path, fitted):
    from vadagent.tools.scorer.tiers.motion import MOVING, MotionStats, row_p999

    rng = np.random.default_rng(0)
    n, rows, cols = 2000, 10, 6
    speed = np.abs(rng.normal(0.0, 0.05, (n, rows, cols))).astype(np.float32)
    for row, pace in ((3, 1.0), (4, 1.2), (5, 1.4)):  # walkers in a band, nearer ones faster in pixels
        walking = rng.random((n, cols)) < 0.3
        speed[:, row][walking] = pace * rng.uniform(0.6, 1.0, walking.sum())
    flow = np.stack([speed, np.zeros_like(speed)], -1)
    diff = np.zeros((n, rows, cols), np.float32)
    expected = row_p999(speed)
    assert np.all(np.diff(expected[3:]) > 0) and expected[8] == pytest.approx(1.0 + 0.2 * 5, abs=0.1)
    assert expected.min() >= MOVING  # the line is floored where it runs down to nothing (rows far above the band)

    near = np.zeros((1, rows, cols), np.float32)
    near[0, 8, 2] = 1.8  # a walker low in the picture at the pace the band's line predicts there
    far = np.zeros((1, rows, cols), np.float32)
    far[0, 3, 2] = 1.3  # something at the band's far edge as fast as its near walkers
    level = np.full(n, 100.0)
    by_row, one = MotionStats.fit(diff, speed, flow, level), MotionStats.fit(diff, speed, flow, level, perspective=False)
    assert by_row.speed_ratio(near).max() < 0.9 * one.speed_ratio(near).max()
    assert by_row.speed_ratio(far).max() > 1.05 * one.speed_ratio(far).max()
    assert row_p999(np.where(np.arange(rows)[None, :, None] == 4, speed, 0.0)) is None  # one row moving: no line
    # a row people seldom cross is expected as fast as they move there, not as slow as its frames mostly are
    seldom = np.where(np.arange(rows)[None, :, None] == 3, speed, 0.0)
    crossing = rng.random((n, cols)) < 0.0004  # about 5 of its 12,000 cells
    seldom[:, 7][crossing] = 1.8 * rng.uniform(0.9, 1.0, crossing.sum())
    assert row_p999(seldom)[7] == pytest.approx(1.8, abs=0.1)

    assert fitted.tiers["motion"].params.perspective and fitted.tiers["motion"].stats.speed_row_p999 is not None
    folder = fitted.save(tmp_path / "s")
    meta = json.loads((folder / "scorer.json").read_text())
    del meta["tiers"]["motion"]["params"]["perspective"]  # as saved before rows had their own expectation
    (folder / "scorer.json").write_text(json.dumps(meta))
    restored = Scorer.load(folder).tiers["motion"]
    assert restored.params.perspective is False and restored.stats.speed_row_p999 is None


def test_the_call_budget_is_filled_only_where_a_videos_opening_stood_in_for_normal_footage(synthetic_normal):
    """Below-threshold peaks fill the call budget where no normal footage was given and the video's
    own opening stood in (its threshold says least), not where a user named part of the video as
    normal (`--normal VIDEO#t=0,8`): on an hour-long recording that was hundreds of VLM calls."""

    from vadagent.tools.scorer import CandidatePolicy

    clip = str(synthetic_normal)
    given = Scorer.fit([SourceSpec(clip, 0.0, 8.0)], ScorerConfig(select=False))
    scored = given.score(clip)
    assert scored.self_fitted and not scored.stand_in
    policy = CandidatePolicy(calls_per_minute=30.0)  # 10 calls for 20 s: more than the peaks above the threshold
    taken = scored.candidates(policy)
    filled = replace(scored, stand_in=True).candidates(policy)
    assert len(taken) < len(filled) and sum(c.below_threshold for c in filled) > sum(c.below_threshold for c in taken)
    assert Scorer.fit_on_opening(clip, ScorerConfig(select=False)).score(clip).stand_in
    del given.fit_info["stand_in"]  # a scorer saved before it was recorded fills as it did
    assert given.score(clip).stand_in


def test_the_evidence_names_the_strongest_tier_and_widens_to_what_it_overlaps():
    from vadagent.tools.scorer.tiers import Evidence

    def evidence(boxes):
        n = len(boxes)
        return [Evidence(np.arange(n), np.asarray(boxes, np.float32), np.full(n, 1.0), np.zeros(n), np.ones(n))]

    cells = evidence([[0, 0, 24, 24], [0, 0, 24, 24], [48, 48, 72, 72]])
    objects = evidence([[10, 10, 30, 40], [100, 100, 120, 140], [60, 30, 80, 60]])
    per_tier = {"motion": np.array([5.0, 5.0, 0.0]), "objects": np.array([1.0, 1.0, 3.0])}
    merged = Evidence.strongest(per_tier, {"motion": cells, "objects": objects}, {"motion": 1.0, "objects": 2.0}, 3)
    assert merged.box.tolist() == [[0, 0, 30, 40],  # motion's cell and the object it cuts: one thing
                                   [0, 0, 24, 24],  # an object elsewhere is not taken in
                                   [48, 30, 80, 72]]  # the object wins, widened by the cell it overlaps
    assert merged.frame.tolist() == [0, 1, 2]


def test_the_timeline_fits_long_event_labels_without_a_warning(tmp_path):
    import warnings

    from vadagent.tools.scorer.plot import plot_timeline

    scores = np.sin(np.linspace(0, 20, 2400)) * 3
    events = [(13.2, 13.6, "a person " * 27), (95.0, 97.9, "walkway " * 30), (40.0, 41.0, "short")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # before: "Tight layout not applied", printed in a batch run
        plot_timeline(tmp_path / "t.png", scores, 25.0, threshold=2.0, events=events, title="robbery.mp4")
    assert cv2.imread(str(tmp_path / "t.png")).shape == (280, 1000, 3)
