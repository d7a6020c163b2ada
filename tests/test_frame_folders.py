"""Folders of frame images as videos: the datasets' layout, a thermal camera's 16-bit export, and the ground
truth kept beside the clips, which is not footage."""

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from vadagent.errors import VideoError
from vadagent.tools.video import open_video
from vadagent.tools.video.finding import videos_under
from vadagent.tools.video.levels import VIDEO_LEVELS


def test_frame_folder(ped2):
    with open_video(ped2 / "testing" / "frames" / "01", fps=10) as video:
        assert (video.info.frame_count, video.info.width, video.info.height) == (180, 360, 240)
        gray = np.concatenate([b.frames for b in video.scan(chunk=50)])
        assert gray.shape == (180, 240, 360)
        assert np.array_equal(video.read([7], gray=True).frames[0], gray[7])


def test_folder_errors_and_skips(tmp_path, synthetic_normal):
    with pytest.raises(VideoError, match="no frame images"):
        open_video(tmp_path)
    with open_video(synthetic_normal) as video:
        frames = video.read(range(10), gray=False).frames
    for i, frame in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"{i:03d}.jpg"), frame)
    (tmp_path / "004.jpg").write_bytes(b"broken")
    with open_video(tmp_path) as folder:
        assert sum(len(b) for b in folder.scan()) == 9 and folder.skipped == 1
        with pytest.raises(VideoError, match="could not decode frames \\[4\\]"):
            folder.read([4])


def _deep_copy(frames: Path, target: Path, first: int = 0, count: int = 60, offset: int = 7400) -> Path:
    """A 16-bit copy of a folder of 8-bit frames, as a thermal camera exports its counts: the scene in 7,400 to
    7,655 of 65,535 (cut to 8 bits by OpenCV that is gray 28 and 29)."""
    target.mkdir(parents=True)
    for file in sorted(frames.glob("*.jpg"))[first:first + count]:
        gray = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(target / f"{file.stem}.png"), (offset + gray.astype(np.uint16)))
    return target


def test_a_thermal_camera_s_16_bit_frames_are_read_in_their_own_range_and_scored(tmp_path, ped2, caplog):
    """Each frame is mapped by one linear map for the folder (its 1st and 99th percentiles to video's black and
    white), so the picture is the 8-bit clip's, stretched: no frame's gain of its own. Scored, the cyclist of
    Ped2's clip 02 is found in it as in the 8-bit clip. Floating-point TIFFs (a radiometric export in °C) too."""
    from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec

    original = ped2 / "testing" / "frames" / "02"
    deep = _deep_copy(original, tmp_path / "test", count=180)
    with caplog.at_level(logging.INFO, logger="vadagent.tools.video.frame_folder"), open_video(deep, fps=10) as video:
        black, white = video.levels
        assert 7400 < black < white < 7655 and "deeper than 8 bits read as 8" in caplog.text
        frames = video.read([0, 90, 179], gray=True).frames
    with open_video(original, fps=10) as video:
        expected = video.read([0, 90, 179], gray=True).frames.astype(np.float64) + 7400
    low, high = VIDEO_LEVELS
    expected = np.clip((expected - black) * (high - low) / (white - black) + low, 0, 255)
    assert np.abs(frames - expected).max() <= 1.0  # rounding
    assert len(np.unique(frames)) > 100  # OpenCV's own cut to 8 bits left two levels
    with open_video(deep, fps=10) as video:
        assert video.read([5]).frames.shape == (1, 240, 360, 3)  # the model's colour frames too

    normal = _deep_copy(ped2 / "training" / "frames" / "01", tmp_path / "normal", count=120)
    scorer = Scorer.fit([SourceSpec(str(normal))], ScorerConfig(select=False), folder_fps=10)
    result = scorer.score(deep, folder_fps=10)
    peak = int(np.argmax(result.scores))
    assert 110 <= peak <= 175, peak  # Ped2's labels put clip 02's cyclist in frames 95–180
    assert result.scores[peak] > 3 * np.percentile(result.scores[:90], 90)
    # the scorer reads every folder by its normal footage's map, saved with it: not each folder's own
    site = scorer.fit_info["levels"]
    with open_video(normal) as video:
        assert site == pytest.approx(list(video.levels), abs=1.0)  # one folder: its own, near enough
    hotter = _deep_copy(ped2 / "testing" / "frames" / "02", tmp_path / "hotter", count=30, offset=7430)
    with open_video(hotter) as own, scorer._open(hotter, 10) as scored:
        assert own.levels[0] == pytest.approx(site[0] + 30, abs=2) and scored.levels == tuple(site)
        lift = scored.read([0], gray=True).frames.astype(int) - own.read([0], gray=True).frames
        assert 40 < np.median(lift) < 60  # 30 counts warmer: brighter by 30 × 219 / (white - black) gray levels
    assert Scorer.load(_saved(scorer, tmp_path / "scorer")).fit_info["levels"] == site

    celsius = tmp_path / "celsius"
    celsius.mkdir()
    for i in range(3):
        cv2.imwrite(str(celsius / f"{i}.tif"), np.linspace(18.5, 36.6, 360 * 240, dtype=np.float32).reshape(240, 360))
    with open_video(celsius) as video:
        assert video.levels[0] == pytest.approx(18.68, abs=0.1) and video.levels[1] == pytest.approx(36.42, abs=0.1)
        assert video.read([1], gray=True).frames[0, 120, 180] == pytest.approx(126, abs=2)


