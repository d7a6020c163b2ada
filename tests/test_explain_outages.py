"""A model outage must never read as "no anomalies": `vadagent explain` against servers that refuse,
answer garbage and hang (real local servers, started and stopped here), and a model that cannot load."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from inprocess import invoke
from servers import FaultServer, free_port

from vadagent.app.ui import MOMENT_COLUMNS, unexplained_moments
from vadagent.types import VideoReport

VADAGENT = str(Path(sys.executable).with_name("vadagent"))
FAST = {"VADAGENT_VLM__MAX_RETRIES": "1", "VADAGENT_VLM__TIMEOUT_S": "2"}


@pytest.fixture()
def clip(synthetic_anomalous) -> Path:
    """16 s with three anomalies: candidates for the model that fails (the bundled sample lasts 36 s)."""
    return synthetic_anomalous[0]


def explain(clip: Path, out: Path, vlm: str, **env: str) -> subprocess.CompletedProcess:
    return invoke("explain", clip, "--vlm", vlm, "-o", out, env={**FAST, **env})


@pytest.mark.parametrize("behaviour", ["refuse", "garbage"])
def test_a_failed_model_leaves_every_candidate_detected_not_explained_and_exits_3(tmp_path, clip, behaviour):
    server = None if behaviour == "refuse" else FaultServer(behaviour)
    url = f"http://127.0.0.1:{free_port()}/v1" if server is None else server.url
    try:
        result = explain(clip, tmp_path / "out", f"vllm:m@{url}")
    finally:
        if server is not None:
            server.close()
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    said = " ".join(result.stderr.split())
    assert "The VLM failed for" in said and ("cannot connect" if behaviour == "refuse" else "malformed answer") in said
    report = VideoReport.model_validate_json((tmp_path / "out" / "report.json").read_text())
    assert not report.explained and not report.events and report.scorer.candidates
    assert [c.status for c in report.contexts] == ["failed"] * len(report.scorer.candidates)
    assert all(c.reason for c in report.contexts)
    assert "Not explained:" in (tmp_path / "out" / "report.html").read_text()
    moments = unexplained_moments(report)  # the web UI lists them too, with where each one's peak lies
    status, why, where = (MOMENT_COLUMNS.index(name) for name in ("status", "why not explained", "where"))
    assert len(moments) == len(report.scorer.candidates) and all(row[status] == "failed" and row[why] for row in moments)
    assert [row[where].partition(": ")[0] for row in moments] == [c.region.part for c in report.scorer.candidates]


def test_a_hung_server_is_bounded_by_the_video_deadline_and_the_detection_report_comes_first(tmp_path, clip):
    server = FaultServer("hang")
    out = tmp_path / "out"
    command = [VADAGENT, "explain", str(clip), "--vlm", f"vllm:m@{server.url}", "-o", str(out)]
    env = {**os.environ, "VADAGENT_VLM__TIMEOUT_S": "120", "VADAGENT_VLM__VIDEO_DEADLINE_S": "6"}
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    while server.requests == 0 and process.poll() is None and time.monotonic() - started < 120:
        time.sleep(0.05)
    assert server.requests >= 1, "the model was never asked"
    # the model hangs: the detection report is already on disk
    early = VideoReport.model_validate_json((out / "report.json").read_text())
    assert not early.explained and early.scorer.candidates
    second = explain(clip, out, "hf:/no/such/folder")  # a second run into the same folder meanwhile: refused at once
    assert second.returncode == 2 and "another vadagent run is writing there" in " ".join(second.stderr.split())
    _, stderr = process.communicate(timeout=120)
    server.close()
    assert process.returncode == 3, stderr
    assert time.monotonic() - started < 60  # not 120 s per request × retries
    report = VideoReport.model_validate_json((out / "report.json").read_text())
    assert not report.explained and all("deadline" in c.reason for c in report.contexts)
    assert "timed out" in " ".join(stderr.split())


def test_a_model_that_cannot_load_is_no_vlm_one_line_and_exit_3(tmp_path, clip):  # other specs: test_vlm_local
    spec = "hf:/no/such/folder"
    (tmp_path / "file").write_text("")
    refused = explain(clip, tmp_path / "file", spec)  # -o naming a file: refused before any work
    assert refused.returncode == 2 and "exists and is not a folder" in refused.stderr
    result = explain(clip, tmp_path / "out", spec, HF_HUB_OFFLINE="1")
    assert result.returncode == 3 and "Traceback" not in result.stderr, result.stderr
    assert f"no VLM: {spec}: cannot load the model" in " ".join(result.stderr.split())
    assert (tmp_path / "out" / "report.json").is_file()


def test_ctrl_c_while_the_model_is_asked_ends_explain_at_once_saying_what_is_kept(tmp_path, clip):
    """Before, `explain` waited for the model's answer (asyncio.run waits for its threads) and said
    nothing; the detection-only report it leaves is now named, for chat and the UI to redo."""
    import signal

    from vadagent.agents.explain.run import left_in_progress

    server = FaultServer("hang")
    out = tmp_path / "out"
    command = [VADAGENT, "explain", str(clip), "--vlm", f"vllm:m@{server.url}", "-o", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = time.monotonic()
        while server.requests == 0 and process.poll() is None and time.monotonic() - started < 120:
            time.sleep(0.05)
        assert server.requests >= 1, "the model was never asked"
        pressed = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        server.close()
    assert process.returncode == 130 and time.monotonic() - pressed < 10, stderr
    assert "holds the detection only" in " ".join(stderr.split()) and "Traceback" not in stderr
    assert left_in_progress(VideoReport.model_validate_json((out / "report.json").read_text()))
