"""The web UI in headless Chromium (Debian's package, driven by Playwright): open the sample clip,
see the events, ask a question, get an answer; on the live page, pick a watch's event, see its
keyframes and ask about it. The model is a tiny random VLM (real code paths)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from servers import free_port, wait_until_up

from vadagent.app.ui import (
    EVENT_COLUMNS,
    MOMENT_COLUMNS,
    batch_event_report,
    batch_event_rows,
    check_upload,
    find_reports,
    row_start,
)
from vadagent.errors import UsageError, VideoError
from vadagent.samples import sample_clip

CHROMIUM = shutil.which("chromium")
VADAGENT = str(Path(sys.executable).with_name("vadagent"))


def watch_folder(folder: Path, what: str = "two people scuffle") -> Path:
    """What a running `vadagent watch -o` leaves: a camera's status, an explained event with two
    keyframes (its report is copied in by the test, once the UI has written one) and a newer one
    dropped while the VLM was behind."""
    import time

    import cv2
    import numpy as np

    (folder / "keyframes" / "lobby" / "0000010.00").mkdir(parents=True)
    keyframes = []
    for name in ("000010.00", "000011.40"):
        path = folder / "keyframes" / "lobby" / "0000010.00" / f"{name}.jpg"
        cv2.imwrite(str(path), np.full((48, 64, 3), 128, np.uint8))
        keyframes.append(str(path.relative_to(folder)))
    (folder / "cameras.json").write_text(json.dumps({"updated_at": time.time() + 3600, "cameras": [
        {"name": "lobby", "source": "rtsp://x", "score": 5.0, "threshold": 4.0, "time_s": 12.5, "frames": 300,
         "alive": True, "interruptions": 0}]}))
    (folder / "events.jsonl").write_text(json.dumps({
        "id": "lobby-1", "camera": "lobby", "start_s": 10.0, "end_s": 12.0, "status": "explained", "explained": True,
        "event": {"category": "fighting", "severity": 3, "what": what}, "reason": "",
        "report": "reports/lobby-1", "keyframes": keyframes}) + "\n" + json.dumps({  # newer: shown above it
        "id": "lobby-2", "camera": "lobby", "start_s": 30.0, "end_s": 31.0, "status": "detected, not explained",
        "explained": False, "event": None, "reason": "dropped: the VLM was behind", "clip": None, "report": None,
        "keyframes": []}) + "\n")
    return folder


class FetchCounter:
    """A local web server that counts what is fetched from it: where a page would leak to."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.paths: list[str] = []
        paths = self.paths

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                paths.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def injected(url: str) -> str:
    """Text a video could hold and a model copy into its answer: Markdown and HTML that fetch from `url`."""
    return f'a sign reads ![x]({url}/markdown-image) <img src="{url}/html-image"> [docs]({url}/link)'


@pytest.fixture()
def leak():
    counter = FetchCounter()
    yield counter
    counter.server.shutdown()


