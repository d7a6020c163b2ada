import json
import os
import pickle
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from inprocess import invoke

from vadagent.errors import VideoError
from vadagent.evals.common import remux
from vadagent.tools.synthetic import ClipSpec, render_clip
from vadagent.tools.video import open_video
from vadagent.types import VideoInfo


def test_real_clip_info_scan_and_random_access_agree(robbery):
    with open_video(robbery) as video:
        assert video.info.frame_count == 2730
        assert video.info.fps == pytest.approx(27.0, abs=1e-3)
        assert (video.info.width, video.info.height) == (852, 480)
        seen = []
        for batch in video.scan(gray=True, chunk=500):
            assert len(batch) <= 500 and batch.frames.shape[1:] == (480, 852)
            seen.append(batch.indices)
            if batch.indices[0] <= 1234 <= batch.indices[-1]:
                scanned = batch.frames[batch.indices == 1234][0].copy()
        assert np.array_equal(np.concatenate(seen), np.arange(2730))
        picked = video.read([2000, 1234, 3], gray=True)
        assert picked.indices.tolist() == [3, 1234, 2000]
        assert np.array_equal(picked.frames[1], scanned)
        rgb = video.read_at([10.0])
        assert rgb.frames.shape == (1, 480, 852, 3) and rgb.indices[0] == 270


def test_large_frames_shrink_fast_and_close_to_one_area_resize_and_scans_shrink_as_they_decode(robbery, ped2):
    """`shrink`: a frame under 4× the target is resized in one step, to the bit; a 4K one through a whole
    factor first, a gray level or so from the one-step result; sizes no whole factor divides, colour frames
    and a frame already the target's size are handled. `scan(size=…)` gives every frame at that size."""
    import cv2

    from vadagent.tools.video.shrink import fit_side, shrink

    with open_video(robbery) as video:
        gray = next(iter(video.scan(gray=True, start_s=10.0, end_s=10.2))).frames[0]
        colour = video.read([270]).frames[0]
    one_step = lambda image, size: cv2.resize(image, size, interpolation=cv2.INTER_AREA)  # noqa: E731
    assert np.array_equal(shrink(gray, (360, 203)), one_step(gray, (360, 203)))  # 852×480: 2.4×, one step
    assert shrink(gray, gray.shape[::-1]) is gray
    for width, height in ((3840, 2160), (2561, 1441)):  # 2561×1441: no whole factor divides both sides
        big = cv2.resize(gray, (width, height), interpolation=cv2.INTER_CUBIC)
        small = shrink(big, (360, 203))
        assert small.shape == (203, 360)
        assert np.abs(small.astype(int) - one_step(big, (360, 203)).astype(int)).mean() < 2.0
    big_colour = cv2.resize(colour, (3840, 2160), interpolation=cv2.INTER_CUBIC)
    assert fit_side(big_colour, 384).shape == (216, 384, 3)
    assert fit_side(colour, 1000) is colour
    with open_video(robbery) as video:
        whole = next(iter(video.scan(gray=True, chunk=1))).frames[0]
        batches = list(video.scan(gray=True, end_s=1.0, size=(213, 120)))
    assert all(b.frames.shape[1:] == (120, 213) for b in batches)
    assert np.array_equal(batches[0].frames[0], one_step(whole, (213, 120)))
    with open_video(ped2 / "testing" / "frames" / "01", fps=10) as folder:
        assert next(iter(folder.scan(chunk=4, size=(90, 60)))).frames.shape == (4, 60, 90)


def test_time_range_scan(synthetic_normal):
    with open_video(synthetic_normal) as video:
        indices = np.concatenate([b.indices for b in video.scan(start_s=4.0, end_s=6.0, chunk=16)])
    assert indices[0] == 100 and indices[-1] == 149 and len(indices) == 50


def test_time_ranges_that_meet_share_no_frame(synthetic_normal, ped2):
    """Pieces of a clip (self-validation's folds) partition its frames, in files and frame folders: a
    cut a quarter of a frame past one (11.25 s at 25 frames/s: frame 281.25) left that frame in both."""
    for path, fps in ((synthetic_normal, None), (ped2 / "testing" / "frames" / "01", 10.0)):
        with open_video(path, folder_fps=fps) as video:
            cuts = np.linspace(0.0, video.info.duration_s, 8)  # cuts between frames, some before the middle
            parts = [np.concatenate([b.indices for b in video.scan(start_s=a, end_s=b)]) for a, b in zip(cuts, cuts[1:])]
            assert np.array_equal(np.concatenate(parts), np.arange(video.info.frame_count))
    info = VideoInfo(path="x.mp4", fps=25.0, frame_count=500, width=8, height=8)
    assert info.frames_in(11.24, 11.25) == range(281, 282) and info.frames_in(0.0, 11.24) == range(0, 281)
    assert info.frames_in(0.28, 0.32) == range(7, 8)  # 0.28 * 25 is 7.000000000000001: frame 7 stays in