def _saved(scorer, folder: Path) -> Path:
    scorer.save(folder)
    return folder


def test_ground_truth_kept_beside_the_clips_is_passed_over_and_said(tmp_path, ped2, caplog):
    """UCSD's archive keeps each test clip's pixel masks beside it (Test001_gt/*.bmp): a batch of Test/ reads the
    clips, not the masks. A thermal folder whose 8-bit cut holds two levels is footage still."""
    test = tmp_path / "UCSDped2" / "Test"
    for clip in ("Test001", "Test002"):
        (test / clip).mkdir(parents=True)
        (test / f"{clip}_gt").mkdir()
        for i, file in enumerate(sorted((ped2 / "testing" / "frames" / "01").glob("*.jpg"))[:12]):
            (test / clip / f"{i:03d}.tif").write_bytes(file.read_bytes())  # JPEG data under a .tif name: read alike
            mask = np.zeros((240, 360), np.uint8)
            mask[100:140, 200:230] = 255 if i > 4 else 0  # black alone in the first frames, where nothing is odd
            mask[10:20, 10:20] = 3 if i > 8 else 0  # and an id per object
            cv2.imwrite(str(test / f"{clip}_gt" / f"{i:03d}.bmp"), mask)
    _deep_copy(ped2 / "testing" / "frames" / "01", test / "Thermal", count=12)
    with caplog.at_level(logging.WARNING):
        found = videos_under(test)
    assert [p.name for p in found.videos] == ["Test001", "Test002", "Thermal"]
    assert [p.name for p in found.masks] == ["Test001_gt", "Test002_gt"]
    assert "2 folder(s) of masks passed over (Test001_gt, Test002_gt)" in caplog.text
    assert videos_under(test.parent, recursive=True).videos == found.videos
    alone = videos_under(test / "Test001_gt")
    assert alone.videos == [] and alone.masks == (test / "Test001_gt",)


def _deep_video(frames: Path, target: Path, count: int, offset: int = 7400, pix_fmt: str = "gray16le") -> Path:
    """A folder of 8-bit frames as a thermal camera's deep gray video (FFV1 at 10 frames/s, as FFmpeg captures a UVC
    camera's Y16): the scene in 7,400 to 7,655 of 65,535, which FFmpeg's own cut to 8 bits reads as gray 28 to 30."""
    import av

    with av.open(str(target), "w") as container:
        stream = container.add_stream("ffv1", rate=10)
        stream.pix_fmt, stream.height, stream.width = pix_fmt, 240, 360
        for file in sorted(frames.glob("*.jpg"))[:count]:
            counts = offset + cv2.imread(str(file), cv2.IMREAD_GRAYSCALE).astype(np.uint16)
            if pix_fmt == "gray12le":  # a 12-bit sensor's counts, as FFmpeg's conversion from 16 bits keeps them
                counts <<= 4
            picture = av.VideoFrame.from_ndarray(counts, format="gray16le")
            container.mux(stream.encode(picture if pix_fmt == "gray16le" else picture.reformat(format=pix_fmt)))
        container.mux(stream.encode())
    return target


