"""`vadagent watch`: a clip played live and a real HTTP live stream (MPEG-TS, as cameras serve it),
scored as frames arrive, explained with a replay VLM, recorded in events.jsonl, the SQLite log and a
local webhook; a stream cut for a few seconds is reopened and watching goes on. Cameras read in processes
of their own: test_watch_processes.py; `vadagent record`: test_record.py."""

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from inprocess import invoke
from servers import RtspSetups, within
from watching import JUDGED, VADAGENT, Webhook

from vadagent.agents.chat.session import load_report
from vadagent.app.ui_live import event_files, event_rows, read_cameras, read_events
from vadagent.evals.servers import LiveStreamServer
from vadagent.tools.synthetic import ClipSpec, render_clip, write_video
from vadagent.tools.video import open_video

BEHIND_S = 6.0  # how far a watcher may fall behind the live stream here before the test no longer finds its events


def test_a_live_stream_raises_its_anomaly_everywhere_and_survives_a_cut(tmp_path, site):
    """The clip served as a live stream (looping): its anomaly's event reaches events.jsonl, the
    database and the webhook; the camera drops off the network for 3 s, is reopened, and watching
    goes on; Ctrl-C stops cleanly; `record` captures the camera as normal footage. The camera is reached
    with a password and a token in its URL, as cameras often are: neither is written, logged or sent."""
    folder, truth = site
    camera, hook, out = LiveStreamServer(folder / "camera.mp4"), Webhook(), tmp_path / "out"
    url = camera.url.replace("http://", "http://guard:hunter2@") + "?channel=1&token=hunter3"
    process = subprocess.Popen([VADAGENT, "watch", url, "--scorer", str(folder / "scorer"), "-o", str(out),
                                "--vlm", f"replay:{folder / 'judge.jsonl'}", "--webhook", hook.url],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        # the watcher starts (its imports take 5-10 s on a loaded 2-core machine) and opens the stream
        assert within(60, lambda: camera.connections >= 1), "the stream was never opened"
        time.sleep(9)  # the first pass of the clip, anomaly included
        camera.cut(3)  # the camera drops off the network for three seconds
        assert within(30, lambda: camera.connections >= 2), "the stream was not reopened"
        time.sleep(4)  # and watching goes on
    finally:
        process.send_signal(signal.SIGINT)  # a clean stop: moments closed, files flushed
        _, stderr = process.communicate(timeout=120)
    try:
        recorded = subprocess.run([VADAGENT, "record", url, "--seconds", "2", "-o", str(tmp_path / "normal.mp4")],
                                  capture_output=True, text=True, timeout=60)
    finally:
        camera.close()
        hook.server.shutdown()
    assert process.returncode == 0, stderr
    said = " ".join(stderr.split())
    assert "reopening with back-off" in said and "back after" in said and "1 stream interruption(s)" in said
    records = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    start, end = (f / truth.fps for f in (truth.events[0]["start_frame"], truth.events[0]["end_frame"]))
    # the camera's clock is the wall clock since it was opened: the clip's time, or later where the watcher fell
    # behind the stream (start-up, a moment being explained; seconds on a loaded 2-core machine)
    first_pass = [r for r in records if r["start_s"] <= end + 1.0 + BEHIND_S and start - 1.0 <= r["end_s"]]
    assert first_pass and all(r["explained"] and r["event"]["what"] == JUDGED["what"] for r in first_pass)
    assert not first_pass[0]["scored_again"]  # its clip reused the live scores and evidence
    # and its alert says where in the picture, from the evidence its peak frame got live
    regions = [r["event"]["region"] for r in first_pass]
    assert all(region and region["box"][2] > region["box"][0] and region["place"] for region in regions)
    assert all(r["start_s"] - 1.0 <= r["event"]["start_s"] <= r["end_s"] + 1.0 for r in first_pass)  # camera's clock
    assert all((out / k).is_file() for r in first_pass for k in r["keyframes"])
    # a keyframe that scored above the threshold shows where, as report.html's do (the footpath has no red)
    import cv2

    pictures = [cv2.imread(str(out / k)) for k in first_pass[0]["keyframes"]]
    assert any(((p[..., 2] > 170) & (p[..., 1] < 90) & (p[..., 0] < 90)).sum() > 20 for p in pictures)
    # alerted within 10 s of crossing the threshold, besides waiting for the camera's call budget, which a
    # moment just before may have taken (how much it had saved up depends on how fast the watcher started)
    assert first_pass[0]["latency_to_alert_s"] - first_pass[0]["waited_for_budget_s"] < 10
    with sqlite3.connect(out / "events.sqlite") as db:
        assert {row[0] for row in db.execute("select id from events")} == {r["id"] for r in records}
    assert {r["id"] for r in hook.received} == {r["id"] for r in records}
    status = json.loads((out / "cameras.json").read_text())["cameras"]  # what `ui --live` shows
    assert status[0]["frames"] > 100 and status[0]["interruptions"] == 1 and status[0]["alive"] is False
    shown = read_cameras(out, time.time())[0][0]
    assert shown[:1] == [status[0]["name"]] and shown[-1] == (status[0]["picture"] or "as it comes")
    shown = read_events(out)
    assert [r["id"] for r in shown] == [r["id"] for r in reversed(records)][: len(shown)]
    keyframes, report = event_files(out, first_pass[0])
    assert keyframes and load_report(Path(report))[0].events[0].what == JUDGED["what"]  # chat opens this report
    assert recorded.returncode == 0 and "recorded" in recorded.stderr, recorded.stderr
    written = [stderr, recorded.stderr, json.dumps(hook.received)] + [f.read_text(errors="replace") for f in out.rglob("*")
                                                                     if f.suffix in (".json", ".jsonl", ".sqlite")]
    assert not any("hunter" in text for text in written)
    assert status[0]["source"] == url.replace("hunter2", "***").replace("hunter3", "***")


def test_live_scores_follow_the_file_scores_and_the_waiting_queue_stays_bounded(site, caplog):
    import logging

    from vadagent.app.cameras import Camera, Keyframes
    from vadagent.app.watch import DROPPED, LEFT_RING, STALE, STOPPED, Waiting
    from vadagent.tools.scorer import Scorer
    from vadagent.tools.scorer.live import LiveScore, LiveScorer, Moment
    from vadagent.tools.video import open_video
    from vadagent.tools.video.live import LiveSource

    folder, truth = site
    scorer = Scorer.load(folder / "scorer")
    offline = scorer.score(folder / "camera.mp4").scores
    live, scores = LiveScorer(scorer), {}
    with open_video(folder / "camera.mp4") as video:
        for batch in video.scan(gray=False):
            for index, frame in zip(batch.indices, batch.frames):
                scores.update((s.index, s) for s in live.feed(int(index), frame))
    scores.update((s.index, s) for s in live.flush())
    online = np.array([scores[i].score for i in range(len(offline))])
    assert np.corrcoef(online[5:], offline[5:])[0, 1] > 0.9  # the same tiers and calibration, a trailing median
    peak, event = int(online.argmax()), truth.events[0]
    # Both peak inside the one anomaly; where on its plateau varies with OpenCV's threads, so the
    # live score at the file's peak is only asked to be flagged and high among the live run's.
    assert event["start_frame"] <= peak <= event["end_frame"]
    assert event["start_frame"] <= int(offline.argmax()) <= event["end_frame"]
    at_file_peak = online[int(offline.argmax())]
    assert at_file_peak > scorer.threshold and at_file_peak >= np.quantile(online, 0.75)
    scored = scorer.score(folder / "camera.mp4")  # the evidence rows agree too
    scale = (scorer.width / scored.info.width, scorer.height / scored.info.height)
    live_box = LiveScore.evidence([scores[peak]]).to_source(scale, scored.info.fps).box[0]
    offline_box = scored.evidence.box[peak]
    assert np.abs(live_box - offline_box).max() <= 48  # one or two cells apart at most (trailing vs centred median)

    camera = Camera("cam", LiveSource("x.mp4"), scorer, calls_per_minute=6)
    set_aside = []
    waiting = Waiting(size=2, set_aside=lambda item, reason: set_aside.append((item.moment.start_s, reason)))
    kept = {name: Keyframes(Path(f"{name}0"), Path(f"{name}1"), Path(f"{name}2")) for name in "abcd"}
    with caplog.at_level(logging.INFO):
        waiting.put(camera, Moment(1.0, 2.0, 1.5, 3.0, 0.0), kept["a"])
        waiting.put(camera, Moment(2.5, 3.0, 2.8, 4.0, 0.0), kept["b"])  # overlaps the first (within a second): merged
        waiting.put(camera, Moment(10.0, 11.0, 10.5, 2.0, 0.0), kept["c"])
        waiting.put(camera, Moment(20.0, 21.0, 20.5, 5.0, 0.0), kept["d"])  # full: the lowest-scoring waiting one goes
    assert [(w.moment.start_s, w.moment.end_s) for w in waiting.items] == [(1.0, 3.0), (20.0, 21.0)]
    # the merged moment's keyframes: the first's first frame, the higher peak (the second's), the later last frame
    assert waiting.items[0].keyframes.paths == [Path("a0"), Path("b1"), Path("b2")]
    assert set_aside == [(10.0, DROPPED)]
    assert "merged a moment" in caplog.text and "dropped the waiting moment at 10.0 s" in caplog.text
    # the first moment's frames have left the ring: set aside without spending the one call there is
    camera.kept_from_s = 5.0
    taken = waiting.take()
    assert taken is not None and taken.moment.start_s == 20.0 and not waiting.items
    assert set_aside == [(10.0, DROPPED), (1.0, LEFT_RING)]
    # Each camera has its own budget: a full queue makes room from the camera with the most waiting, not
    # by dropping a quiet camera's one moment; the highest-scoring moment whose camera may call goes first.
    busy, quiet = (Camera(name, LiveSource("x.mp4"), scorer, calls_per_minute=6) for name in ("busy", "quiet"))
    dropped = []
    waiting = Waiting(size=3, set_aside=lambda item, reason: dropped.append((item.camera.name, item.moment.peak_score)))
    for start, peak in ((30.0, 5.0), (40.0, 7.0), (50.0, 6.0)):
        waiting.put(busy, Moment(start, start + 1, start + 0.5, peak, 0.0))
    waiting.put(quiet, Moment(30.0, 31.0, 30.5, 2.0, 0.0))
    assert dropped == [("busy", 5.0)]
    taken = [waiting.take() for _ in range(3)]  # one call each is all the two cameras have now
    assert [(t.camera.name, t.moment.peak_score) for t in taken[:2]] == [("busy", 7.0), ("quiet", 2.0)]
    assert taken[2] is None and [w.moment.peak_score for w in waiting.items] == [6.0]
    # and a moment that has waited longer than max_wait_s since it closed is set aside, without a call
    stale = []
    waiting = Waiting(size=3, set_aside=lambda item, reason: stale.append((item.moment.start_s, reason)), max_wait_s=30.0)
    waiting.put(quiet, Moment(60.0, 61.0, 60.5, 9.0, 0.0, closed_wall=time.time() - 31.0))
    waiting.put(quiet, Moment(70.0, 71.0, 70.5, 1.0, 0.0, closed_wall=time.time()))
    quiet.tokens = 1.0
    assert waiting.take().moment.start_s == 70.0 and stale == [(60.0, STALE)]
    # stopped at once: what waits, and what comes after, is set aside
    waiting.put(quiet, Moment(80.0, 81.0, 80.5, 3.0, 0.0))
    waiting.close()
    waiting.put(busy, Moment(90.0, 91.0, 90.5, 3.0, 0.0))
    assert not waiting.items and stale[1:] == [(80.0, STOPPED), (90.0, STOPPED)]


def test_a_waiting_moment_keeps_its_frames_however_long_it_waits(site, long_camera, tmp_path, caplog):
    """A moment's camera holds its frames (its context included) from its close until the watch cuts it
    or sets it aside: 30 s of a camera whose ring lasts 17 s, read to its end, still cuts its first moment,
    with the scores its frames got live; released, only the ring's frames stay."""
    import logging

    from vadagent.app.cameras import Camera, CameraReaders, WatchOptions
    from vadagent.tools.scorer import Scorer
    from vadagent.tools.video.live import FrameRing, LiveFrame, LiveSource

    folder, _ = site
    camera = Camera("cam", LiveSource(str(long_camera)), Scorer.load(folder / "scorer"), calls_per_minute=6)
    options = WatchOptions()
    readers = CameraReaders([camera], options, "cpu", tmp_path / "keyframes")
    moments = []
    readers.read(camera, lambda _, moment, kept: moments.append(moment), lambda c: setattr(c, "alive", False))
    first = moments[0]
    assert first.start_s < 6.0 and len(moments) >= 2
    assert camera.ring.frames[0].time_s > first.end_s + options.after_s  # the ring alone no longer has it
    cut = asyncio.run(readers.cut(camera, first, tmp_path / "first.mp4"))
    assert cut is not None and cut.scores is not None  # not scored again
    frame_s = 1 / camera.source.fps
    assert cut.times[0] == pytest.approx(max(0.0, first.start_s - options.before_s), abs=1.5 * frame_s)
    assert cut.times[-1] == pytest.approx(first.end_s + options.after_s, abs=1.5 * frame_s)
    assert np.allclose(np.diff(cut.times), frame_s, atol=1e-3)  # every frame of it, none missing
    with open_video(str(cut.clip)) as video:
        assert video.info.frame_count == len(cut.times)
    held = camera.ring.nbytes
    readers.release(camera, [m.start_s for m in moments])
    assert not camera.ring.held and not camera.held_scores and camera.ring.nbytes < held
    assert not camera.ring.between(first.start_s, first.end_s)
    # a holder that never releases costs a bounded memory: beyond max_holds, the oldest span is let go
    ring = FrameRing(1.0, 10.0, max_holds=1)
    ring.hold("a", 0.0, 0.5)
    with caplog.at_level(logging.WARNING):
        ring.hold("b", 1.0, 1.5)
    for i in range(30):
        ring.add(LiveFrame(i, i / 10, 0.0, np.zeros((8, 8, 3), np.uint8)))
    assert [f.time_s for f in ring.held.values()] == pytest.approx([1.0, 1.1, 1.2, 1.3, 1.4, 1.5])
    assert "the oldest (at 0.0 s) is let go" in caplog.text


def test_cameras_come_from_a_yaml_list_with_their_own_scorer_rules_and_budget(site, tmp_path):
    from vadagent.app.cameras import WatchOptions, parse_cameras
    from vadagent.config import Settings
    from vadagent.errors import UsageError
    from vadagent.rules import default_rules

    folder, _ = site
    default_rules().to_yaml(tmp_path / "door_rules.yaml")
    (tmp_path / "cameras.yaml").write_text(
        f"cameras:\n"
        f"  - url: {folder / 'camera.mp4'}\n    scorer: {folder / 'scorer'}\n"
        f"  - name: lobby\n    url: rtsp://10.0.0.7:554/main\n    scorer: {folder / 'scorer'}\n"
        f"    rules: door_rules.yaml\n    taxonomy: ucf_crime\n    calls_per_minute: 2\n"
        f"    options: {{rtsp_transport: udp}}\n"
        f"  - url: rtsp://admin:hunter2@10.0.0.8:554/main\n    scorer: {folder / 'scorer'}\n")
    cameras = parse_cameras([str(tmp_path / "cameras.yaml")], None, Settings(), WatchOptions())
    assert [c.name for c in cameras] == ["camera", "lobby", "10.0.0.8_554"]  # a name never holds a password
    assert cameras[0].rules is None and cameras[0].taxonomy is None  # the job's
    assert cameras[1].rules == default_rules() and cameras[1].taxonomy.name == "ucf_crime"
    assert cameras[1].calls_per_minute == 2 and cameras[1].source.source == "rtsp://10.0.0.7:554/main"
    assert cameras[0].source.options == {} and cameras[1].source.options == {"rtsp_transport": "udp"}
    (tmp_path / "dots.yaml").write_text(f"cameras:\n  - name: '..'\n    url: rtsp://x/y\n    scorer: {folder / 'scorer'}\n")
    with pytest.raises(UsageError, match="name"):  # a camera's name names its keyframes' folder
        parse_cameras([str(tmp_path / "dots.yaml")], None, Settings(), WatchOptions())


def test_live_frames_carry_their_stream_timestamps_so_a_variable_rate_is_not_speed(tmp_path):
    from vadagent.tools.scorer import Scorer, ScorerConfig, SourceSpec
    from vadagent.tools.scorer.live import LiveScorer
    from vadagent.tools.synthetic import textured_square, write_video
    from vadagent.tools.video.live import LiveSource

    # normal: a square crossing at 1.5 px per frame, 25 frames/s, back and forth
    write_video(tmp_path / "normal.mp4", textured_square(10 + 100 * abs(((1.5 * i / 100) % 2) - 1)
                                                         for i in range(300)), 25.0)
    scorer = Scorer.fit([SourceSpec(str(tmp_path / "normal.mp4"))], ScorerConfig(tiers=["motion"]))
    # the same motion recorded at a variable rate: every frame for 2 s, then one in four for 4 s
    numbers = [n for n in range(150) if n < 50 or n % 4 == 0]
    write_video(tmp_path / "variable.mp4", textured_square(10 + 1.5 * n * 0.5 for n in numbers), 25.0, numbers)

    frames = list(LiveSource(str(tmp_path / "variable.mp4")).frames())
    stamps = np.array([f.stamp_s for f in frames])
    assert np.allclose(np.diff(stamps)[-5:], 4 / 25, atol=1e-3)  # the stream's own timestamps, gaps kept

    def live_scores(with_stamps: bool) -> np.ndarray:
        live, out = LiveScorer(scorer, fps=25.0), []
        for frame in frames:
            out += live.feed(frame.index, frame.rgb, frame.stamp_s if with_stamps else None)
        out += live.flush()
        return np.array([s.score for s in out])

    slow = slice(len(numbers) - 20, len(numbers))  # well inside the one-in-four stretch
    by_stamps, by_order = live_scores(True), live_scores(False)
    assert np.median(by_stamps[slow]) < scorer.threshold  # moving as fast as the normal square
    assert np.median(by_order[slow]) > np.median(by_stamps[slow]) + 1.0  # frames as they come: four times as fast


def test_a_cameras_rainy_picture_is_read_so_and_its_moments_say_it(site, tmp_path):
    """A camera's stream in rain: the live scorer reads it as the file scorer does (at the darker of each frame and
    the one before), and a moment's report names how its picture was read."""
    from vadagent.app.cameras import Camera
    from vadagent.app.detecting import DetectionJob
    from vadagent.app.watch import ClipClock, moment_detection
    from vadagent.config import Settings
    from vadagent.evals.conditions import rain
    from vadagent.taxonomy import load_taxonomy
    from vadagent.tools.scorer import Scorer
    from vadagent.tools.scorer.live import LiveScorer, Moment
    from vadagent.tools.video import open_video
    from vadagent.tools.video.live import FrameRing, LiveSource

    folder, _ = site
    scorer = Scorer.load(folder / "scorer")
    with open_video(folder / "camera.mp4") as video:
        frames = rain(np.concatenate([b.frames for b in video.scan(gray=False)])[:50])
    write_video(tmp_path / "rain.mp4", frames, 25.0)
    live = LiveScorer(scorer, fps=25.0)
    scores = [s for i, frame in enumerate(frames) for s in live.feed(i, frame)] + live.flush()
    assert live.reading.startswith("rain") and live.reading == scorer.score(tmp_path / "rain.mp4").picture[0][1]
    moment = Moment(0.8, 1.2, 1.0, 5.0, 0.0, reading=live.reading)
    camera = Camera("cam", LiveSource(str(tmp_path / "rain.mp4")), scorer, calls_per_minute=6, ring=FrameRing(60.0, 25.0))
    job = DetectionJob(Settings(), load_taxonomy("generic"), None, "cpu", None)
    report = moment_detection(job, camera, tmp_path / "rain.mp4", moment, ClipClock([i / 25 for i in range(50)], 25.0),
                              scores).report
    assert report.notes == [f"The picture differed from the normal footage's: from 0.0 s, {live.reading}."]


def test_the_webhook_is_sent_the_anomalies_not_what_the_model_judged_normal(tmp_path):
    """By default every event but those the model judged normal (rejected by reflection, or in the `normal`
    category) is sent, those it could not explain included; `explained` sends only its anomalies, `all` every
    event; `--alert-severity` holds back explained events below it; a value not offered is a usage error."""
    from vadagent.app.cameras import WatchOptions
    from vadagent.types import AnomalyEvent, Verdict

    def record(category="motion", severity=2, verdict=Verdict.CONFIRMED, explained=True):
        event = AnomalyEvent.model_validate({**JUDGED, "id": "e1", "start_s": 1.0, "end_s": 2.0, "category": category,
                                             "severity": severity, "verdict": verdict})
        return {"id": "cam-1", "explained": explained, "event": event.model_dump(mode="json") if explained else None}

    events = {"confirmed": record(), "uncertain": record(verdict=Verdict.UNCERTAIN), "minor": record(severity=1),
              "rejected": record(verdict=Verdict.REJECTED), "normal": record(category="normal", severity=0),
              "not explained": record(explained=False)}

    def sent(**options):
        return [name for name, r in events.items() if WatchOptions(webhook="http://ops/alerts", **options).alerts(r)]

    assert sent() == ["confirmed", "uncertain", "minor", "not explained"]
    assert sent(alert="explained") == ["confirmed", "uncertain", "minor"]
    assert sent(alert="all") == list(events)
    assert sent(alert_severity=2) == ["confirmed", "uncertain", "not explained"]
    assert sent(alert="all", alert_severity=1) == ["confirmed", "uncertain", "minor", "rejected", "not explained"]
    bad = invoke("watch", tmp_path / "camera.mp4", "--scorer", tmp_path, "-o", tmp_path / "out", "--alert", "some")
    said = " ".join(bad.stderr.replace("│", " ").split())  # typer's usage error, in a box
    assert bad.returncode == 2 and "'--alert'" in said and "'some' is not one of 'all', 'anomalies', 'explained'" in said
    assert not (tmp_path / "out").exists()


def test_the_coverage_floor_picks_a_quiet_stretchs_highest_peaks_below_the_threshold():
    """As a file's candidates have it: each 30 s stretch with fewer than `min_calls` moments gives as many of its
    highest local peaks below the threshold as it lacks (above the stretch's median, grown while above halfway to it,
    apart from its moments); one cut short by the stream's end gives none; `min_calls: 0` none at all."""
    from vadagent.tools.scorer.candidates import CandidatePolicy
    from vadagent.tools.scorer.live import SPARE, CoverageFloor

    times = np.arange(0.0, 80.0, 0.1)
    scores = np.random.default_rng(0).normal(0.0, 0.2, len(times))
    scores[(times > 10.0) & (times < 11.0)] += 2.0  # below the threshold (3), in the first stretch
    scores[(times > 20.0) & (times < 21.0)] += 1.5  # lower, in the first stretch too
    scores[(times > 40.0) & (times < 41.0)] += 5.0  # over it, in the second

    def floors(policy):
        floor, found = CoverageFloor(3.0, policy, 10.0), []
        for t, score in zip(times.tolist(), scores.tolist()):
            found += [(round(t, 1), m) for m in floor.update(t, score, 0.0)]
            # the peaks whose frames the camera keeps: below the threshold, twice as many as it may take, apart
            kept = floor.kept_s
            assert len(kept) <= SPARE * policy.min_calls and all(scores[round(k * 10)] < 3.0 for k in kept)
            assert all(b - a >= policy.min_gap_s for a, b in zip(kept, kept[1:]))
        return found

    (at, moment), = floors(CandidatePolicy())
    assert at == 30.0 and moment.below_threshold and 10.0 < moment.peak_s < 11.0 and moment.peak_score < 3.0
    assert 10.0 < moment.start_s <= moment.peak_s <= moment.end_s < 11.0
    # two a stretch: both bumps of the first; of the second, its moment and the highest peak away from it
    found = floors(CandidatePolicy(min_calls=2))
    assert [at for at, _ in found] == [30.0, 30.0, 60.0] and all(m.below_threshold for _, m in found)
    assert 10.0 < found[0][1].peak_s < 11.0 and 20.0 < found[1][1].peak_s < 21.0
    assert not 38.0 <= found[2][1].peak_s <= 43.0 and found[2][1].peak_score == pytest.approx(
        scores[(times >= 30.0) & ((times < 38.0) | (times > 43.0)) & (times < 60.0)].max())
    assert floors(CandidatePolicy(min_calls=0)) == []


def test_a_quiet_camera_shows_the_model_its_highest_peak_below_the_threshold(tmp_path, site):
    """A camera where nothing happens for 12 s: no moment crosses the threshold, so its first stretch (10 s here) gives
    the model the coverage floor's moment, recorded as explained and below the threshold, on a call the camera had to
    spare. Without one to spare before --max-wait it is let go, keyframes and all, and recorded as no event; with
    `min_calls: 0` nothing is asked."""
    folder, _ = site
    render_clip(ClipSpec(seconds=12, seed=5, walkers_per_second=0.0), tmp_path / "quiet.mp4")

    said = {}

    def watch(name: str, settings: str, *args) -> list[dict]:
        (tmp_path / f"{name}.yaml").write_text(settings)
        watched = invoke("-v", "--config", tmp_path / f"{name}.yaml", "watch", tmp_path / "quiet.mp4", "--scorer",
                         folder / "scorer", "-o", tmp_path / name, "--vlm", f"replay:{folder / 'judge.jsonl'}", *args)
        assert watched.returncode == 0, watched.stderr
        said[name] = " ".join((watched.stdout + watched.stderr).split())
        return [json.loads(line) for line in (tmp_path / name / "events.jsonl").read_text().splitlines()]

    (record,) = watch("floor", "candidates: {calls_per_minute: 60, window_s: 10}\n")
    assert record["below_threshold"] and record["explained"] and record["event"]["what"] == JUDGED["what"]
    threshold = json.loads((tmp_path / "floor" / "cameras.json").read_text())["cameras"][0]["threshold"]
    assert 0.0 <= record["start_s"] <= record["end_s"] < 10.0 and record["peak_score"] < threshold
    assert all((tmp_path / "floor" / k).is_file() for k in record["keyframes"]) and record["keyframes"]
    assert f"s: explained (coverage, below the threshold): {JUDGED['what']}" in said["floor"]  # on the terminal
    assert "the coverage floor showed the model 1 peak(s) of stretches short of moments and let 0 go unexplained" in said["floor"]
    assert event_rows([record])[0][4] == "explained (coverage, below the threshold)"  # as `ui --live` lists it
    assert watch("spared", "candidates: {calls_per_minute: 1, window_s: 10}\n", "--max-wait", "1") == []
    assert "the coverage floor's moment at " in said["spared"] and "was not explained (it waited longer" in said["spared"]
    assert "showed the model 0 peak(s) of stretches short of moments and let 1 go unexplained" in said["spared"]
    assert not [p for p in (tmp_path / "spared" / "keyframes").rglob("*") if p.is_file()]
    assert watch("none", "candidates: {calls_per_minute: 60, window_s: 10, min_calls: 0}\n") == []
    # `min_calls: 2`: the stretch's two highest peaks, apart, each with its own frames kept until explained
    two = sorted(watch("two", "candidates: {calls_per_minute: 60, window_s: 10, min_calls: 2}\n"), key=lambda r: r["start_s"])
    assert len(two) == 2 and all(r["below_threshold"] and r["explained"] and r["keyframes"] for r in two)
    assert record["start_s"] in [pytest.approx(r["start_s"], abs=0.05) for r in two]  # the highest among them
    assert two[1]["start_s"] - two[0]["end_s"] >= 2.0  # candidates.min_gap_s
    assert all((tmp_path / "two" / k).is_file() for r in two for k in r["keyframes"])


def test_retention_deletes_the_oldest_files_and_the_folders_they_leave_empty(tmp_path):
    """--keep-days, then --max-gb: the oldest clips, keyframes and reports go first, and their emptied
    folders with them; the three top folders stay. Without either, nothing is walked or touched."""
    from vadagent.app.watch_events import prune

    now = time.time()
    ages_days = {"clips/cam-1.mp4": 3.0, "keyframes/cam/0000001.00/000001.00.jpg": 3.0, "reports/cam-1/report.json": 3.0,
                 "clips/cam-2.mp4": 1.0, "keyframes/cam/0000050.00/000050.00.jpg": 1.0, "reports/cam-2/report.json": 0.5,
                 "clips/cam-3.mp4": 0.1}
    for name, age in ages_days.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
        os.utime(path, (now - age * 86400, now - age * 86400))
    assert prune(tmp_path, None, None) == 0 and all((tmp_path / name).is_file() for name in ages_days)
    assert prune(tmp_path, 2.0, None) == 3  # older than two days
    assert not (tmp_path / "keyframes" / "cam" / "0000001.00").exists() and not (tmp_path / "reports" / "cam-1").exists()
    assert (tmp_path / "keyframes" / "cam" / "0000050.00").is_dir()
    assert prune(tmp_path, 2.0, 2.5e-6) == 2  # 4,000 bytes left over a 2,500-byte budget: the two oldest go
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == \
        ["clips/cam-3.mp4", "reports/cam-2/report.json"]
    assert not (tmp_path / "keyframes" / "cam").exists() and all((tmp_path / top).is_dir()
                                                                  for top in ("clips", "keyframes", "reports"))


def test_rtsp_cameras_are_read_over_tcp_unless_their_options_say_otherwise():
    """FFmpeg asks an RTSP camera for UDP unless told otherwise, where a lost packet damages the frames up
    to the next keyframe; interleaved in the TCP connection, every packet arrives. A camera's `options`
    (cameras.yaml) may set it back. The server here says which transport the SETUP asked for."""
    from vadagent.tools.video.live import LiveSource

    def transport_asked(options: dict[str, str]) -> str:
        server, started = RtspSetups(), time.monotonic()
        source = LiveSource(server.url, stall_s=2.0, options=options)
        frames = list(source.frames(stop=lambda: bool(server.transports) or time.monotonic() - started > 20))
        server.close()
        assert frames == [] and server.transports, "the client never sent a SETUP"
        return server.transports[0]

    asked = {"default": transport_asked({}), "udp": transport_asked({"rtsp_transport": "udp"})}
    assert asked["default"].startswith("RTP/AVP/TCP") and "interleaved" in asked["default"]
    assert asked["udp"].startswith("RTP/AVP/UDP") and "client_port" in asked["udp"]
