"""The `vadagent` command: the installed one as a user runs it, and its entry point in-process
(the same parsing, settings, errors and exit codes, without seconds of start-up per call)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from inprocess import invoke

from vadagent.devices import gpu_device_nodes

VADAGENT = [str(Path(sys.executable).with_name("vadagent"))]
REPO = Path(__file__).resolve().parents[1]


def run_installed(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(VADAGENT + list(args), capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def run(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    """In-process unless the call needs its own working directory or environment."""
    return invoke(*args) if cwd is None and env is None else run_installed(*args, cwd=cwd, env=env)


def test_info_real_clip_and_frame_folder(robbery, ped2):
    result = run_installed("info", str(robbery), "--json")
    assert result.returncode == 0, result.stderr
    meta = json.loads(result.stdout)
    assert meta["frame_count"] == 2730 and abs(meta["fps"] - 27.0) < 1e-3
    result = run("info", str(ped2 / "testing" / "frames" / "01"))
    assert result.returncode == 0 and "180" in result.stdout and "360×240" in result.stdout


@pytest.mark.parametrize("name, content", [
    ("missing.mp4", None), ("empty.mp4", b""), ("notes.mp4", b"a text file, renamed\n" * 20),
])
def test_info_bad_input_exits_2_with_one_line_naming_the_file(tmp_path, name, content):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = run("info", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and lines[0].startswith("error:")


def test_info_truncated_mp4_exits_2(tmp_path, synthetic_normal):
    path = tmp_path / "truncated.mp4"
    path.write_bytes(synthetic_normal.read_bytes()[:40_000])
    result = run("info", str(path))
    assert result.returncode == 2 and str(path) in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_schema_lists_and_prints():
    listed = run("schema")
    assert listed.returncode == 0 and "AnomalyEvent" in listed.stdout.split()
    printed = run("schema", "AnomalyEvent")
    assert json.loads(printed.stdout)["properties"]["severity"]
    unknown = run("schema", "Nope")
    assert unknown.returncode == 2 and "valid names" in unknown.stderr


@pytest.mark.parametrize("command", [["chat"], ["rules", "induce"], ["rules", "test", "x.yaml"]])
def test_commands_missing_arguments_exit_2_with_usage(command):
    result = run(*command)
    assert result.returncode == 2
    assert "Missing argument" in result.stderr and result.stdout == ""


def test_usage_error_exits_2():
    assert run("info").returncode == 2
    assert run("no-such-command").returncode == 2


def test_malformed_config_is_a_usage_error(tmp_path, synthetic_normal):
    bad = tmp_path / "bad.yaml"
    bad.write_text("video:\n  folder_fps: [oops\n")
    result = run("--config", str(bad), "info", str(synthetic_normal))
    assert result.returncode == 2 and "line" in result.stderr and str(bad) in result.stderr
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("video:\n  folder_fsp: 10\n")
    result = run("--config", str(unknown), "info", str(tmp_path))
    assert result.returncode == 2 and "folder_fsp" in result.stderr


@pytest.mark.skipif(sys.platform != "linux" or gpu_device_nodes(), reason="where a GPU may be present, torch is asked")
def test_no_command_imports_torch_or_transformers_before_a_model_is_there_to_load():
    """Importing them takes 5 to 10 s, which every command paid before a model was even looked for."""
    loaded = "print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    command = ("import sys\nfrom vadagent.app.cli import main\nsys.argv = ['vadagent', 'info', sys.argv[1]]\n"
               f"try:\n    main()\nfinally:\n    {loaded}")
    # what `explain` sets up before scoring: the device, the model (missing), the optional detector
    job = ("import sys\nfrom rich.console import Console\nfrom vadagent.app.job import Job\n"
           "from vadagent.config import load_settings\n"
           "job = Job.build(load_settings(None), Console(), vlm='hf:/no/such/model')\n"
           f"assert job.client is None and job.device == 'cpu'\n{loaded}")
    for probe in (command, job):
        result = subprocess.run([sys.executable, "-c", probe, str(REPO / "core" / "assets" / "sample.mp4")],
                                capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        assert result.stdout.splitlines()[-1] == "[]", (result.stdout[-500:], result.stderr[-2000:])


def test_scoring_processes_start_without_the_agents_graph():
    """A batch's scoring processes, a cluster's workers and a watch's camera processes import what their
    work needs (`app.detecting`, `app.camera_processes`): the graph's imports cost about a second of CPU in each."""
    probe = ("import sys\nimport vadagent.app.camera_processes, vadagent.app.detecting\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in {'langgraph', 'langchain_core'}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "[]", (result.stdout[-500:], result.stderr[-2000:])