@pytest.fixture()
def ui_server(tmp_path, tiny_vlm, leak):
    port = free_port()
    log = (tmp_path / "ui.log").open("w")
    live = watch_folder(tmp_path / "live", what=injected(leak.url))
    batch = tmp_path / "batch"  # a batch's events list, whose report (the sample's) the test puts there once explained
    batch.mkdir()
    (batch / "events.jsonl").write_text(json.dumps({
        "source": str(sample_clip()), "report": str(batch / "sample" / "report.json"), "id": "e2", "start_s": 22.9,
        "end_s": 28.9, "category": "motion", "label": "a walker going the wrong way", "severity": 2,
        "verdict": "confirmed", "confidence": 0.7, "what": "a walker goes against the others"}) + "\n")
    process = subprocess.Popen([VADAGENT, "ui", "--vlm", f"hf:{tiny_vlm('qwen2_5_vl')}", "--port", str(port),
                                "--workdir", str(tmp_path / "work"), "--live", str(live), "--reports", str(batch)],
                               stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}/"
    wait_until_up(process, url, "vadagent ui", tmp_path / "ui.log")
    yield url, tmp_path
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_ui_opens_the_sample_shows_events_and_answers(ui_server, leak):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        url, tmp_path = ui_server
        page.goto(url)
        page.get_by_role("tab", name="Reports").click()
        page.locator("#open-sample").click()
        expect(page.locator("#status")).to_contain_text("sample.mp4", timeout=240_000)
        expect(page.locator("#events")).to_contain_text("e1", timeout=30_000)
        expect(page.locator("#timeline img")).to_be_visible()
        answers = page.locator("#chat [data-testid='bot']")
        page.locator("#question textarea").fill("what happened at 17 s?")
        page.locator("#ask").click()
        expect(page.locator("#chat [data-testid='user']")).to_have_count(1, timeout=30_000)
        expect(answers).to_have_count(1, timeout=30_000)  # a placeholder at once, then the streamed answer
        expect(answers.nth(0)).not_to_contain_text("…", timeout=120_000)
        assert answers.nth(0).inner_text().strip()
        page.locator("#question textarea").fill("what happened at 90 s?")
        page.locator("#ask").click()
        expect(answers).to_have_count(2, timeout=60_000)
        expect(answers.nth(1)).to_contain_text("outside it")
        page.locator("#events").get_by_text("e1", exact=True).filter(visible=True).first.click()  # seeks the player
        # e1 is the fast object (17 s in the clip); its segment may open a little before the peak
        page.wait_for_function("(() => { const t = document.querySelector('#player video').currentTime;"
                               " return t >= 13 && t <= 18; })()", timeout=10_000)

        # a batch's event opens its report there (the sample's, copied into the batch as its report)
        report = next((tmp_path / "work").rglob("report.json")).parent
        shutil.copytree(report, tmp_path / "batch" / "sample")
        page.locator("#batch-events").get_by_text("a walker going the wrong way", exact=True).filter(visible=True).first.click()
        expect(page.locator("#status")).to_contain_text("e2, a walker going the wrong way, at 22.9", timeout=30_000)
        page.wait_for_function("(() => { const t = document.querySelector('#player video').currentTime;"
                               " return Math.abs(t - 22.9) < 0.5; })()", timeout=10_000)

        # the live page: an event picked shows its keyframes, and chat answers about its report
        shutil.copytree(report, tmp_path / "live" / "reports" / "lobby-1")
        copied = tmp_path / "live" / "reports" / "lobby-1" / "report.json"
        data = json.loads(copied.read_text())
        data["events"][0]["what"] = injected(leak.url)  # as if the model had copied a sign's text
        copied.write_text(json.dumps(data))
        page.get_by_role("tab", name="Live").click()
        expect(page.locator("#live-cameras")).to_contain_text("lobby", timeout=30_000)
        expect(page.locator("#live-events")).to_contain_text("lobby-2", timeout=30_000)
        page.locator("#live-events").get_by_text("lobby-1", exact=True).filter(visible=True).first.click()  # second row
        expect(page.locator("#live-keyframes img")).to_have_count(2, timeout=30_000)
        live_answers = page.locator("#live-chat [data-testid='bot']")
        page.locator("#live-question textarea").fill("/events")
        page.locator("#live-ask").click()
        expect(live_answers).to_have_count(1, timeout=60_000)
        expect(live_answers.nth(0)).to_contain_text("e1", timeout=60_000)
        # text from a video is shown as text: nothing in it is fetched, by the table or by the chat
        expect(live_answers.nth(0)).to_contain_text("![x](", timeout=10_000)
        expect(page.locator("#live-events")).to_contain_text("a sign reads")
        page.wait_for_timeout(1_000)
        assert page.locator("#live-events img, #live-chat img").count() == 0
        assert leak.paths == []
        browser.close()


def test_uploads_are_type_and_size_checked(tmp_path, synthetic_normal):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(UsageError, match="not a video file type"):
        check_upload(text, 10)
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is text, renamed")
    with pytest.raises(VideoError):
        check_upload(fake, 10)
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (2 * 1024 * 1024))
    with pytest.raises(UsageError, match="1 MB upload limit"):
        check_upload(big, 1)
    check_upload(synthetic_normal, 10)


