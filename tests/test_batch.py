"""`vadagent report FOLDER`: resumable after a kill, never losing or redoing finished videos."""

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from vadagent.tools.synthetic import ClipSpec, render_clip
from vadagent.types import VideoReport

VADAGENT = str(Path(sys.executable).with_name("vadagent"))


def done_count(index: Path) -> int:
    if not index.exists():
        return 0
    try:
        with sqlite3.connect(index) as db:
            return db.execute("select count(*) from videos where status = 'done'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_killed_batch_resumes_without_redoing_finished_videos(tmp_path, tiny_vlm, synthetic_normal):
    folder = tmp_path / "videos"
    folder.mkdir()
    for i in range(3):
        render_clip(ClipSpec(seconds=8, seed=10 + i, anomalies=[("fast", 3.0)]), folder / f"clip{i}.mp4")
    (folder / "broken.mp4").write_bytes(b"not a video at all")
    out = tmp_path / "out"
    command = [VADAGENT, "report", str(folder), "-o", str(out), "--normal", str(synthetic_normal),
               "--vlm", f"hf:{tiny_vlm('qwen2_5_vl')}"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while done_count(out / "index.sqlite") < 1 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    finished = sorted(p.parent.name for p in out.glob("*/report.json"))
    assert len(finished) >= 1
    stamps = {name: (out / name / "report.json").stat().st_mtime_ns for name in finished}

    second = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert second.returncode == 1  # broken.mp4 failed, alone
    assert f"{len(finished)} already done" in second.stderr.replace("\n", " ")
    for name, stamp in stamps.items():  # finished work was neither lost nor redone
        assert (out / name / "report.json").stat().st_mtime_ns == stamp
    rows = {Path(r["source"]).name: r for r in json.loads((out / "index.json").read_text())}
    assert [rows[f"clip{i}.mp4"]["status"] for i in range(3)] == ["done"] * 3
    assert rows["broken.mp4"]["status"] == "failed" and "not a readable video" in rows["broken.mp4"]["error"]
    for i in range(3):
        VideoReport.model_validate_json((out / f"clip{i}" / "report.json").read_text())
        assert (out / f"clip{i}" / "report.html").is_file()
    assert not list(out.glob(".*.partial"))
    index_html = (out / "index.html").read_text()
    assert index_html.count('href="clip') == 3 and "broken.mp4" in index_html and 'class="failed"' in index_html
