"""`vadagent fit`, `score` and `eval detect` as a user runs them."""

import csv
import json
from pathlib import Path

import pytest
from inprocess import invoke
from test_cli import run

from vadagent.samples import sample_clip
from vadagent.tools.scorer.frames import DEFAULT_FLOW


def test_fit_and_score_the_sample_clip(tmp_path):
    clip = sample_clip()
    fit = run("fit", f"{clip}#t=0,15", "-o", str(tmp_path / "scorer"))
    assert fit.returncode == 0, fit.stderr
    assert (tmp_path / "scorer" / "scorer.safetensors").is_file() and (tmp_path / "scorer" / "config.yaml").is_file()
    scored = run("score", str(clip), "--scorer", str(tmp_path / "scorer"), "-o", str(tmp_path / "out"))
    assert scored.returncode == 0, scored.stderr
    out = tmp_path / "out"
    for name in ("scores.csv", "scores.json", "candidates.json", "timeline.png", "evidence.csv", "config.yaml",
                 "versions.json"):
        assert (out / name).is_file(), name
    rows = list(csv.DictReader((out / "scores.csv").open()))
    assert len(rows) == 900 and list(rows[0]) == ["frame", "time_s", "score"]
    candidates = json.loads((out / "candidates.json").read_text())
    assert any(16.5 <= c["peak_s"] <= 19.5 for c in candidates)  # the fast object at 17 s
    assert json.loads((out / "scores.json").read_text())["frame_scores"]["smoothing_sigma"] == 3.0


def test_score_real_clip_with_a_scorer_fitted_on_its_first_20_seconds(tmp_path, robbery):
    assert run("fit", f"{robbery}#t=0,20", "-o", str(tmp_path / "s")).returncode == 0
    result = run("-q", "score", str(robbery), "--scorer", str(tmp_path / "s"), "-o", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    assert sum(1 for _ in (tmp_path / "o" / "scores.csv").open()) == 2731
    assert (tmp_path / "o" / "timeline.png").stat().st_size > 10_000


def test_score_with_a_missing_scorer_exits_2(tmp_path):
    result = run("score", str(sample_clip()), "--scorer", str(tmp_path / "nope"), "-o", str(tmp_path / "o"))
    assert result.returncode == 2 and "not a scorer folder" in result.stderr


def test_eval_detect_on_ped2_matches_the_published_figures(tmp_path, ped2):
    result = invoke("eval", "detect", "--dataset", "ucsd_ped2", "--root", str(ped2), "--tiers", "motion", "--json",
                    "--results", str(tmp_path), env={"VADAGENT_SCORER__FLOW": DEFAULT_FLOW})  # the published default
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    for key in ("micro_auc", "micro_auc_smoothed", "macro_auc", "macro_auc_smoothed", "smoothing_sigma",
                "event_recall_at_10pct", "fit_seconds", "frames_per_second"):
        assert key in figures
    # 11 of the 12 events at the 10 % budget and by the product's own candidates (threshold, budget,
    # coverage floor): the one missed is in clip 12's dense crowd (evals/results/bench_flow.md)
    assert figures["micro_auc_smoothed"] >= 0.95 and figures["event_recall_at_10pct"] >= 0.9
    assert figures["candidate_event_recall"] >= 0.9 and figures["calls_per_minute"] <= 6.0

    published = Path(__file__).parents[1] / "evals" / "results" / "detect_ucsd_ped2_motion.json"
    if published.is_file():  # the committed figures are reproduced (other machines decode a little differently)
        saved = json.loads(published.read_text())
        for key in ("micro_auc", "micro_auc_smoothed", "macro_auc", "macro_auc_smoothed", "event_recall_at_10pct"):
            assert figures[key] == pytest.approx(saved[key], abs=0.005), key


@pytest.mark.parametrize("args", [["eval", "detect", "--dataset", "nope", "--root", "."],
                                  ["eval", "detect", "--root", "/nonexistent"]])
def test_eval_detect_bad_dataset_exits_2(args):
    result = run(*args)
    assert result.returncode == 2 and result.stderr.startswith("error:")


def _shanghaitech_layout(root: Path) -> None:
    """Two cameras in ShanghaiTech's layout (training/videos/CC_NNN.avi, testing/frames/CC_NNNN/,
    testing/test_frame_mask/CC_NNNN.npy): the synthetic footpath, and the same scene upside down."""
    import cv2
    import numpy as np

    from vadagent.tools.synthetic import ClipSpec, render_clip
    from vadagent.tools.video import open_video

    def frames(seed, anomalies=()):
        clip = root / f"src{seed}.mp4"
        truth = render_clip(ClipSpec(seconds=6, seed=seed, anomalies=list(anomalies)), clip)
        with open_video(str(clip)) as video:
            return np.concatenate([b.frames for b in video.scan(gray=False)]), np.asarray(truth.labels, np.int8)

    (root / "training" / "videos").mkdir(parents=True)
    (root / "testing" / "test_frame_mask").mkdir(parents=True)
    for camera, flip in (("01", False), ("02", True)):
        normal, _ = frames(int(camera))
        height, width = normal.shape[1:3]
        writer = cv2.VideoWriter(str(root / "training" / "videos" / f"{camera}_001.avi"),
                                 cv2.VideoWriter_fourcc(*"MJPG"), 24, (width, height))
        for frame in normal:
            writer.write(cv2.cvtColor(frame[::-1] if flip else frame, cv2.COLOR_RGB2BGR))
        writer.release()
        test, labels = frames(10 + int(camera), [("fast", 2.0)])
        folder = root / "testing" / "frames" / f"{camera}_0001"
        folder.mkdir(parents=True)
        for i, frame in enumerate(test):
            cv2.imwrite(str(folder / f"{i:03d}.jpg"), cv2.cvtColor(frame[::-1] if flip else frame, cv2.COLOR_RGB2BGR))
        np.save(root / "testing" / "test_frame_mask" / f"{camera}_0001.npy", labels)


def test_a_dataset_of_several_cameras_is_fitted_camera_by_camera(tmp_path):
    from vadagent.errors import UsageError
    from vadagent.evals.datasets import load_shanghaitech
    from vadagent.evals.detect import run_detect
    from vadagent.tools.scorer import ScorerConfig

    _shanghaitech_layout(tmp_path)
    data = load_shanghaitech(tmp_path)
    assert data.train_cameras == ["01", "02"] and [v.camera for v in data.test] == ["01", "02"]
    result = run_detect(data, ScorerConfig(tiers=["motion"]))
    assert "one scorer per camera (2)" in result["normal_footage"] and result["fit_frames"] == 2 * 150
    assert min(result["per_video_auc"].values()) >= 0.8  # each camera's fast object, by its own scorer

    (tmp_path / "training" / "videos" / "02_001.avi").unlink()
    with pytest.raises(UsageError, match="camera\\(s\\) 02 but no training video"):
        run_detect(load_shanghaitech(tmp_path), ScorerConfig(tiers=["motion"]))