def test_reports_are_found_from_a_batch_index_or_folders(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "report.json").write_text("{}")
    assert find_reports(tmp_path) == {"a": str(tmp_path / "a")}
    (tmp_path / "index.json").write_text('[{"source": "/v/clip.mp4", "status": "explained", "events": 2, '
                                         f'"report": "{tmp_path}/a/report.json"}}, {{"source": "/v/bad.mp4", '
                                         '"status": "failed", "events": null, "report": null}]')
    assert find_reports(tmp_path) == {"clip.mp4 (2 events)": str(tmp_path / "a")}
    # two cameras' files of the same name: told apart by their report folders
    (tmp_path / "index.json").write_text(json.dumps([
        {"source": f"/v/{cam}/0101.mp4", "status": "explained", "events": 1, "report": f"/out/0101_mp4_{cam}/report.json"}
        for cam in ("cam1", "cam2")]))
    assert find_reports(tmp_path) == {f"0101_mp4_{cam} (1 events)": str(tmp_path / f"0101_mp4_{cam}") for cam in ("cam1", "cam2")}


def test_a_corrupt_index_and_a_busy_port_are_one_line_errors(tmp_path):
    import socket

    from vadagent.app.ui import check_port

    (tmp_path / "index.json").write_text('{"not": "a list"')
    with pytest.raises(UsageError, match="index.json: not a batch index"):
        find_reports(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(UsageError, match="pass another --port"):
            check_port("127.0.0.1", busy.getsockname()[1])


def test_uploads_are_keyed_by_content_not_by_name(tmp_path, synthetic_normal):
    from vadagent.app.ui import content_id

    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.mp4"
    shutil.copy(synthetic_normal, first)
    shutil.copy(sample_clip(), second)
    assert content_id(first) != content_id(second) and content_id(first) == content_id(synthetic_normal)


def test_the_latest_events_are_read_from_the_end_of_the_file(tmp_path):
    from vadagent.app.ui_live import tail_lines

    path = tmp_path / "events.jsonl"
    path.write_text("".join(f'{{"id": "cam-{i}", "what": "é{i}"}}\n' for i in range(1000)) + '{"id": "cam-10', encoding="utf-8")
    for block in (7, 100, 1 << 16):  # blocks cut lines, and characters, anywhere
        assert tail_lines(path, 3, block) == ['{"id": "cam-998", "what": "é998"}', '{"id": "cam-999", "what": "é999"}',
                                              '{"id": "cam-10']
        assert len(tail_lines(path, 5000, block)) == 1001
    (tmp_path / "empty.jsonl").write_text("")
    assert tail_lines(tmp_path / "empty.jsonl", 3) == []


def test_the_live_page_builds_over_a_watch_folder_and_says_when_the_watch_stopped(tmp_path):
    import json
    import time

    from vadagent.app.ui import App, UIOptions, build_ui
    from vadagent.app.ui_live import read_cameras, read_events
    from vadagent.config import Settings

    (tmp_path / "cameras.json").write_text(json.dumps({"updated_at": time.time() - 60, "cameras": [
        {"name": "lobby", "source": "rtsp://x", "score": 5.0, "threshold": 4.0, "time_s": 12.5, "frames": 300,
         "alive": True, "interruptions": 1, "damaged_packets": 2, "picture": "rain"}]}))
    (tmp_path / "events.jsonl").write_text('{"id": "lobby-1"}\n{"id": "lobby-2"}\n{"id": "lob')  # a line being written
    rows, state = read_cameras(tmp_path, time.time())
    assert rows == [["lobby", 5.0, 4.0, True, 12.5, 300, 1, 2, "live", "rain"]] and "the watch has stopped" in state
    assert [r["id"] for r in read_events(tmp_path)] == ["lobby-2", "lobby-1"]
    assert read_cameras(tmp_path / "nowhere", time.time()) == ([], f"No `vadagent watch -o {tmp_path / 'nowhere'}` "
                                                                   "has written here yet.")
    demo = build_ui(App(Settings(), UIOptions(None, None, live=tmp_path), None))
    assert "Live" in json.dumps(demo.config, default=str)


def test_an_upload_whose_explaining_was_stopped_is_explained_again(tmp_path, synthetic_normal):
    from vadagent.agents.explain.run import IN_PROGRESS_NOTE
    from vadagent.app.job import ClientLoad
    from vadagent.app.ui import App, UIOptions
    from vadagent.config import Settings

    app = App(Settings(), UIOptions(reports=None, vlm=None, workdir=tmp_path / "work"), ClientLoad(client=None))
    told = []  # what the page's bar shows while an upload is fitted on and scored
    folder = Path(app.explain(synthetic_normal, lambda *args: told.append(args)))
    scoring = [(done, total) for stage, done, total in told if stage == "scoring"]
    assert {stage for stage, _, _ in told} > {"scoring"} and scoring[-1][0] == scoring[-1][1] == 500
    report = folder / "report.json"
    assert app.explain(synthetic_normal) == str(folder)  # done once: reused
    explained_at = report.stat().st_mtime_ns
    data = json.loads(report.read_text())  # as a UI stopped after detection, before the model answered, leaves it
    report.write_text(json.dumps(data | {"notes": [*data["notes"], IN_PROGRESS_NOTE]}))
    assert app.explain(synthetic_normal) == str(folder)
    assert IN_PROGRESS_NOTE not in json.loads(report.read_text())["notes"] and report.stat().st_mtime_ns != explained_at


def test_a_click_on_an_event_or_a_moment_seeks_to_its_start():
    """Either table's row, whichever cell was clicked (the player's seek is checked in the browser above)."""
    import pandas as pd

    events = pd.DataFrame([["e1", 16.8, 19.3, "other", "fast object", 2, "confirmed", "middle left"]], columns=EVENT_COLUMNS)
    moments = [[17.0, 19.3, 27.3, "middle left", "above threshold", "detected", "no VLM was asked"],
               [22.7, 28.2, 7.98, "middle right", "above threshold", "detected", "no VLM was asked"]]
    assert row_start(events, (0, 4), EVENT_COLUMNS) == 16.8
    assert row_start(moments, (1, 5), MOMENT_COLUMNS) == 22.7 and row_start(moments, 0, MOMENT_COLUMNS) == 17.0


def test_a_batch_s_events_are_listed_and_a_click_opens_the_report_it_names_inside_the_batch(tmp_path):
    """The batch's events.jsonl as the table's rows, in its order; a click opens that event's report folder, never a
    folder outside the batch; a line that is not a batch's event is a one-line error."""
    import pandas as pd

    assert batch_event_rows(tmp_path) == []  # no batch here
    for name in ("cam1_0101", "cam2_0101"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text("{}")
    events = [{"source": f"/v/{cam}/0101.mp4", "report": f"/elsewhere/{cam}_0101/report.json", "id": "e2", "start_s": 12.34,
               "end_s": 15.0, "category": "violence", "label": "a fight", "severity": sev, "verdict": "confirmed",
               "confidence": 0.8, "what": "two people fight"} for cam, sev in (("cam2", 4), ("cam1", 3))]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    rows = batch_event_rows(tmp_path)
    assert [r[0] for r in rows] == [4, 3] and rows[0][3] == "0101.mp4" and rows[0][4] == 12.3
    folder, start, what = batch_event_report(pd.DataFrame(rows), (1, 2), tmp_path)  # whichever cell of the second row
    assert folder == str(tmp_path / "cam1_0101") and start == 12.3 and what == "e2, a fight, at 12.3–15.0 s"
    outside = [[*rows[0][:-1], "../cam1_0101"]]
    with pytest.raises(UsageError, match="no such report in"):
        batch_event_report(outside, 0, tmp_path)
    (tmp_path / "events.jsonl").write_text(json.dumps({"source": "a.mp4"}) + "\n")
    with pytest.raises(UsageError, match="events.jsonl: line 1: not an event of a batch"):
        batch_event_rows(tmp_path)
