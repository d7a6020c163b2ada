"""`vadagent report --ray local`: a real local Ray instance (no mock) scores the videos, the driver
explains and writes; the reports equal the single-machine batch's, a worker killed mid-video is
retried, and a corrupt video fails alone."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vadagent.samples import sample_clip

pytest.importorskip("ray")
VADAGENT = str(Path(sys.executable).with_name("vadagent"))
JUDGED = {"category": "motion", "label": "fast object", "what": "an object moves fast", "cause": "unknown cause",
          "effect": "people look", "severity": 2, "severity_rationale": "nobody is hurt", "confidence": 0.7,
          "evidence_frames": [2, 3], "matched_rules": []}


def command(folder: Path, out: Path, judge: Path, *extra: str) -> list[str]:
    return [VADAGENT, "report", str(folder), "-o", str(out), "--vlm", f"replay:{judge}", "--normal",
            f"{sample_clip()}#t=0,15", *extra]


def report(folder: Path, out: Path, judge: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(folder, out, judge, *extra), capture_output=True, text=True, timeout=600, env=ENV)


ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}


def kill_a_scoring_worker(process: subprocess.Popen, timeout_s: float = 120) -> int | None:
    """The PID of a Ray worker caught scoring a video (its title is `ray::` and the task's function,
    `detect_apart`), killed; None if the batch ended first."""
    from vadagent.app.detecting import detect_apart

    title = f"ray::{detect_apart.__name__}".encode()
    started = time.monotonic()
    while process.poll() is None and time.monotonic() - started < timeout_s:
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if cmdline.read_bytes().startswith(title):
                    pid = int(cmdline.parent.name)
                    os.kill(pid, signal.SIGKILL)
                    return pid
            except (OSError, ValueError):
                continue  # the process ended meanwhile
        time.sleep(0.05)
    return None


def comparable(path: Path) -> dict:
    data = json.loads(path.read_text())
    for volatile in ("created_at", "timings_s"):
        data.pop(volatile)
    return data


@pytest.mark.slow  # ≈60 s of Ray start-up and a worker killed mid-run: `pytest -m slow tests/test_cluster.py`
def test_a_ray_batch_equals_the_single_machine_batch(tmp_path, shared_data):
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(sample_clip(), videos / "sample.mp4")
    shutil.copy(shared_data / "clips" / "car_accident.mp4", videos / "car_accident.mp4")
    shutil.copy(sample_clip(), videos / "again.mp4")
    shutil.copy(shared_data / "clips" / "car_accident.mp4", videos / "crash.mp4")
    (videos / "broken.mp4").write_text("a text file, renamed\n" * 50)
    judge = tmp_path / "judge.jsonl"
    judge.write_text("".join(json.dumps({"text": json.dumps(JUDGED)}) + "\n" for _ in range(60)))

    alone = report(videos, tmp_path / "alone", judge)
    process = subprocess.Popen(command(videos, tmp_path / "ray", judge, "--ray", "local", "--workers", "2"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    killed = kill_a_scoring_worker(process)
    _, stderr = process.communicate(timeout=600)
    assert killed is not None, "no scoring worker was seen"
    assert process.returncode == alone.returncode == 1, stderr  # the corrupt video fails alone, the killed one is redone
    assert "scoring on a local Ray instance: 2 CPU(s)" in stderr and "Traceback" not in stderr
    good = ("sample", "car_accident", "again", "crash")
    for name in good:
        assert comparable(tmp_path / "ray" / name / "report.json") == comparable(tmp_path / "alone" / name / "report.json")
    rows = {Path(r["source"]).name: r for r in json.loads((tmp_path / "ray" / "index.json").read_text())}
    assert rows["broken.mp4"]["status"] == "failed" and "not a readable video" in rows["broken.mp4"]["error"]
    assert all(rows[f"{n}.mp4"]["status"] == "explained" for n in good)
    # the driver's index is the batch's: a rerun (here without the cluster, to save its start-up) redoes nothing finished
    rerun = report(videos, tmp_path / "ray", judge)
    assert "4 already done, 1 to explain" in rerun.stderr