def test_a_thermal_camera_s_16_bit_video_and_stream_are_read_in_their_own_range_and_scored(tmp_path, ped2, caplog):
    """A deep gray video is read as a deep folder is: one map for the video, its own levels or its site's, saved
    with the scorer, which finds Ped2's clip 02 cyclist in it; a live camera's stream of it is read by its scorer's
    map (by its first frame's without one). A 12-bit video (scaled to 16 by FFmpeg) too."""
    from vadagent.app.cameras import Camera
    from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec
    from vadagent.tools.video.live import LiveSource

    original = ped2 / "testing" / "frames" / "02"
    deep = _deep_video(original, tmp_path / "test.mkv", count=180)
    with caplog.at_level(logging.INFO, logger="vadagent.tools.video.pyav_file"), open_video(deep) as video:
        black, white = video.levels
        assert 7400 < black < white < 7655 and "deeper than 8 bits read as 8" in caplog.text
        frames = video.read([0, 90, 179], gray=True).frames
        scanned = np.concatenate([batch.frames for batch in video.scan(chunk=64)])
        assert np.array_equal(scanned[[0, 90, 179]], frames) and video.read([5]).frames.shape == (1, 240, 360, 3)
    with open_video(original, fps=10) as video:
        expected = video.read([0, 90, 179], gray=True).frames.astype(np.float64) + 7400
    low, high = VIDEO_LEVELS
    expected = np.clip((expected - black) * (high - low) / (white - black) + low, 0, 255)
    assert np.abs(frames - expected).max() <= 1.0 and len(np.unique(frames)) > 100  # FFmpeg's own cut: three levels
    from inprocess import invoke

    shown = invoke("info", deep)  # how it is read, said
    assert shown.returncode == 0 and "deeper than 8 bits, read as 8 from levels 74" in shown.stdout.replace("\n", " ")
    with open_video(_deep_video(original, tmp_path / "twelve.mkv", count=10, offset=1800, pix_fmt="gray12le")) as video:
        assert len(np.unique(video.read([3], gray=True).frames)) > 100
    from vadagent.tools.video.preview import playable_copy

    (tmp_path / "report").mkdir()
    with open_video(playable_copy(deep, tmp_path / "report")) as copy:  # the web UI's player shows it as read
        assert len(np.unique(copy.read([90], gray=True).frames)) > 100

    normal = _deep_video(ped2 / "training" / "frames" / "01", tmp_path / "normal.mkv", count=120)
    scorer = Scorer.fit([SourceSpec(str(normal))], ScorerConfig(select=False))
    with open_video(normal) as video:
        assert scorer.levels == pytest.approx(video.levels, abs=1.0)  # one video: its own, near enough
    result = scorer.score(deep)
    peak = int(np.argmax(result.scores))
    assert 110 <= peak <= 175, peak  # Ped2's labels put clip 02's cyclist in frames 95–180
    assert result.scores[peak] > 3 * np.percentile(result.scores[:90], 90)

    with open_video(deep, levels=scorer.levels) as video:
        by_site = video.read([0, 1, 2]).frames
    camera = Camera("thermal", LiveSource(str(deep)), scorer, calls_per_minute=6)
    streamed = [frame.rgb for _, frame in zip(range(3), camera.source.frames(), strict=False)]
    assert camera.source.levels == scorer.levels and np.array_equal(np.stack(streamed), by_site)
    alone = LiveSource(str(deep))  # no scorer's map: its first frame's, kept
    first = next(alone.frames()).rgb
    assert alone.levels is not None and len(np.unique(first)) > 100


def test_a_folder_of_frames_is_read_at_its_scorer_s_footage_rate_unless_told(tmp_path, ped2):
    """Frames carry no rate. A scorer fitted on Ped2's frames at 10 frames/s reads another of its folders at 10, and
    says so, where the settings' 25 would scale its motion by 2.5 and stretch its times; --fps, or a rate the
    settings set, is kept."""
    import json

    from inprocess import invoke

    fitted = invoke("fit", ped2 / "training" / "frames" / "01", "--fps", "10", "--no-select", "-o", tmp_path / "scorer")
    assert fitted.returncode == 0, fitted.stderr
    clip = ped2 / "testing" / "frames" / "02"
    scored = invoke("score", clip, "--scorer", tmp_path / "scorer", "-o", tmp_path / "at_scorer")
    assert scored.returncode == 0 and "read at 10 frames/s, as the scorer's footage was" in scored.stderr.replace("\n", " ")
    assert json.loads((tmp_path / "at_scorer" / "scores.json").read_text())["video"]["fps"] == 10
    for how, env in (("--fps", {}), ("settings", {"VADAGENT_VIDEO__FOLDER_FPS": "25"})):
        told = invoke("score", clip, "--scorer", tmp_path / "scorer", "-o", tmp_path / how,
                      *(["--fps", "25"] if how == "--fps" else []), env=env)
        assert told.returncode == 0 and "as the scorer's footage was" not in told.stderr
        assert json.loads((tmp_path / how / "scores.json").read_text())["video"]["fps"] == 25