@pytest.mark.parametrize("make, problem", [
    (lambda d: d / "missing.mp4", "no such file"),
    (lambda d: _write(d / "empty.mp4", b""), "file is empty"),
    (lambda d: _write(d / "text.mp4", b"just some text, not a video\n" * 10), "not a readable video"),
    # a range is how normal footage is given (fit, --normal); one on a video to score says so, not "no such file"
    (lambda d: f"{_write(d / 'day.mp4', b'x')}#t=30,120", "time range .* given whole"),
])
def test_bad_files_name_the_file_and_the_problem(tmp_path, make, problem):
    path = make(tmp_path)
    with pytest.raises(VideoError, match=problem) as info:
        open_video(path)
    assert str(path) in str(info.value)
    # and it crosses processes whole (videos scored side by side, on Ray): rebuilt from its path and problem
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is VideoError and str(again) == str(info.value) and again.path == info.value.path


def test_truncated_files(tmp_path, synthetic_normal):
    data = synthetic_normal.read_bytes()
    cut = _write(tmp_path / "cut.mp4", data[: len(data) // 2])  # loses the index at the end: a recording unfinished
    with pytest.raises(VideoError, match="an MP4 whose recording was not finished: its frames are there, its index"):
        open_video(cut)
    with pytest.raises(VideoError, match="not a readable video"):  # not an MP4 at all (no ftyp box)
        open_video(_write(tmp_path / "cut.mkv", b"\x1aE\xdf\xa3" + data[4 : len(data) // 2]))
    faststart = _faststart(synthetic_normal, tmp_path / "faststart.mp4")
    cut = _write(tmp_path / "cut_faststart.mp4", faststart.read_bytes()[: faststart.stat().st_size // 2])
    with pytest.raises(VideoError, match="truncated"):
        open_video(cut)


def test_a_fragmented_recording_cut_short_is_read_up_to_the_cut(tmp_path, synthetic_normal, caplog):
    """A recorder writing fragmented MP4 that loses power leaves a file cut through its last fragment. It declares
    no frame count, so there is no header to be cut short of: it is read up to the cut, the frames cut through named
    damaged (until release 65 it was refused: "truncated or corrupt: the last of its 295 declared frames …")."""
    import av

    fragmented = tmp_path / "fragmented.mp4"
    with av.open(str(synthetic_normal)) as src, av.open(str(fragmented), "w",
                                                        options={"movflags": "frag_keyframe+empty_moov"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    cut = _write(tmp_path / "cut.mp4", fragmented.read_bytes()[: fragmented.stat().st_size * 6 // 10])
    with open_video(cut) as video, open_video(synthetic_normal) as whole:
        assert "its last frame cannot be read (the recording cut short?)" in caplog.text
        count = video.info.frame_count
        assert 0.5 * whole.info.frame_count < count < 0.7 * whole.info.frame_count
        frames = np.concatenate([batch.frames for batch in video.scan()])
        assert np.array_equal(frames[: count - 8], whole.read(range(count - 8), gray=True).frames)
        (start, stop), = video.damaged()  # the frames cut through, at the end
        assert count - 8 < start and stop == count


def test_undecodable_frames_in_the_middle_are_skipped_and_counted(tmp_path, synthetic_normal):
    data = bytearray(synthetic_normal.read_bytes())
    rng = np.random.default_rng(0)
    for offset in range(len(data) // 3, len(data) // 2, 20_000):
        data[offset : offset + 2000] = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
    with open_video(_write(tmp_path / "damaged.mp4", bytes(data))) as video:
        batches = list(video.scan())
        decoded, skipped = sum(len(b) for b in batches), video.skipped
        assert skipped > 0
        assert 0.5 * video.info.frame_count < decoded < video.info.frame_count
        # read at random (a candidate's pictures over the damage), a frame that did not decode is the next that did,
        # as its scores are its neighbours' (until release 69 the read failed, and `explain` with it, exit 2)
        shown = np.concatenate([b.indices for b in batches])
        scanned = np.concatenate([b.frames for b in batches])
        lost = np.setdiff1d(np.arange(video.info.frame_count), shown)[:6]
        picked = video.read(lost, gray=True)
        assert np.array_equal(picked.indices, lost)
        next_shown = scanned[np.searchsorted(shown, lost)]  # decoded after a seek, their concealed damage may differ
        after = np.abs(picked.frames.astype(float) - next_shown).mean(axis=(1, 2))
        before = np.abs(picked.frames.astype(float) - scanned[np.searchsorted(shown, lost) - 1]).mean(axis=(1, 2))
        assert (after < 0.5).all() and (after < before).all()  # 0.09 to 0.19 gray levels, against 0.6 to 2.9 (ad hoc)
    # live, the same: a damaged packet (lost on the way, as over RTSP on UDP) is skipped, not taken for a
    # broken connection that reopens the stream (until release 35 it did, losing the frames after it here)
    from vadagent.tools.video.live import LiveSource

    live = LiveSource(str(tmp_path / "damaged.mp4"))
    assert len(list(live.frames())) == decoded and live.skipped == skipped and live.gaps == []


def test_frames_decoded_from_damaged_data_are_named_up_to_the_next_keyframe(tmp_path, synthetic_normal, synthetic_scorer):
    """MPEG-TS over a lossy network: pieces of packets lost. The decoder hides the damage (nothing is skipped),
    but its glitches score as motion; the reader names the frames from each loss to the next keyframe (which
    predict from the damaged ones), and the report says which candidates overlap them; a camera's stream, and
    a watch's moment, likewise."""
    from vadagent.agents.explain.detection import detect_video
    from vadagent.taxonomy import load_taxonomy
    from vadagent.tools.scorer import Scorer

    recording = tmp_path / "camera.ts"
    remux(synthetic_normal, recording, "mpegts")
    with open_video(recording) as video:
        count = sum(len(batch) for batch in video.scan())
        assert video.damaged() == []
        keyframes = np.searchsorted(video._pts, video._keyframes[0])
    data = recording.read_bytes()
    packets = [data[i : i + 188] for i in range(0, len(data), 188)]
    first_lost = len(packets) * 3 // 5
    kept = [packet for i, packet in enumerate(packets) if not first_lost <= i < first_lost + 40 or i % 4]
    damaged = tmp_path / "damaged.ts"
    damaged.write_bytes(b"".join(kept))
    with open_video(damaged) as video:
        assert sum(len(batch) for batch in video.scan()) == count and video.skipped == 0
        spans = video.damaged()
    assert spans, "no frame named damaged"
    start, stop = spans[0]
    assert 0.4 * count < start < 0.8 * count  # where the pieces were lost, not before
    assert stop - 1 in keyframes or stop == count  # up to the next keyframe (with the clean one after)
    # a camera: such packets count among its damaged ones, and a moment's frames delivered damaged are named in
    # its report's notes (its clip is encoded afresh, so the camera's reading is what says so)
    from vadagent.app.cameras import Camera, WatchOptions, cut_clip
    from vadagent.app.detecting import DetectionJob
    from vadagent.app.watch import ClipClock, moment_detection
    from vadagent.config import Settings
    from vadagent.tools.scorer.live import Moment
    from vadagent.tools.video.live import FrameRing, LiveSource

    camera = Camera("cam", LiveSource(str(damaged)), Scorer.load(synthetic_scorer), calls_per_minute=6,
                    ring=FrameRing(60.0, 25.0))
    frames = list(camera.source.frames())
    assert len(frames) == count and camera.damaged > 0 and camera.source.skipped == 0 and camera.source.gaps == []
    marked = [frame.index for frame in frames if frame.damaged]
    assert marked and min(marked) >= start - 2 and len(marked) >= (stop - start) // 2
    for frame in frames:
        camera.ring.add(frame)
    moment = Moment(start / 25 - 1.0, start / 25 + 1.0, start / 25, 9.0, 0.0)
    cut = cut_clip(camera, moment, tmp_path / "moment.mp4", WatchOptions())
    assert cut is not None and cut.damaged and cut.damaged[0] > 0  # the frames before the loss are not
    job = DetectionJob(Settings(), load_taxonomy("generic"), None, "cpu", None)
    report = moment_detection(job, camera, cut.clip, moment, ClipClock(cut.times, cut.fps), None, cut.damaged).report
    assert any("arrived damaged" in note and "candidate(s) 0 overlap them" in note for note in report.notes)
    scorer = Scorer.load(synthetic_scorer)
    detection = detect_video(str(damaged), scorer, load_taxonomy("generic"), None)
    assert detection.scored.damaged == spans
    assert any("arrived damaged" in note and f"{start / 25:.1f}" in note for note in detection.report.notes)


def test_out_of_range_access_is_an_error(synthetic_normal):
    with open_video(synthetic_normal) as video, pytest.raises(VideoError, match="out of range"):
        video.read([video.info.frame_count])


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _faststart(source, target):
    import av

    with av.open(str(source)) as src, av.open(str(target), "w", options={"movflags": "faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    return target


def _paused(source: Path, target: Path, after: int, pause_s: float, jitter_s: float = 0.0, last_s: float = 0.0) -> None:
    """`source`'s packets into `target`, its frames from `after` on `pause_s` later (a motion-triggered recording
    that paused), each frame's time moved by up to `jitter_s` either way (a camera's clock), its last lasting
    `last_s` (an export that holds its last frame)."""
    import av

    wobble = np.random.default_rng(0)
    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        packets = [packet for packet in src.demux(src.streams.video[0]) if packet.dts is not None]
        for number, packet in enumerate(packets):
            shift = int((pause_s * (number >= after) + wobble.uniform(-jitter_s, jitter_s)) / packet.time_base)
            packet.pts, packet.dts = packet.pts + shift, packet.dts + shift
            if last_s and number == len(packets) - 1:
                packet.duration = int(last_s / packet.time_base)
            packet.stream = stream
            dst.mux(packet)


def test_a_recording_that_pauses_or_holds_its_last_frame_is_read_on_its_own_clock(tmp_path, synthetic_normal, fitted):
    """A motion-triggered recording: frames stop for 5 s and go on. Read on a regular clock, frame n is the one
    on screen at n / 25 s: the last frame before the pause is shown again through it, and what follows keeps its
    time (read frame for frame, 9 s would have read 4 s); scored, the pause is said. A camera whose frames come up
    to 8 ms early or late is read frame for frame. One whose last frame lasts 3 s, whose stream then states 21.8
    frames/s (its frames were said up to 2.9 s late), is read at the rate its frames come."""
    _paused(synthetic_normal, tmp_path / "paused.mp4", 100, 5.0)
    _paused(synthetic_normal, tmp_path / "unsteady.mp4", 0, 0.0, jitter_s=0.008)
    _paused(synthetic_normal, tmp_path / "held.mp4", 0, 0.0, last_s=3.0)
    with open_video(synthetic_normal) as original, open_video(tmp_path / "paused.mp4") as video:
        assert video.info.fps == pytest.approx(25.0) and video.info.frame_count == 500 + 125
        assert "125 frame(s) shown again and 0 passed over" in video.clock
        indices = np.concatenate([b.indices for b in video.scan()])
        assert np.array_equal(indices, np.arange(video.info.frame_count))
        batch = video.read([99, 100, 224, 225, 624])
        assert all(np.array_equal(batch.frames[0], frame) for frame in batch.frames[1:3])  # shown again
        assert batch.times[1] == batch.times[2] == batch.times[0]  # with the time of the frame it repeats
        assert np.array_equal(batch.frames[3], original.read([100]).frames[0])
        assert batch.times[3] == pytest.approx(9.0, abs=1e-6) and batch.times[4] == pytest.approx(624 / 25, abs=1e-6)
        assert video.read_at([9.0]).indices.tolist() == [225]
    # scored, the pause is where the recording has no frames: said in the report, kept with saved scores
    from vadagent.agents.explain.detection import pause_note
    from vadagent.tools.scorer import ScoreResult

    scored = fitted.score(tmp_path / "paused.mp4")
    assert scored.paused == [(100, 225)] and ScoreResult.load(scored.save(tmp_path / "saved")).paused == scored.paused
    assert "no frames at 4.0–9.0 s (it paused)" in pause_note(scored, [])
    assert np.all(scored.scores[100:225] == scored.scores[99])
    from vadagent.agents.explain.context import pause_relations

    (told,) = pause_relations(scored.paused, 25.0, 2.0, 6.0)  # the model is told, over the window it is shown
    assert told.subject == "the recording" and (told.start_s, told.end_s) == (4.0, 6.0) and "held" in told.object
    assert pause_relations(scored.paused, 25.0, 10.0, 16.0) == []
    # a dataset's labels, of the recording's frames (its 101st to 150th anomalous), follow them onto the clock
    from vadagent.evals.datasets import LabelledVideo
    from vadagent.evals.detect import _on_its_clock

    labelled = _on_its_clock(LabelledVideo("paused", tmp_path / "paused.mp4", np.zeros(500, np.int8),
                                           segments=((101, 150),)), scored)
    assert len(labelled.labels) == 625 and np.flatnonzero(labelled.labels).tolist() == list(range(225, 275))
    shown = invoke("info", tmp_path / "paused.mp4", "--json")  # the user is told
    assert shown.returncode == 0 and "regular clock of 25 frames a second" in json.loads(shown.stdout)["clock"]
    with open_video(tmp_path / "held.mp4") as video:
        assert video.info.fps == pytest.approx(25.0) and video.info.frame_count == 500
        assert "where its stream states 21.78" in video.clock
    with open_video(tmp_path / "unsteady.mp4") as video:
        assert video.clock is None and video.info.frame_count == 500
        assert np.ptp(np.diff(video.read(np.arange(0, 500, 7)).times)) > 0.01  # its times do wobble


@pytest.mark.parametrize("container, suffix", [("mpegts", "ts"), ("flv", "flv")])
def test_files_without_a_seek_index_read_the_same_frames_as_the_mp4(tmp_path, robbery, container, suffix):
    """MPEG-TS and FLV, what cameras, recorders and RTMP servers write, have no seek index: a seek lands
    on a packet that need not begin a group of pictures, from which nothing decodes until the next
    keyframe (this clip's come every 5 s). The real clip's own packets in either read as the MP4 does
    (every such file was refused as truncated, its last frame unreadable)."""
    target = tmp_path / f"robbery.{suffix}"
    remux(robbery, target, container)
    with open_video(robbery) as mp4, open_video(target) as other:
        assert other.info.frame_count == mp4.info.frame_count == 2730
        picked, expected = other.read([2000, 1234, 3, 2729], gray=True), mp4.read([2000, 1234, 3, 2729], gray=True)
        assert picked.indices.tolist() == [3, 1234, 2000, 2729]
        assert np.array_equal(picked.frames, expected.frames)
        assert np.allclose(picked.times, expected.times, atol=0.01)
        scanned = [np.concatenate([b.indices for b in video.scan(start_s=50.02, end_s=52.02, chunk=16)])
                   for video in (other, mp4)]
        assert np.array_equal(*scanned) and scanned[0][0] == 1351


def test_a_recording_cut_between_keyframes_starts_where_its_edit_list_does(tmp_path):
    """`ffmpeg -ss 1.48 -i in.mp4 -c copy out.mp4`, a phone's trim and a camera's clip export cut a recording between
    keyframes: the MP4 keeps the packets from the keyframe before, and its edit list hides the frames before the cut
    (FFmpeg decodes them for the frames after, never shows them; a player starts at the cut). Until release 69 they
    were counted as frames: 900 of the 863 shown, every time 1.48 s late against the player, its first 38 frames
    said damaged and frame 0 unreadable."""
    import av

    from vadagent.samples import sample_clip

    cut = tmp_path / "cut.mp4"
    with av.open(str(sample_clip())) as src, av.open(str(cut), "w") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        shift = round(37 / 25 / src.streams.video[0].time_base)  # frame 37 at 0 s: the 37 before it, negative
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.pts, packet.dts, packet.stream = packet.pts - shift, packet.dts - shift, stream
                dst.mux(packet)
    with open_video(sample_clip()) as original, open_video(cut) as video:
        assert video.info.frame_count == 863 and video.clock is None
        scanned = np.concatenate([batch.frames for batch in video.scan()])
        assert len(scanned) == 863 and video.damaged() == []
        assert np.array_equal(scanned[[0, 400]], original.read([37, 437], gray=True).frames)
        picked = video.read([862, 0, 100], gray=True)
        assert np.array_equal(picked.frames, scanned[picked.indices])
        assert picked.times == pytest.approx([0.0, 4.0, 34.48], abs=1e-3)


@pytest.mark.parametrize("container, before_wrap_s, fps", [("mpegts", 5.0, 25), ("mpegts", 100.0, 1), ("vob", 5.0, 25)])
def test_an_mpeg_recording_whose_clock_wraps_is_read_and_sought(tmp_path, container, before_wrap_s, fps):
    """MPEG's 33-bit clock wraps every 26.5 hours, and a recorder's MPEG-TS or -PS starts wherever its clock stands.
    Where a recording crosses the wrap within its first minute (one in about 1,600), FFmpeg counts the times before the
    wrap as negative, and its seeks by time then land nowhere or past the frame: until release 69 such a TS could not
    be opened ("no decodable frames") or read at random ("could not decode frames"), and such a PS was read from the
    wrap on, its first 132 frames lost. A TS is now sought by its keyframes' byte offsets, a PS (whose demuxer gives
    none) decoded from its start, every frame read at random the one its scan gives. Crossed later (FFmpeg counts on
    past the wrap), it reads by time, as before."""
    import av

    from vadagent.tools.synthetic import textured_square

    start_s = (2**33 - before_wrap_s * 90_000) / 90_000
    frames = textured_square(np.linspace(0, 130, 300))  # one keyframe every 250 frames: the wrap between two
    if container == "mpegts":
        recording = _ts_part(tmp_path / "day.ts", frames, fps=fps, times=start_s + np.arange(300) / fps)
    else:  # MPEG-PS (a DVD recorder's .mpg): MPEG-2, its frames timed in whole frame intervals
        recording = tmp_path / "day.mpg"
        with av.open(str(recording), "w", format=container) as dst:
            stream = dst.add_stream("mpeg2video", rate=fps)
            stream.height, stream.width, stream.pix_fmt = *frames.shape[1:3], "yuv420p"
            for i, frame in enumerate(frames):
                picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
                picture.pts, picture.time_base = round(start_s * fps) + i, Fraction(1, fps)
                dst.mux(stream.encode(picture))
            dst.mux(stream.encode(None))
    with open_video(recording) as video:
        assert video.info.frame_count == 300 and video.clock is None
        scanned = np.concatenate([batch.frames for batch in video.scan()])
        assert len(scanned) == 300 and video.damaged() == []
        picked = video.read([299, 0, 7, 124, 125, 126, 250, 251], gray=True)
        assert np.array_equal(picked.frames, scanned[picked.indices])
        assert picked.times == pytest.approx(picked.indices / fps, abs=1e-3)


def test_frames_that_change_size_part_way_are_scaled_to_the_videos_size(tmp_path, caplog):
    """A recording whose camera switched to another profile (recordings joined, a stream reconfigured):
    every frame comes at the size the video began with, in files and live."""
    import av
    import cv2

    from vadagent.tools.synthetic import textured_square
    from vadagent.tools.video.live import LiveSource

    small = textured_square(range(0, 100, 2))
    large = textured_square(range(0, 200, 4), width=320, height=240)
    parts = []
    for number, frames in enumerate((small, large)):
        part = tmp_path / f"part{number}.ts"
        with av.open(str(part), "w", format="mpegts") as dst:
            stream = dst.add_stream("libx264", rate=25)
            stream.height, stream.width, stream.pix_fmt = *frames.shape[1:3], "yuv420p"
            stream.options = {"tune": "zerolatency"}
            for i, frame in enumerate(frames):
                picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
                picture.pts, picture.time_base = number * len(small) + i, Fraction(1, 25)
                dst.mux(stream.encode(picture))
            dst.mux(stream.encode(None))
        parts.append(part.read_bytes())
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(parts))
    with caplog.at_level("WARNING"), open_video(joined) as video:
        assert (video.info.width, video.info.height, video.info.frame_count) == (160, 120, 100)
        gray = np.concatenate([b.frames for b in video.scan(gray=True, chunk=32)])
        assert gray.shape == (100, 120, 160)
        assert np.array_equal(video.read([80], gray=True).frames[0], gray[80])
    assert "frames change size to 320×240 part-way; they are scaled to the video's 160×120" in caplog.text
    halved = cv2.resize(large[30, ..., 0], (160, 120), interpolation=cv2.INTER_AREA)  # the picture, not a crop of it
    assert np.mean(np.abs(gray[80].astype(float) - halved)) < 6.0
    live = [frame.rgb.shape for frame in LiveSource(str(joined)).frames()]
    assert len(live) == 100 and set(live) == {(120, 160, 3)}


def _ts_part(path, frames, fps=25, times=None, container="mpegts", codec="libx264"):
    """A recording as a camera's recorder writes it (H.264 in MPEG-TS unless told), its timestamps from 0 (or
    `times`, s)."""
    import av

    with av.open(str(path), "w", format=container) as dst:
        stream = dst.add_stream(codec, rate=fps)
        stream.height, stream.width, stream.pix_fmt = *frames.shape[1:3], "yuv420p"
        if times is not None:
            stream.codec_context.time_base = Fraction(1, 90_000)
        for i, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            if times is not None:
                picture.pts, picture.time_base = round(times[i] * 90_000), Fraction(1, 90_000)
            dst.mux(stream.encode(picture))
        dst.mux(stream.encode(None))
    return path


def test_recordings_joined_end_to_end_are_read_as_one(tmp_path, monkeypatch, caplog, robbery):
    """`cat a.ts b.ts > day.ts`, or a recorder restarted: each part's timestamps start again. The file is
    read as one recording, its parts end to end one frame interval apart, each frame as the part alone
    decodes it, through a copy written once into the cache (until release 41 such files were refused);
    the player's copy plays it so too. A join whose next part cannot be decoded is refused by name."""
    import os
    import time

    from vadagent.tools.synthetic import textured_square
    from vadagent.tools.video.live import LiveSource
    from vadagent.tools.video.preview import playable_copy

    monkeypatch.setenv("VADAGENT_CACHE", str(tmp_path / "cache"))
    first = _ts_part(tmp_path / "first.ts", textured_square(range(0, 100, 2)))
    second = _ts_part(tmp_path / "second.ts", textured_square(range(100, 0, -1)))
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    with open_video(first) as a, open_video(second) as b:
        alone = np.concatenate([batch.frames for source in (a, b) for batch in source.scan(gray=True)])
    with caplog.at_level("WARNING"), open_video(joined) as video:
        assert video.info.frame_count == 150 and video.info.fps == pytest.approx(25.0)
        batches = list(video.scan(gray=True, chunk=32))
        assert np.array_equal(np.concatenate([batch.indices for batch in batches]), np.arange(150))
        assert np.allclose(np.diff(np.concatenate([batch.times for batch in batches])), 0.04, atol=1e-3)
        assert np.array_equal(np.concatenate([batch.frames for batch in batches]), alone)
        picked = video.read([120, 3, 50], gray=True)  # a seek into the second part, and back
        assert np.array_equal(picked.frames, alone[[3, 50, 120]])
    assert "joined.ts: its timestamps start again after 50 frames" in caplog.text
    assert "its 2 parts are read end to end" in caplog.text
    (copy,) = (tmp_path / "cache" / "continuous").iterdir()
    assert copy.suffix == ".ts"
    written = copy.stat().st_ino
    with open_video(joined) as video:  # opened again: the copy is read, not written again
        assert video.info.frame_count == 150 and copy.stat().st_ino == written
    live = list(LiveSource(str(joined)).frames())
    assert len(live) == 150
    played = playable_copy(joined, tmp_path)
    with open_video(played) as video:
        assert video.info.frame_count == 150
        assert video.read([149]).times[0] == pytest.approx(149 * 0.04, abs=1e-3)
    # a copy nothing has read for a week goes when another is written; one in use stays
    stale = copy.with_name("old-0000000000000000.ts")
    stale.write_bytes(b"x")
    week_ago = time.time() - 8 * 24 * 3600
    os.utime(stale, (week_ago, week_ago))
    (tmp_path / "again.ts").write_bytes(second.read_bytes() + first.read_bytes())
    with open_video(tmp_path / "again.ts") as video:
        assert video.info.frame_count == 150
    assert not stale.exists() and copy.exists()
    # a DVR's MPEG-PS (MPEG-2 video) joined: read through a Matroska copy, the same frames
    ps_parts = [_ts_part(tmp_path / f"{name}.mpg", frames, container="mpeg", codec="mpeg2video")
                for name, frames in (("a", textured_square(range(0, 100, 2))), ("b", textured_square(range(100, 0, -1))))]
    (tmp_path / "dvr.mpg").write_bytes(b"".join(part.read_bytes() for part in ps_parts))
    with open_video(ps_parts[0]) as a, open_video(ps_parts[1]) as b, open_video(tmp_path / "dvr.mpg") as video:
        ps_alone = np.concatenate([batch.frames for source in (a, b) for batch in source.scan(gray=True)])
        assert np.array_equal(np.concatenate([batch.frames for batch in video.scan(gray=True)]), ps_alone)
        assert np.array_equal(video.read([120, 3], gray=True).frames, ps_alone[[3, 120]])
    assert any(copy.suffix == ".mkv" for copy in (tmp_path / "cache" / "continuous").iterdir())
    # the next part's header lost where the files meet (its first keyframe merges into the last packet)
    robbery_ts = tmp_path / "robbery.ts"
    remux(robbery, robbery_ts, "mpegts")
    (tmp_path / "broken.ts").write_bytes(robbery_ts.read_bytes() + first.read_bytes())
    with pytest.raises(VideoError, match=r"broken.ts: its timestamps start again after 2729 frames .* split it there"):
        open_video(tmp_path / "broken.ts")


def test_a_raw_stream_as_recorders_export_it_reads_as_its_mp4_does(tmp_path, synthetic_normal):
    """A DVR's export is often the camera's H.264 stream itself (`.h264`, `.264`): no container, so no timestamps,
    no frame count and no seeking (FFmpeg refuses a seek: until release 65 opening one ended in a traceback). Its
    frames are numbered as they decode (in the order shown, B-frames or not) and read by decoding on from its start."""
    from vadagent.tools.video import VIDEO_SUFFIXES

    raw = tmp_path / "cam01.h264"
    remux(synthetic_normal, raw, "h264")
    assert raw.suffix in VIDEO_SUFFIXES  # a batch's folder finds it
    with open_video(raw) as stream, open_video(synthetic_normal) as mp4:
        assert (stream.info.frame_count, stream.info.fps) == (mp4.info.frame_count, mp4.info.fps)
        picked = [400, 3, 250, mp4.info.frame_count - 1, 251]
        a, b = stream.read(picked, gray=True), mp4.read(picked, gray=True)
        assert list(a.indices) == list(b.indices) and np.allclose(a.times, b.times)
        assert np.array_equal(a.frames, b.frames)  # the same packets, the same pictures
        window = [np.concatenate([batch.frames for batch in video.scan(start_s=6.0, end_s=7.5)])
                  for video in (stream, mp4)]
        assert len(window[0]) == 38 and np.array_equal(*window)
        assert stream.damaged() == []
    # opened again and again, it reads alike: the stream object of the container its counting had closed and
    # opened again was read for its size and count, which raised or read garbage in 5 of 100 opens (release 68)
    for _ in range(30):
        with open_video(raw) as again:
            assert (again.info.frame_count, again.info.width, again.info.codec) == (500, 320, "h264")
    # its rate is the one its stream states (FFmpeg's demuxer assumes 25 a second: a 15 fps camera's times were off)
    render_clip(ClipSpec(seconds=2, fps=15, seed=3), tmp_path / "slow.mp4")
    remux(tmp_path / "slow.mp4", tmp_path / "slow.264", "h264")
    with open_video(tmp_path / "slow.264") as stream:
        assert stream.info.fps == pytest.approx(15.0) and stream.info.duration_s == pytest.approx(2.0)
    # one keyframe in all (nothing to seek to), with B-frames: read on from its start, in the order shown
    import av

    one_group = tmp_path / "one_group.mp4"
    with open_video(synthetic_normal) as mp4, av.open(str(one_group), "w") as out:
        encoder = out.add_stream("libx264", rate=25, options={"g": "1000", "bf": "2", "x264-params": "scenecut=0"})
        encoder.width, encoder.height, encoder.pix_fmt = mp4.info.width, mp4.info.height, "yuv420p"
        for frame in mp4.read(range(120)).frames:
            out.mux(encoder.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(encoder.encode(None))
    remux(one_group, tmp_path / "one_group.264", "h264")
    with open_video(tmp_path / "one_group.264") as stream, open_video(one_group) as mp4:
        assert stream.info.frame_count == mp4.info.frame_count == 120
        picked = [90, 7, 8, 119]
        assert np.array_equal(stream.read(picked, gray=True).frames, mp4.read(picked, gray=True).frames)


def test_the_player_gets_a_browser_playable_copy_of_what_a_browser_cannot_play(tmp_path, synthetic_normal, caplog):
    """The web UI's player: an MP4 of H.264 plays as it is; the same packets in MPEG-TS (a browser plays
    no TS) get an H.264 MP4 copy beside the report, frame for frame at the same times, written once."""
    from vadagent.app.ui import _player_video
    from vadagent.tools.video.preview import PREVIEW_NAME, browser_playable, playable_copy

    assert browser_playable(synthetic_normal) and playable_copy(synthetic_normal, tmp_path) == synthetic_normal
    recording = tmp_path / "camera.ts"
    remux(synthetic_normal, recording, "mpegts")
    (tmp_path / "report").mkdir()
    told = []  # the UI's bar: an hour's recording takes minutes
    copy = playable_copy(recording, tmp_path / "report", progress=lambda *args: told.append(args))
    assert copy == tmp_path / "report" / PREVIEW_NAME and browser_playable(copy)
    frames = [done for _, done, _ in told]
    assert len(told) >= 10 and frames == sorted(frames) and all(done <= total for _, done, total in told)
    assert told[-1][2] == pytest.approx(500, abs=5)  # the frames in all, from a TS's duration (it declares none)
    with open_video(recording) as original, open_video(copy) as played:
        assert played.info.frame_count == original.info.frame_count
        picked = [200, 3, original.info.frame_count - 1]
        a, b = original.read(picked, gray=True), played.read(picked, gray=True)
        assert np.allclose(a.times, b.times, atol=1e-3)
        assert np.mean(np.abs(a.frames.astype(float) - b.frames)) < 4.0  # the same pictures, encoded again
    written = copy.stat().st_mtime_ns
    assert playable_copy(recording, tmp_path / "report") == copy and copy.stat().st_mtime_ns == written
    # a variable rate: each frame at its own time, two within one frame interval included (until release 41 the
    # copy's encoder counted in frame intervals and rounded them to one time: a frame lost at the start, the
    # copy refused by the muxer later on)
    from vadagent.tools.synthetic import textured_square

    times = np.r_[0.0, 0.003, np.arange(2, 40) * 0.04]
    variable = _ts_part(tmp_path / "variable.ts", textured_square(range(0, 80, 2)), times=times)
    (tmp_path / "variable").mkdir()
    with open_video(variable) as original, open_video(playable_copy(variable, tmp_path / "variable")) as played:
        assert played.info.frame_count == original.info.frame_count == 40
        assert np.allclose(played.read(range(40)).times, original.read(range(40)).times, atol=2e-4)
    # a copy that cannot be written costs the player, not the report: the video itself is shown
    assert _player_video(recording, tmp_path / "no" / "such" / "folder") == str(recording)
    assert "the player may not play it" in caplog.text
    # a folder of frames (Ped2's layout, a batch's video since release 65) is played from a copy at its frame rate
    (tmp_path / "frames").mkdir()
    with open_video(synthetic_normal) as original:
        clip, gray = original.read(range(30)), original.read(range(30), gray=True)
    for index, rgb in zip(clip.indices, clip.frames, strict=True):
        cv2.imwrite(str(tmp_path / "frames" / f"{index}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    (tmp_path / "frames_report").mkdir()
    played = _player_video(tmp_path / "frames", tmp_path / "frames_report", fps=12.5)
    assert played == str(tmp_path / "frames_report" / PREVIEW_NAME) and browser_playable(Path(played))
    with open_video(played) as copy:
        assert copy.info.frame_count == 30 and copy.info.fps == pytest.approx(12.5)
        shown = copy.read(range(30), gray=True)
        assert np.allclose(shown.times, np.arange(30) / 12.5, atol=1e-3)  # frame i at i / fps, as its report counts
        assert np.mean(np.abs(shown.frames.astype(float) - gray.frames)) < 4.0
    assert _player_video(tmp_path / "gone", tmp_path) is None  # a video moved away since its report


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs a process's CPU affinity (Linux)")
def test_a_synthetic_clip_decodes_to_the_same_pixels_on_one_core_as_on_more(tmp_path):
    """The synthetic footage that tests and benchmarks measure is the same on any machine: x264 took its threads,
    which its slices follow, from the machine's cores, and the same clip decoded to other pixels on one core than on
    CI's two (and on three or more threads than on two; release 56)."""
    script = ("import os, sys; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
              "from vadagent.tools.synthetic import ClipSpec, render_clip; "
              "render_clip(ClipSpec(seconds=2, seed=1, anomalies=[('fast', 0.5)]), sys.argv[1])")
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "one_core.mp4")], check=True, timeout=120)
    render_clip(ClipSpec(seconds=2, seed=1, anomalies=[("fast", 0.5)]), tmp_path / "here.mp4")
    decoded = []
    for name in ("one_core.mp4", "here.mp4"):
        with open_video(str(tmp_path / name)) as video:
            decoded.append(np.concatenate([block.frames for block in video.scan(gray=False)]))
    assert np.array_equal(*decoded)
